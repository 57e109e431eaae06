#ifndef CLIENT_USERCTL_UPDATE_REQUEST_H_
#define CLIENT_USERCTL_UPDATE_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {

// Builds an UpdateUserRequest whose update_mask names exactly the fields
// given ("username", then "email"). At least one is required: the server
// reads an empty mask as "update both", which would blank the other field.
// expected_version is sent as given (0 means unconditional).
absl::StatusOr<userservice::v1::UpdateUserRequest> BuildUpdateUserRequest(
    uint64_t id, const std::optional<std::string>& username,
    const std::optional<std::string>& email, int64_t expected_version);

}  // namespace userctl

#endif  // CLIENT_USERCTL_UPDATE_REQUEST_H_
