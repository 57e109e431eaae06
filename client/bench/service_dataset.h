#ifndef CLIENT_BENCH_SERVICE_DATASET_H_
#define CLIENT_BENCH_SERVICE_DATASET_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/bench/bench_config.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userbench {

// Makes sure dataset rows 0..config.dataset-1 exist, through the service:
// each row is looked up by username on the primary, and the missing ones
// are created with CreateUser. Rows created now are then read back until
// replicas serve them, so the measured reads do not find them missing.
// Returns the ids in row order. Progress goes to `log`.
absl::StatusOr<std::vector<uint64_t>> PrepareServiceDataset(
    const BenchConfig& config,
    const std::vector<std::unique_ptr<userservice::v1::UserService::Stub>>&
        stubs,
    std::ostream& log);

// Creates one user of the run's own (a write name, never a dataset row) and
// returns the write's consistency token. Session reads start with it, so
// that they take the server's session path with a token even in a run
// without writes, where they would otherwise behave as eventual reads.
absl::StatusOr<std::string> SessionSeedToken(
    const BenchConfig& config, userservice::v1::UserService::Stub& stub);

}  // namespace userbench

#endif  // CLIENT_BENCH_SERVICE_DATASET_H_
