#ifndef CLIENT_BENCH_REQUESTS_H_
#define CLIENT_BENCH_REQUESTS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "client/bench/bench_config.h"
#include "grpcpp/support/status.h"
#include "userservice/v1/user_service.pb.h"

namespace userbench {

// The ReadOptions of a benchmark read. `token` (a write's consistency
// token) is sent with session consistency only, when not empty.
void SetReadOptions(const ReadConsistency& consistency,
                    const std::string& token,
                    userservice::v1::ReadOptions* options);

// "NOT_FOUND", "DEADLINE_EXCEEDED", ...: the canonical name, as errors are
// reported by both modes.
std::string StatusCodeName(grpc::StatusCode code);

}  // namespace userbench

#endif  // CLIENT_BENCH_REQUESTS_H_
