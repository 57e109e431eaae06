#ifndef USERSERVICE_SERVER_SERVICE_PAGE_TOKEN_H_
#define USERSERVICE_SERVER_SERVICE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace userservice {

// ListUsers' keyset cursor: the last id of the previous page, as
// "p1." + base64url("after:" + id). Opaque to clients so the cursor can
// grow (a sort key, a filter) without breaking them.
std::string EncodePageToken(uint64_t after_id);

// The id to resume after; INVALID_ARGUMENT (naming `field`) for anything
// Encode could not have produced.
absl::StatusOr<uint64_t> DecodePageToken(absl::string_view field,
                                         absl::string_view token);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_PAGE_TOKEN_H_
