#include "client/userctl/render.h"

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/userctl/invocation.h"
#include "client/userctl/json_output.h"
#include "client/userctl/table_output.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {
namespace {

using ::userservice::v1::User;

std::string OneUserTable(const User& user) {
  google::protobuf::RepeatedPtrField<User> users;
  *users.Add() = user;
  return FormatUserTable(users);
}

std::string TokenLine(absl::string_view token) {
  return absl::StrCat("consistency_token: ", token, "\n");
}

}  // namespace

absl::StatusOr<std::string> RenderCreateUser(
    const userservice::v1::CreateUserResponse& response, OutputFormat format) {
  if (format == OutputFormat::kJson) return MessageToJson(response);
  return absl::StrCat(OneUserTable(response.user()),
                      TokenLine(response.consistency_token()));
}

absl::StatusOr<std::string> RenderGetUser(
    const userservice::v1::GetUserResponse& response, OutputFormat format) {
  if (format == OutputFormat::kJson) return MessageToJson(response);
  return absl::StrCat(OneUserTable(response.user()),
                      TokenLine(response.consistency_token()));
}

absl::StatusOr<std::string> RenderBatchGetUsers(
    const userservice::v1::BatchGetUsersResponse& response,
    OutputFormat format) {
  if (format == OutputFormat::kJson) return MessageToJson(response);
  return absl::StrCat(FormatUserTable(response.users()),
                      TokenLine(response.consistency_token()));
}

absl::StatusOr<std::string> RenderUpdateUser(
    const userservice::v1::UpdateUserResponse& response, OutputFormat format) {
  if (format == OutputFormat::kJson) return MessageToJson(response);
  return absl::StrCat(OneUserTable(response.user()),
                      TokenLine(response.consistency_token()));
}

absl::StatusOr<std::string> RenderDeleteUser(
    const userservice::v1::DeleteUserResponse& response, OutputFormat format) {
  if (format == OutputFormat::kJson) return MessageToJson(response);
  return TokenLine(response.consistency_token());
}

absl::StatusOr<std::string> RenderUserPage(
    const userservice::v1::ListUsersResponse& response, OutputFormat format) {
  if (format == OutputFormat::kJson) return MessageToJson(response);
  std::string text = FormatUserTable(response.users());
  if (!response.next_page_token().empty()) {
    absl::StrAppend(&text, "next_page_token: ", response.next_page_token(),
                    "\n");
  }
  return absl::StrCat(text, TokenLine(response.consistency_token()));
}

absl::StatusOr<std::string> RenderAllUsers(
    const google::protobuf::RepeatedPtrField<User>& users,
    const std::string& consistency_token, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    return UsersToJson(users, consistency_token);
  }
  return absl::StrCat(FormatUserTable(users), TokenLine(consistency_token));
}

}  // namespace userctl
