#ifndef CLIENT_BENCH_COMMAND_LINE_H_
#define CLIENT_BENCH_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace userbench {

// user_bench spells its flags with dashes, like user_server (--db-primary);
// Abseil's names use underscores. Returns argv with the flag names (not the
// values) rewritten to underscores, up to a bare "--".
std::vector<std::string> NormalizeFlagNames(int argc, char** argv);

// True if `args` (without the program name) ask for help: -h, -help or
// --help before any "--".
bool WantsHelp(absl::Span<const std::string> args);

// Checks `args` (normalized, without the program name) as
// absl::ParseCommandLine would, but returns InvalidArgument naming the
// first unknown flag, missing or unparsable value, or positional argument
// instead of exiting with status 1: user_bench exits with 2 on every usage
// error. Valid flags are assigned, as ParseCommandLine will do again.
absl::Status CheckFlagSyntax(absl::Span<const std::string> args);

}  // namespace userbench

#endif  // CLIENT_BENCH_COMMAND_LINE_H_
