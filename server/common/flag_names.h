#ifndef USERSERVICE_SERVER_COMMON_FLAG_NAMES_H_
#define USERSERVICE_SERVER_COMMON_FLAG_NAMES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace userservice {

// The project's programs spell flags with dashes (--db-primary); Abseil's
// names use underscores. Returns argv with the flag names (not the values)
// rewritten to underscores, up to a bare "--".
std::vector<std::string> NormalizeFlagNames(int argc, char** argv);

// An Abseil flag name as users type it: underscores become dashes.
std::string DashedFlagName(absl::string_view name);

// True if `args` (argv without the program name) ask for help with -h,
// -help or --help before any "--". Intercepted before Abseil sees them,
// because Abseil's own --help lists every linked flag and exits with 1.
bool WantsHelp(absl::Span<const std::string> args);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_COMMON_FLAG_NAMES_H_
