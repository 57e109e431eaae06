#ifndef CLIENT_BENCH_FLAGS_H_
#define CLIENT_BENCH_FLAGS_H_

#include "absl/status/statusor.h"
#include "client/bench/bench_config.h"
#include "server/common/command_line.h"

namespace userbench {

// user_bench's command line: every flag in flags.cc, no positional
// arguments, no environment prefix.
const userservice::cli::CommandLineSpec& BenchCommandLine();

// user_bench's flags as a validated config; call after parsing
// BenchCommandLine(). Errors name the flag (exit code 2).
absl::StatusOr<BenchConfig> ConfigFromFlags();

}  // namespace userbench

#endif  // CLIENT_BENCH_FLAGS_H_
