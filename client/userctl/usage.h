#ifndef CLIENT_USERCTL_USAGE_H_
#define CLIENT_USERCTL_USAGE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace userctl {

// The one-line synopsis of `command` (e.g. "delete ID [--expected_version
// V]"), or "" for an unknown command. Usage errors quote it, and UsageText()
// is built from the same lines, so the two cannot disagree.
absl::string_view CommandSynopsis(absl::string_view command);

// The full help text: commands, flags, output formats and exit codes.
std::string UsageText();

}  // namespace userctl

#endif  // CLIENT_USERCTL_USAGE_H_
