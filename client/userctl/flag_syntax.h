#ifndef CLIENT_USERCTL_FLAG_SYNTAX_H_
#define CLIENT_USERCTL_FLAG_SYNTAX_H_

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace userctl {

// True if `args` (argv without the program name) ask for help with -h,
// -help or --help before any "--". Intercepted before absl sees them
// because absl's own --help lists every linked flag and exits with 1.
bool WantsHelp(absl::Span<const std::string> args);

// Runs absl's flag parsing over `args` (argv without the program name) and
// returns InvalidArgument naming the first unknown flag, missing value or
// unparsable value. absl::ParseCommandLine would report those itself but
// exits with status 1, whereas userctl promises 2 for every usage error.
// Valid flags are assigned as absl::ParseCommandLine will assign them again:
// call it with the same arguments right after.
absl::Status CheckFlagSyntax(absl::Span<const std::string> args);

}  // namespace userctl

#endif  // CLIENT_USERCTL_FLAG_SYNTAX_H_
