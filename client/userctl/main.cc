// userctl: command-line client for userservice.v1.UserService. See
// UsageText() in usage.cc for the interface, output and exit codes.

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/userctl/channel.h"
#include "client/userctl/command_parser.h"
#include "client/userctl/exit_codes.h"
#include "client/userctl/flag_syntax.h"
#include "server/common/flag_names.h"
#include "client/userctl/flags.h"
#include "client/userctl/invocation.h"
#include "client/userctl/run_command.h"
#include "client/userctl/usage.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace {

int UsageError(const absl::Status& status) {
  std::cerr << "error: " << status.message() << "\n"
            << "Run 'userctl help' for usage.\n";
  return userctl::kExitUsage;
}

std::optional<std::string> EnvAddr() {
  const char* addr = std::getenv("USERCTL_ADDR");
  if (addr == nullptr) return std::nullopt;
  return std::string(addr);
}

}  // namespace

int main(int argc, char* argv[]) {
  absl::SetProgramUsageMessage(userctl::UsageText());
  absl::FlagsUsageConfig usage_config;
  usage_config.version_string = [] { return std::string("userctl\n"); };
  absl::SetFlagsUsageConfig(usage_config);

  const std::vector<std::string> raw_args(argv + 1, argv + argc);
  if (userservice::WantsHelp(raw_args)) {
    std::cout << userctl::UsageText();
    return userctl::kExitSuccess;
  }
  // Before absl::ParseCommandLine, which exits with 1 on bad flags.
  if (absl::Status status = userctl::CheckFlagSyntax(raw_args); !status.ok()) {
    return UsageError(status);
  }
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  const std::vector<std::string> args(positional.begin() + 1, positional.end());
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
