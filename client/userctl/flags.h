#ifndef CLIENT_USERCTL_FLAGS_H_
#define CLIENT_USERCTL_FLAGS_H_

#include "client/userctl/flag_values.h"
#include "server/common/command_line.h"

namespace userctl {

// userctl's command line: every flag in flags.cc, the command as positional
// arguments, and no environment prefix (USERCTL_ADDR is read by
// ParseInvocation, as the fallback of --addr only). Its HelpText is
// UsageText().
const userservice::cli::CommandLineSpec& UserctlCommandLine();

// Snapshot of userctl's flags; call after parsing UserctlCommandLine().
FlagValues ReadFlagValues();

}  // namespace userctl

#endif  // CLIENT_USERCTL_FLAGS_H_
