#ifndef CLIENT_USERCTL_RENDER_H_
#define CLIENT_USERCTL_RENDER_H_

#include <string>

#include "absl/status/statusor.h"
#include "client/userctl/invocation.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {

// The stdout text of each command's result in the chosen format. JSON is
// always the whole response message (see json_output.h); tables follow
// table_output.h plus the lines documented in UsageText().

absl::StatusOr<std::string> RenderCreateUser(
    const userservice::v1::CreateUserResponse& response, OutputFormat format);
absl::StatusOr<std::string> RenderGetUser(
    const userservice::v1::GetUserResponse& response, OutputFormat format);
absl::StatusOr<std::string> RenderBatchGetUsers(
    const userservice::v1::BatchGetUsersResponse& response,
    OutputFormat format);
absl::StatusOr<std::string> RenderUpdateUser(
    const userservice::v1::UpdateUserResponse& response, OutputFormat format);
absl::StatusOr<std::string> RenderDeleteUser(
    const userservice::v1::DeleteUserResponse& response, OutputFormat format);

// One page of `list --page-token` / `list --all=false`.
absl::StatusOr<std::string> RenderUserPage(
    const userservice::v1::ListUsersResponse& response, OutputFormat format);

// Every page of `list`, concatenated, with the last page's token.
absl::StatusOr<std::string> RenderAllUsers(
    const google::protobuf::RepeatedPtrField<userservice::v1::User>& users,
    const std::string& consistency_token, OutputFormat format);

}  // namespace userctl

#endif  // CLIENT_USERCTL_RENDER_H_
