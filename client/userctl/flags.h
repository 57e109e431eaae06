#ifndef CLIENT_USERCTL_FLAGS_H_
#define CLIENT_USERCTL_FLAGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/userctl/flag_values.h"
#include "server/common/command_line.h"

namespace userctl {

// userctl's command line: every flag in flags.cc, the command as positional
// arguments, and no environment prefix (USERCTL_ADDR is read by
// ParseInvocation, as the fallback of --addr only). Its HelpText is
// UsageText().
const userservice::cli::CommandLineSpec& UserctlCommandLine();

// Parses `args` (argv without the program name) against
// UserctlCommandLine(). Use this rather than ParseCommandLine directly: it
// also starts the list of --token values afresh.
absl::StatusOr<userservice::cli::ParsedCommandLine> ParseUserctlCommandLine(
    absl::Span<const std::string> args);

// Snapshot of userctl's flags; call after ParseUserctlCommandLine().
FlagValues ReadFlagValues();

}  // namespace userctl

#endif  // CLIENT_USERCTL_FLAGS_H_
