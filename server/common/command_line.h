#ifndef USERSERVICE_SERVER_COMMON_COMMAND_LINE_H_
#define USERSERVICE_SERVER_COMMON_COMMAND_LINE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

// The command line of every program of the project (user_server, userctl,
// user_bench), on top of Abseil flags:
//  * A program lists its flags explicitly (a CommandLineSpec). Only those
//    are accepted, listed by --help and read from the environment, wherever
//    they are defined: moving an ABSL_FLAG to another file changes nothing.
//  * Flags are spelled with dashes (--db-name); Abseil's underscore names
//    (--db_name) are accepted too.
//  * With an environment prefix, every flag can also come from PREFIX plus
//    the name in upper case (USER_SERVICE_DB_NAME). The command line wins.
//  * -h, -help, --help and --helpfull ask for help; every usage mistake
//    (unknown flag, missing or unparsable value, stray argument) is
//    reported, never half-applied silently, and exits with kExitUsage.
//
// Abseil's own absl::ParseCommandLine is not used: it accepts every flag
// linked into the binary (gRPC's and Abseil's too), finds help by file name
// and exits with 1 on a mistake.
namespace userservice::cli {

// The exit code of a usage or configuration error, in every program.
inline constexpr int kExitUsage = 2;

struct CommandLineSpec {
  // Names the program in messages and in the usage line.
  std::string program;
  // What --help prints before the flags: a usage line and a summary.
  std::string usage;
  // "USER_SERVICE_": each flag may also be set from the environment. Empty:
  // the environment is not read.
  std::string env_prefix;
  // The program's flags (see Flag() below).
  std::vector<const absl::CommandLineFlag*> flags;
  // Whether arguments other than flags are allowed (userctl's command).
  bool positional_allowed = false;
  // How a user asks for help, named after a usage error. Empty:
  // "PROGRAM --help".
  std::string help_command{};
  // What --help prints after the flags (output, exit codes, examples), after
  // a blank line. Empty: nothing.
  std::string epilogue{};
};

// The reflection handle of FLAGS_name, for CommandLineSpec::flags.
template <typename T>
const absl::CommandLineFlag* Flag(const absl::Flag<T>& flag) {
  return &absl::GetFlagReflectionHandle(flag);
}

struct ParsedCommandLine {
  // True when help was asked for: print HelpText(spec) and exit 0.
  bool help = false;
  // The arguments that are not flags, in order (after a bare "--", every
  // argument is one).
  std::vector<std::string> positional;
};

// Applies the environment (if the spec has a prefix), then the flags in
// `args` (argv without the program name), in order. A mistake fails with
// InvalidArgument whose message names the flag or variable and what is
// wrong; flags before it may already be set.
absl::StatusOr<ParsedCommandLine> ParseCommandLine(
    const CommandLineSpec& spec, absl::Span<const std::string> args);

// The --help text: the spec's usage, then every flag sorted by name,
// spelled with dashes, with its help, environment variable and default, then
// the spec's epilogue.
std::string HelpText(const CommandLineSpec& spec);

// ParseCommandLine for main(): prints help (to stdout) or the usage error
// (to stderr: "PROGRAM: MESSAGE", then how to get help) and sets the exit
// code to leave with; otherwise returns the arguments that are not flags.
struct MainCommandLine {
  std::optional<int> exit_code;  // set: leave main() with it
  std::vector<std::string> positional;
};
MainCommandLine ParseMainCommandLine(const CommandLineSpec& spec, int argc,
                                     char** argv);

// The environment variable for a flag, e.g. "USER_SERVICE_DB_NAME".
std::string EnvVarForFlag(absl::string_view env_prefix,
                          absl::string_view flag_name);

// An Abseil flag name as users type it: underscores become dashes.
std::string DashedFlagName(absl::string_view name);

// True if `args` (argv without the program name) ask for help with -h,
// -help, --help or --helpfull before any "--".
bool WantsHelp(absl::Span<const std::string> args);

}  // namespace userservice::cli

#endif  // USERSERVICE_SERVER_COMMON_COMMAND_LINE_H_
