#include "client/userctl/json_output.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/userctl/json_indent.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/wrappers.pb.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {
namespace {

absl::StatusOr<std::string> ToCompactJson(
    const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot print ",
                                            message.GetTypeName(),
                                            " as JSON: ", status.ToString()));
  }
  return json;
}

}  // namespace

absl::StatusOr<std::string> MessageToJson(
    const google::protobuf::Message& message) {
  absl::StatusOr<std::string> json = ToCompactJson(message);
  if (!json.ok()) return json.status();
  return absl::StrCat(IndentJson(*json), "\n");
}

absl::StatusOr<std::string> UsersToJson(
    const google::protobuf::RepeatedPtrField<userservice::v1::User>& users,
    const std::string& consistency_token) {
  std::string json = "{\"users\":[";
  for (int i = 0; i < users.size(); ++i) {
    absl::StatusOr<std::string> user = ToCompactJson(users.Get(i));
    if (!user.ok()) return user.status();
    absl::StrAppend(&json, i == 0 ? "" : ",", *user);
  }
  // A StringValue prints as a bare JSON string, quoted and escaped.
  google::protobuf::StringValue token;
  token.set_value(consistency_token);
  absl::StatusOr<std::string> token_json = ToCompactJson(token);
  if (!token_json.ok()) return token_json.status();
  absl::StrAppend(&json, "],\"consistency_token\":", *token_json, "}");
  return absl::StrCat(IndentJson(json), "\n");
}

}  // namespace userctl
