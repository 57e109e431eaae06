#include "server/common/command_line.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace userservice::cli {
namespace {

// The spec's flag called `name` (dashes or underscores), or null.
const absl::CommandLineFlag* FindFlag(const CommandLineSpec& spec,
                                      absl::string_view name) {
  const std::string wanted = absl::StrReplaceAll(name, {{"-", "_"}});
  for (const absl::CommandLineFlag* flag : spec.flags) {
    if (flag->Name() == wanted) return flag;
  }
  return nullptr;
}

// Setting goes through the registry's (mutable) handle of the same flag.
bool SetFlag(const absl::CommandLineFlag& flag, absl::string_view value,
             std::string* error) {
  absl::CommandLineFlag* mutable_flag = absl::FindCommandLineFlag(flag.Name());
  return mutable_flag != nullptr && mutable_flag->ParseFrom(value, error);
}

// Abseil's parse errors do not say what would have been valid.
std::string ExpectedValue(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<absl::Duration>() ||
      flag.IsOfType<std::optional<absl::Duration>>()) {
    return "want a duration such as 500ms, 5s or 1m";
  }
  if (flag.IsOfType<int>() || flag.IsOfType<int64_t>() ||
      flag.IsOfType<std::optional<int32_t>>() ||
      flag.IsOfType<std::optional<int64_t>>()) {
    return "want an integer";
  }
  if (flag.IsOfType<double>()) return "want a number";
  if (flag.IsOfType<bool>()) return "want true or false";
  return "";
}

absl::Status InvalidValue(const absl::CommandLineFlag& flag,
                          absl::string_view where, absl::string_view value,
                          const std::string& error) {
  std::string expected = ExpectedValue(flag);
  if (expected.empty()) expected = error;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value \"", value, "\" for ", where,
                   expected.empty() ? "" : ": ", expected));
}

absl::Status ApplyEnvironment(const CommandLineSpec& spec) {
  if (spec.env_prefix.empty()) return absl::OkStatus();
  for (const absl::CommandLineFlag* flag : spec.flags) {
    const std::string var = EnvVarForFlag(spec.env_prefix, flag->Name());
    const char* value = std::getenv(var.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!SetFlag(*flag, value, &error)) {
      return InvalidValue(*flag, absl::StrCat("environment variable ", var),
                          value, error);
    }
  }
  return absl::OkStatus();
}

// Applies one flag argument (args[i], without a bare "--"); a flag whose
// value is the next argument advances `i`.
absl::Status ApplyFlag(const CommandLineSpec& spec,
                       absl::Span<const std::string> args, size_t& i) {
  absl::string_view body = args[i];
  absl::ConsumePrefix(&body, "-");
  absl::ConsumePrefix(&body, "-");
  absl::string_view name = body;
  std::optional<absl::string_view> value;
  if (const size_t equals = body.find('='); equals != body.npos) {
    name = body.substr(0, equals);
    value = body.substr(equals + 1);
  }
  const std::string dashed = DashedFlagName(name);
  const absl::CommandLineFlag* flag = FindFlag(spec, name);
  if (flag == nullptr) {
    // --noname is Abseil's "false" for a boolean --name.
    absl::string_view positive = name;
    const absl::CommandLineFlag* negated = absl::ConsumePrefix(&positive, "no")
                                               ? FindFlag(spec, positive)
                                               : nullptr;
    if (negated == nullptr || !negated->IsOfType<bool>()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", dashed));
    }
    if (value.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag --", dashed, " does not take a value"));
    }
    std::string error;
    SetFlag(*negated, "false", &error);
    return absl::OkStatus();
  }
  if (!value.has_value()) {
    if (flag->IsOfType<bool>()) {
      value = "true";
    } else if (i + 1 == args.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing value for flag --", dashed));
    } else {
      value = args[++i];
    }
  }
  std::string error;
  if (!SetFlag(*flag, *value, &error)) {
    return InvalidValue(*flag, absl::StrCat("flag --", dashed), *value, error);
  }
  return absl::OkStatus();
}

bool IsFlag(absl::string_view arg) { return arg.size() > 1 && arg[0] == '-'; }

}  // namespace

absl::StatusOr<ParsedCommandLine> ParseCommandLine(
    const CommandLineSpec& spec, absl::Span<const std::string> args) {
  ParsedCommandLine parsed;
  if (WantsHelp(args)) {
    parsed.help = true;
    return parsed;
  }
  if (absl::Status env = ApplyEnvironment(spec); !env.ok()) return env;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (!flags_ended && args[i] == "--") {
      flags_ended = true;
    } else if (!flags_ended && IsFlag(args[i])) {
      if (absl::Status applied = ApplyFlag(spec, args, i); !applied.ok()) {
        return applied;
      }
    } else if (spec.positional_allowed) {
      parsed.positional.push_back(args[i]);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", args[i], "\" (flags only)"));
    }
  }
  return parsed;
}

std::string HelpText(const CommandLineSpec& spec) {
  std::vector<const absl::CommandLineFlag*> flags = spec.flags;
  std::sort(flags.begin(), flags.end(),
            [](auto* a, auto* b) { return a->Name() < b->Name(); });
  std::string text = absl::StrCat(spec.usage, "\nFlags:\n");
  for (const absl::CommandLineFlag* flag : flags) {
    absl::StrAppend(&text, "  --", DashedFlagName(flag->Name()), "\n      ",
                    absl::StrReplaceAll(flag->Help(), {{"\n", "\n      "}}),
                    "\n      ");
    if (!spec.env_prefix.empty()) {
      absl::StrAppend(&text, "env ",
                      EnvVarForFlag(spec.env_prefix, flag->Name()), ", ");
    }
    absl::StrAppend(&text, "default \"", flag->DefaultValue(), "\"\n");
  }
  if (!spec.epilogue.empty()) absl::StrAppend(&text, "\n", spec.epilogue);
  return text;
}

MainCommandLine ParseMainCommandLine(const CommandLineSpec& spec, int argc,
                                     char** argv) {
  MainCommandLine result;
  const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  absl::StatusOr<ParsedCommandLine> parsed = ParseCommandLine(spec, args);
  if (!parsed.ok()) {
    std::cerr << spec.program << ": " << parsed.status().message() << "\n"
              << "Run '"
              << (spec.help_command.empty()
                      ? absl::StrCat(spec.program, " --help")
                      : spec.help_command)
              << "' for usage.\n";
    result.exit_code = kExitUsage;
  } else if (parsed->help) {
    std::cout << HelpText(spec);
    result.exit_code = 0;
  } else {
    result.positional = std::move(parsed->positional);
  }
  return result;
}

std::string EnvVarForFlag(absl::string_view env_prefix,
                          absl::string_view flag_name) {
  return absl::StrCat(env_prefix, absl::AsciiStrToUpper(flag_name));
}

std::string DashedFlagName(absl::string_view name) {
  return absl::StrReplaceAll(name, {{"_", "-"}});
}

bool WantsHelp(absl::Span<const std::string> args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "-h" || arg == "-help" || arg == "--help" ||
        arg == "--helpfull") {
      return true;
    }
  }
  return false;
}

}  // namespace userservice::cli
