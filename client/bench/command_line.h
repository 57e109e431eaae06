#ifndef CLIENT_BENCH_COMMAND_LINE_H_
#define CLIENT_BENCH_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace userbench {

// Dashed flag names and --help: server/common/flag_names.h.

// Checks `args` (normalized, without the program name) as
// absl::ParseCommandLine would, but returns InvalidArgument naming the
// first unknown flag, missing or unparsable value, or positional argument
// instead of exiting with status 1: user_bench exits with 2 on every usage
// error. Valid flags are assigned, as ParseCommandLine will do again.
absl::Status CheckFlagSyntax(absl::Span<const std::string> args);

}  // namespace userbench

#endif  // CLIENT_BENCH_COMMAND_LINE_H_
