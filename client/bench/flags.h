#ifndef CLIENT_BENCH_FLAGS_H_
#define CLIENT_BENCH_FLAGS_H_

#include "absl/status/statusor.h"
#include "client/bench/bench_config.h"

namespace userbench {

// user_bench's flags as a validated config; call after
// absl::ParseCommandLine. Errors name the flag (exit code 2).
absl::StatusOr<BenchConfig> ConfigFromFlags();

}  // namespace userbench

#endif  // CLIENT_BENCH_FLAGS_H_
