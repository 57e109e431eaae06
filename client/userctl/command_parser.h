#ifndef CLIENT_USERCTL_COMMAND_PARSER_H_
#define CLIENT_USERCTL_COMMAND_PARSER_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "client/userctl/flag_values.h"
#include "client/userctl/invocation.h"

namespace userctl {

// Turns the positional arguments (command first, program name excluded) and
// flag values into a validated Invocation. `env_addr` is $USERCTL_ADDR, used
// when --addr is not given. Every error is InvalidArgument with a message
// for the user, naming the command's synopsis where that helps.
absl::StatusOr<Invocation> ParseInvocation(
    absl::Span<const std::string> args, const FlagValues& flags,
    const std::optional<std::string>& env_addr);

}  // namespace userctl

#endif  // CLIENT_USERCTL_COMMAND_PARSER_H_
