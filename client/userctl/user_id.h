#ifndef CLIENT_USERCTL_USER_ID_H_
#define CLIENT_USERCTL_USER_ID_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace userctl {

// Parses a user ID argument: decimal digits only (no sign, no spaces),
// non-zero, and within uint64. Checked locally so that a typo is a usage
// error rather than a round trip to the server.
absl::StatusOr<uint64_t> ParseUserId(absl::string_view text);

}  // namespace userctl

#endif  // CLIENT_USERCTL_USER_ID_H_
