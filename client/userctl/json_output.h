#ifndef CLIENT_USERCTL_JSON_OUTPUT_H_
#define CLIENT_USERCTL_JSON_OUTPUT_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {

// `message` in the proto3 JSON mapping with proto field names and every field
// present (so scripts never meet a missing key), indented as by IndentJson
// and ending in a newline.
absl::StatusOr<std::string> MessageToJson(
    const google::protobuf::Message& message);

// {"users": [...], "consistency_token": "..."} with each user as in
// MessageToJson. This is what ListUsersResponse would print without
// next_page_token, which is meaningless once every page has been fetched.
absl::StatusOr<std::string> UsersToJson(
    const google::protobuf::RepeatedPtrField<userservice::v1::User>& users,
    const std::string& consistency_token);

}  // namespace userctl

#endif  // CLIENT_USERCTL_JSON_OUTPUT_H_
