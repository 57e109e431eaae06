#ifndef USERSERVICE_SERVER_SERVICE_CONSISTENCY_TOKEN_H_
#define USERSERVICE_SERVER_SERVICE_CONSISTENCY_TOKEN_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/repository/replication_position.h"

namespace userservice {

// Longest token accepted: far above a real cluster's positions, and small
// enough that a hostile token costs little.
inline constexpr size_t kMaxConsistencyTokenSize = 8192;

// The opaque consistency token handed to clients after a write or a read:
//   "v1." + base64url("mariadb:" + canonical GTID list)
// The version prefix lets the format change without breaking tokens held
// by clients; the flavor keeps room for other databases' positions.
std::string EncodeConsistencyToken(const ReplicationPosition& position);

// The token of a read served at `served_at`: it covers the request's
// `tokens` too, so that a caller only ever needs to keep the newest one.
std::string EncodeReadToken(const ReplicationPosition& tokens,
                            const ReplicationPosition& served_at);

// INVALID_ARGUMENT (naming `field`) for anything Encode could not have
// produced.
absl::StatusOr<ReplicationPosition> DecodeConsistencyToken(
    absl::string_view field, absl::string_view token);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_CONSISTENCY_TOKEN_H_
