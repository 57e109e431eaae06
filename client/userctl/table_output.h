#ifndef CLIENT_USERCTL_TABLE_OUTPUT_H_
#define CLIENT_USERCTL_TABLE_OUTPUT_H_

#include <string>

#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {

// RFC 3339 in UTC to the second, e.g. "2024-05-01T12:00:00Z": the
// microseconds the server stores only widen a table meant for people.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);

// Columns ID USERNAME EMAIL VERSION CREATED UPDATED, left-aligned and
// separated by two spaces, header first, one line per user, no trailing
// spaces. Unset times show as "-". With no users: the header and then
// "(no users)".
std::string FormatUserTable(
    const google::protobuf::RepeatedPtrField<userservice::v1::User>& users);

}  // namespace userctl

#endif  // CLIENT_USERCTL_TABLE_OUTPUT_H_
