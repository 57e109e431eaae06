#ifndef CLIENT_USERCTL_EXIT_CODES_H_
#define CLIENT_USERCTL_EXIT_CODES_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace userctl {

// userctl's exit codes are an interface for scripts; see UsageText().
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;  // Client-side failure.
inline constexpr int kExitUsage = 2;
inline constexpr int kExitRpcErrorBase = 10;  // Plus the gRPC status code.

// Converts the outcome of an RPC to an absl::Status that remembers it came
// from the RPC. The mark keeps a server's INVALID_ARGUMENT (exit 13) apart
// from userctl's own failures (exit 1) although both are absl statuses.
absl::Status FromRpcStatus(const grpc::Status& status);

// True for errors made by FromRpcStatus.
bool IsRpcError(const absl::Status& status);

// The exit code for the outcome of running a command: 0 if OK, 10 + code for
// RPC errors, else kExitFailure.
int ExitCodeFor(const absl::Status& status);

// The stderr line for a failed command, without newline:
// "error: NOT_FOUND: <server message>" for RPC errors, "error: <message>"
// otherwise.
std::string ErrorLine(const absl::Status& status);

}  // namespace userctl

#endif  // CLIENT_USERCTL_EXIT_CODES_H_
