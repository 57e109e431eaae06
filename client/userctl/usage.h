#ifndef CLIENT_USERCTL_USAGE_H_
#define CLIENT_USERCTL_USAGE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace userctl {

// The one-line synopsis of `command` (e.g. "delete ID [--expected-version
// V]"), or "" for an unknown command. Usage errors quote it, and UsageText()
// is built from the same lines, so the two cannot disagree.
absl::string_view CommandSynopsis(absl::string_view command);

// What the help prints before the flags: usage line and commands.
std::string UsageIntro();

// What the help prints after the flags: output formats, exit codes and
// examples.
std::string UsageEpilogue();

// The full help text (`userctl help`, --help): UsageIntro(), every flag of
// UserctlCommandLine() with its help and default, UsageEpilogue().
std::string UsageText();

}  // namespace userctl

#endif  // CLIENT_USERCTL_USAGE_H_
