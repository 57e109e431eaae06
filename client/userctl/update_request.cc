#include "client/userctl/update_request.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {

absl::StatusOr<userservice::v1::UpdateUserRequest> BuildUpdateUserRequest(
    uint64_t id, const std::optional<std::string>& username,
    const std::optional<std::string>& email, int64_t expected_version) {
  if (!username.has_value() && !email.has_value()) {
    return absl::InvalidArgumentError(
        "nothing to update: give --username and/or --email");
  }
  userservice::v1::UpdateUserRequest request;
  request.mutable_user()->set_id(id);
  if (username.has_value()) {
    request.mutable_user()->set_username(*username);
    request.mutable_update_mask()->add_paths("username");
  }
  if (email.has_value()) {
    request.mutable_user()->set_email(*email);
    request.mutable_update_mask()->add_paths("email");
  }
  request.set_expected_version(expected_version);
  return request;
}

}  // namespace userctl
