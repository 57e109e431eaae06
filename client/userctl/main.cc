// userctl: command-line client for userservice.v1.UserService. See
// UsageText() in usage.cc for the interface, output and exit codes.

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/userctl/channel.h"
#include "client/userctl/command_parser.h"
#include "client/userctl/exit_codes.h"
#include "client/userctl/flags.h"
#include "client/userctl/invocation.h"
#include "client/userctl/run_command.h"
#include "client/userctl/usage.h"
#include "server/common/command_line.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace {

int UsageError(const absl::Status& status) {
  std::cerr << "error: " << status.message() << "\n"
            << "Run '" << userctl::UserctlCommandLine().help_command
            << "' for usage.\n";
  return userctl::kExitUsage;
}

std::optional<std::string> EnvAddr() {
  const char* addr = std::getenv("USERCTL_ADDR");
  if (addr == nullptr) return std::nullopt;
  return std::string(addr);
}

}  // namespace

int main(int argc, char* argv[]) {
  // Not ParseMainCommandLine: every usage error of userctl, of flags or of
  // the command, reads "error: ..." (see UsageError).
  const std::vector<std::string> raw_args(argv + std::min(argc, 1),
                                          argv + argc);
  absl::StatusOr<userservice::cli::ParsedCommandLine> command_line =
      userctl::ParseUserctlCommandLine(raw_args);
  if (!command_line.ok()) return UsageError(command_line.status());
  if (command_line->help) {
    std::cout << userctl::UsageText();
    return userctl::kExitSuccess;
  }
  const std::vector<std::string>& args = command_line->positional;
  if (args.empty()) {
    std::cerr << userctl::UsageText();
    return userctl::kExitUsage;
  }

  absl::StatusOr<userctl::Invocation> invocation =
      userctl::ParseInvocation(args, userctl::ReadFlagValues(), EnvAddr());
  if (!invocation.ok()) return UsageError(invocation.status());

  const userctl::GlobalOptions& options = invocation->options;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      userctl::BuildChannel({options.addr, options.tls_ca, options.tls_cert,
                             options.tls_key, options.tls_server_name});
  if (!channel.ok()) return UsageError(channel.status());
  const auto stub = userservice::v1::UserService::NewStub(*channel);
  const absl::Status status =
      userctl::RunCommand(*invocation, *stub, std::cout, std::cerr);
  if (!status.ok()) std::cerr << userctl::ErrorLine(status) << "\n";
  return userctl::ExitCodeFor(status);
}
