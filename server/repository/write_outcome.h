#ifndef USERSERVICE_SERVER_REPOSITORY_WRITE_OUTCOME_H_
#define USERSERVICE_SERVER_REPOSITORY_WRITE_OUTCOME_H_

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace userservice {

// A failed write that certainly did not run (no connection could be made,
// or the database refused it before executing: read-only) may be sent to
// another writer; any other failed write may have run. The mark is a
// status payload, which never reaches clients.
inline constexpr absl::string_view kNotExecutedPayload =
    "type.userservice/write-not-executed";

inline absl::Status MarkNotExecuted(absl::Status status) {
  if (!status.ok()) status.SetPayload(kNotExecutedPayload, absl::Cord("1"));
  return status;
}

inline bool WasNotExecuted(const absl::Status& status) {
  return status.GetPayload(kNotExecutedPayload).has_value();
}

}  // namespace userservice

#endif  // USERSERVICE_SERVER_REPOSITORY_WRITE_OUTCOME_H_
