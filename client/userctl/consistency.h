#ifndef CLIENT_USERCTL_CONSISTENCY_H_
#define CLIENT_USERCTL_CONSISTENCY_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {

// Parses a --consistency value, case-insensitively: a short name
// (unspecified, eventual, bounded_staleness or bounded, session, strong) or
// the full enum name (CONSISTENCY_STRONG). '-' may stand for '_'.
// Returns InvalidArgument listing the accepted names otherwise.
absl::StatusOr<userservice::v1::Consistency> ParseConsistency(
    absl::string_view name);

}  // namespace userctl

#endif  // CLIENT_USERCTL_CONSISTENCY_H_
