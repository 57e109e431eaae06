#include "client/userctl/run_command.h"

#include <ostream>
#include <string>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/userctl/invocation.h"
#include "client/userctl/render.h"
#include "client/userctl/usage.h"
#include "client/userctl/user_client.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "userservice/v1/user_service.grpc.pb.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {
namespace {

namespace v1 = ::userservice::v1;

absl::Status Write(std::ostream& out, const absl::StatusOr<std::string>& text) {
  if (!text.ok()) return text.status();
  out << *text;
  out.flush();
  if (!out) return absl::DataLossError("could not write the output");
  return absl::OkStatus();
}

// Renders `response` with `render` once the RPC has succeeded.
template <typename Response, typename Render>
absl::Status WriteResult(std::ostream& out,
                         const absl::StatusOr<Response>& response,
                         OutputFormat format, Render render) {
  if (!response.ok()) return response.status();
  return Write(out, render(*response, format));
}

// Whether each page's token goes with the next page's request, so that no
// page shows older data than the pages before it and the last token covers
// them all. Not when the first request leaves the level to the server: a
// token would turn the later pages into session reads, weaker than a
// server default of strong.
bool ChainsPageTokens(const v1::ReadOptions& read_options) {
  return read_options.consistency() != v1::CONSISTENCY_UNSPECIFIED ||
         !read_options.consistency_token().empty();
}

absl::Status ListAllPages(UserClient& client, v1::ListUsersRequest request,
                          OutputFormat format, std::ostream& out) {
  const bool chain = ChainsPageTokens(request.read_options());
  google::protobuf::RepeatedPtrField<v1::User> users;
  std::string consistency_token;
  while (true) {
    absl::StatusOr<v1::ListUsersResponse> page = client.ListUsers(request);
    if (!page.ok()) return page.status();
    for (v1::User& user : *page->mutable_users()) {
      users.Add(std::move(user));
    }
    consistency_token = page->consistency_token();
    if (page->next_page_token().empty()) break;
    // A server handing back the token it was given would loop forever.
    if (page->next_page_token() == request.page_token()) {
      return absl::InternalError(
          absl::StrCat("the server returned the same next_page_token twice (\"",
                       page->next_page_token(), "\"); giving up"));
    }
    request.set_page_token(page->next_page_token());
    if (chain && !consistency_token.empty()) {
      // It covers the request's tokens, which need not be sent again.
      request.mutable_read_options()->set_consistency_token(consistency_token);
      request.mutable_read_options()->clear_consistency_tokens();
    }
  }
  return Write(out, RenderAllUsers(users, consistency_token, format));
}

class CommandRunner {
 public:
  CommandRunner(UserClient* client, OutputFormat format, std::ostream* out)
      : client_(*client), format_(format), out_(*out) {}

  absl::Status operator()(const HelpCommand&) {
    return Write(out_, UsageText());
  }
  absl::Status operator()(const CreateCommand& command) {
    return WriteResult(out_, client_.CreateUser(command.request), format_,
                       RenderCreateUser);
  }
  absl::Status operator()(const GetCommand& command) {
    return WriteResult(out_, client_.GetUser(command.request), format_,
                       RenderGetUser);
  }
  absl::Status operator()(const BatchGetCommand& command) {
    return WriteResult(out_, client_.BatchGetUsers(command.request), format_,
                       RenderBatchGetUsers);
  }
  absl::Status operator()(const ListCommand& command) {
    if (command.all_pages) {
      return ListAllPages(client_, command.request, format_, out_);
    }
    return WriteResult(out_, client_.ListUsers(command.request), format_,
                       RenderUserPage);
  }
  absl::Status operator()(const UpdateCommand& command) {
    return WriteResult(out_, client_.UpdateUser(command.request), format_,
                       RenderUpdateUser);
  }
  absl::Status operator()(const DeleteCommand& command) {
    return WriteResult(out_, client_.DeleteUser(command.request), format_,
                       RenderDeleteUser);
  }

 private:
  UserClient& client_;
  OutputFormat format_;
  std::ostream& out_;
};

}  // namespace

absl::Status RunCommand(const Invocation& invocation,
                        v1::UserService::StubInterface& stub, std::ostream& out,
                        std::ostream& err) {
  const GlobalOptions& options = invocation.options;
  UserClient client(&stub, options.timeout, options.verbose ? &err : nullptr,
                    options.x_request_id);
  return std::visit(CommandRunner(&client, options.format, &out),
                    invocation.command);
}

}  // namespace userctl
