#ifndef USERSERVICE_SERVER_SERVICE_CONSISTENCY_TOKEN_H_
#define USERSERVICE_SERVER_SERVICE_CONSISTENCY_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/repository/user.h"

namespace userservice {

// The opaque consistency token handed to clients after a write:
//   "v1." + base64url(flavor + ":" + gtids)
// The version prefix lets the format change without breaking tokens held by
// clients; the flavor keeps MariaDB GTID lists ("0-1-42,1-2-7") and MySQL
// GTID sets ("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5") apart.
std::string EncodeConsistencyToken(const ReplicationPosition& position);

// INVALID_ARGUMENT (naming `field`) for anything Encode could not have
// produced.
absl::StatusOr<ReplicationPosition> DecodeConsistencyToken(
    absl::string_view field, absl::string_view token);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_CONSISTENCY_TOKEN_H_
