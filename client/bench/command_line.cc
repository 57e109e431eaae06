#include "client/bench/command_line.h"

#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "server/common/flag_names.h"

namespace userbench {

using ::userservice::DashedFlagName;

absl::Status CheckFlagSyntax(absl::Span<const std::string> args) {
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument \"", args[i + 1], "\""));
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", arg, "\" (flags only)"));
    }
    absl::ConsumePrefix(&arg, "-");
    absl::ConsumePrefix(&arg, "-");
    absl::string_view name = arg;
    absl::string_view value;
    const size_t equals = arg.find('=');
    const bool has_value = equals != absl::string_view::npos;
    if (has_value) {
      name = arg.substr(0, equals);
      value = arg.substr(equals + 1);
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) {
      // --noname is Abseil's "false" for a boolean --name.
      absl::string_view positive = name;
      if (absl::ConsumePrefix(&positive, "no") && !has_value) {
        absl::CommandLineFlag* bool_flag = absl::FindCommandLineFlag(positive);
        if (bool_flag != nullptr && bool_flag->IsOfType<bool>()) continue;
      }
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", DashedFlagName(name)));
    }
    if (!has_value) {
      if (flag->IsOfType<bool>()) continue;
      if (i + 1 == args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("missing value for flag --", DashedFlagName(name)));
      }
      value = args[++i];
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid value \"", value, "\" for flag --",
                       DashedFlagName(name), ": ", error));
    }
  }
  return absl::OkStatus();
}

}  // namespace userbench
