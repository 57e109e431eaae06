#ifndef CLIENT_USERCTL_FLAG_SYNTAX_H_
#define CLIENT_USERCTL_FLAG_SYNTAX_H_

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace userctl {

// WantsHelp (-h, -help, --help): server/common/flag_names.h.

// Runs absl's flag parsing over `args` (argv without the program name) and
// returns InvalidArgument naming the first unknown flag, missing value or
// unparsable value. absl::ParseCommandLine would report those itself but
// exits with status 1, whereas userctl promises 2 for every usage error.
// Valid flags are assigned as absl::ParseCommandLine will assign them again:
// call it with the same arguments right after.
absl::Status CheckFlagSyntax(absl::Span<const std::string> args);

}  // namespace userctl

#endif  // CLIENT_USERCTL_FLAG_SYNTAX_H_
