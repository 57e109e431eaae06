#include "client/userctl/flag_syntax.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace userctl {
namespace {

// absl accepts both -name and --name.
bool IsFlagArg(absl::string_view arg) {
  return arg.size() > 1 && arg[0] == '-';
}

absl::string_view StripDashes(absl::string_view arg) {
  absl::ConsumePrefix(&arg, "-");
  absl::ConsumePrefix(&arg, "-");
  return arg;
}

// absl's own parse errors do not say what would have been valid.
absl::string_view ExpectedValue(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<absl::Duration>() ||
      flag.IsOfType<std::optional<absl::Duration>>()) {
    return ": want a duration such as 500ms, 5s or 1m";
  }
  if (flag.IsOfType<std::optional<int32_t>>() ||
      flag.IsOfType<std::optional<int64_t>>()) {
    return ": want an integer";
  }
  if (flag.IsOfType<bool>()) return ": want true or false";
  return "";
}

}  // namespace

absl::Status CheckFlagSyntax(absl::Span<const std::string> args) {
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") break;
    if (!IsFlagArg(arg)) continue;

    absl::string_view body = StripDashes(arg);
    absl::string_view name = body;
    absl::string_view value;
    const size_t equals = body.find('=');
    const bool has_value = equals != absl::string_view::npos;
    if (has_value) {
      name = body.substr(0, equals);
      value = body.substr(equals + 1);
    }

    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) {
      // --noname is absl's negative form of boolean --name.
      absl::string_view positive = name;
      if (absl::ConsumePrefix(&positive, "no")) {
        absl::CommandLineFlag* bool_flag = absl::FindCommandLineFlag(positive);
        if (bool_flag != nullptr && bool_flag->IsOfType<bool>()) {
          if (has_value) {
            return absl::InvalidArgumentError(
                absl::StrCat("flag --", name, " does not take a value"));
          }
          continue;
        }
      }
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }

    if (!has_value) {
      if (flag->IsOfType<bool>()) continue;
      // absl takes "--name value" for every non-boolean flag.
      if (i + 1 == args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("missing value for flag --", name));
      }
      value = args[++i];
    }

    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid value \"", value,
                                                     "\" for flag --", name,
                                                     ExpectedValue(*flag)));
    }
  }
  return absl::OkStatus();
}

}  // namespace userctl
