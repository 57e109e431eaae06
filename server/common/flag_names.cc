#include "server/common/flag_names.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"

namespace userservice {

std::vector<std::string> NormalizeFlagNames(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& arg = args[i];
    if (arg == "--") break;
    if (!absl::StartsWith(arg, "-")) continue;
    const size_t start = absl::StartsWith(arg, "--") ? 2 : 1;
    const size_t end = std::min(arg.find('='), arg.size());
    std::replace(arg.begin() + start, arg.begin() + end, '-', '_');
  }
  return args;
}

std::string DashedFlagName(absl::string_view name) {
  return absl::StrReplaceAll(name, {{"_", "-"}});
}

bool WantsHelp(absl::Span<const std::string> args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "-h" || arg == "-help" || arg == "--help") return true;
  }
  return false;
}

}  // namespace userservice
