#include "server/app/flag_sources.h"

#include <algorithm>
#include <cstdlib>

#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/common/flag_names.h"

namespace userservice {
namespace {

std::vector<absl::CommandLineFlag*> FlagsOf(absl::string_view defining_file) {
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), defining_file)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](auto* a, auto* b) { return a->Name() < b->Name(); });
  return flags;
}

}  // namespace

std::string EnvVarForFlag(absl::string_view env_prefix,
                          absl::string_view flag_name) {
  return absl::StrCat(env_prefix, absl::AsciiStrToUpper(flag_name));
}

absl::Status ApplyEnvironment(absl::string_view defining_file,
                              absl::string_view env_prefix) {
  for (absl::CommandLineFlag* flag : FlagsOf(defining_file)) {
    const std::string var = EnvVarForFlag(env_prefix, flag->Name());
    const char* value = std::getenv(var.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable ", var, ": ", error));
    }
  }
  return absl::OkStatus();
}

std::string HelpText(absl::string_view program, absl::string_view summary,
                     absl::string_view defining_file,
                     absl::string_view env_prefix) {
  std::string text = absl::StrCat("Usage: ", program, " [--flag=value ...]\n\n",
                                  summary, "\n\nFlags:\n");
  for (absl::CommandLineFlag* flag : FlagsOf(defining_file)) {
    absl::StrAppend(&text, "  --", DashedFlagName(flag->Name()), "\n      ",
                    absl::StrReplaceAll(flag->Help(), {{"\n", "\n      "}}),
                    "\n      env ", EnvVarForFlag(env_prefix, flag->Name()),
                    ", default \"", flag->DefaultValue(), "\"\n");
  }
  return text;
}

}  // namespace userservice
