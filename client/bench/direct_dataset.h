#ifndef CLIENT_BENCH_DIRECT_DATASET_H_
#define CLIENT_BENCH_DIRECT_DATASET_H_

#include <cstdint>
#include <ostream>
#include <vector>

#include "absl/status/statusor.h"
#include "client/bench/bench_config.h"
#include "client/bench/db_session.h"

namespace userbench {

// Makes sure dataset rows 0..config.dataset-1 exist, straight in the
// database: one select finds the rows earlier runs made (through either
// mode), multi-row INSERTs add the missing ones, and every replica is
// waited for until it has applied the primary's position. Returns the ids
// in row order. Progress goes to `log`.
absl::StatusOr<std::vector<uint64_t>> PrepareDirectDataset(
    const BenchConfig& config, const DbLogin& login, std::ostream& log);

}  // namespace userbench

#endif  // CLIENT_BENCH_DIRECT_DATASET_H_
