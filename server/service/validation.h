#ifndef USERSERVICE_SERVER_SERVICE_VALIDATION_H_
#define USERSERVICE_SERVER_SERVICE_VALIDATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

// Input rules of the public API. Each returns INVALID_ARGUMENT with a message
// that names the field (`field` is the request's field path, e.g.
// "user.email") and says what is allowed.
namespace userservice {

inline constexpr int kMinUsernameLength = 3;
inline constexpr int kMaxUsernameLength = 32;
inline constexpr int kMaxEmailLength = 254;
inline constexpr int kMaxRequestIdLength = 128;

// 3 to 32 characters of [A-Za-z0-9_.-].
absl::Status ValidateUsername(absl::string_view field,
                              absl::string_view username);

// At most 254 characters (code points), exactly one '@' with non-empty text
// on both sides, valid UTF-8, no whitespace or control characters.
absl::Status ValidateEmail(absl::string_view field, absl::string_view email);

// Empty, or at most 128 printable ASCII characters without spaces.
absl::Status ValidateRequestId(absl::string_view field,
                               absl::string_view request_id);

// A user id: anything but 0, which proto3 sends for "not set".
absl::Status ValidateUserId(absl::string_view field, uint64_t id);

// 0 (unconditional) or a version a write must find.
absl::Status ValidateExpectedVersion(absl::string_view field,
                                     int64_t expected_version);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_VALIDATION_H_
