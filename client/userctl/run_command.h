#ifndef CLIENT_USERCTL_RUN_COMMAND_H_
#define CLIENT_USERCTL_RUN_COMMAND_H_

#include <ostream>

#include "absl/status/status.h"
#include "client/userctl/invocation.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userctl {

// Runs a parsed command against `stub`: its result goes to `out` (one
// document, written only once every RPC has succeeded) and --verbose
// diagnostics to `err`. Failed RPCs come back as FromRpcStatus errors; see
// ExitCodeFor for the exit code.
absl::Status RunCommand(const Invocation& invocation,
                        userservice::v1::UserService::StubInterface& stub,
                        std::ostream& out, std::ostream& err);

}  // namespace userctl

#endif  // CLIENT_USERCTL_RUN_COMMAND_H_
