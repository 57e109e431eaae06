#ifndef CLIENT_USERCTL_INVOCATION_H_
#define CLIENT_USERCTL_INVOCATION_H_

#include <string>
#include <variant>

#include "absl/time/time.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {

enum class OutputFormat { kJson, kTable };

// Settings shared by every command, resolved from flags and environment.
struct GlobalOptions {
  std::string addr;
  // TLS files and name (see ChannelOptions); all empty: plaintext.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  absl::Duration timeout;
  OutputFormat format = OutputFormat::kJson;
  bool verbose = false;
  // Sent as x-request-id metadata when not empty.
  std::string x_request_id;
};

// Each command carries its fully built request, so that everything a user
// can get wrong is checked before a channel is ever opened.
struct HelpCommand {};
struct CreateCommand {
  userservice::v1::CreateUserRequest request;
};
struct GetCommand {
  userservice::v1::GetUserRequest request;
};
// `get` with several ids.
struct BatchGetCommand {
  userservice::v1::BatchGetUsersRequest request;
};
struct ListCommand {
  // The first page's request; later pages only change page_token.
  userservice::v1::ListUsersRequest request;
  bool all_pages = true;
};
struct UpdateCommand {
  userservice::v1::UpdateUserRequest request;
};
struct DeleteCommand {
  userservice::v1::DeleteUserRequest request;
};

using Command =
    std::variant<HelpCommand, CreateCommand, GetCommand, BatchGetCommand,
                 ListCommand, UpdateCommand, DeleteCommand>;

// A validated command line.
struct Invocation {
  GlobalOptions options;
  Command command;
};

}  // namespace userctl

#endif  // CLIENT_USERCTL_INVOCATION_H_
