#ifndef USERSERVICE_SERVER_REPOSITORY_WRITE_OUTCOME_H_
#define USERSERVICE_SERVER_REPOSITORY_WRITE_OUTCOME_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace userservice {

// A failed write that certainly did not run (the database could not be
// reached, or refused it before executing anything) may be sent to another
// writer; any other failure may have run and must not be repeated blindly.
// The mark is a status payload: it travels with the status and is never
// shown to clients (only code and message are).
inline constexpr absl::string_view kWriteNotExecutedUrl =
    "type.userservice/write-not-executed";

// `status` marked as certainly not executed; an OK status is returned as is.
inline absl::Status MarkNotExecuted(absl::Status status) {
  if (!status.ok()) status.SetPayload(kWriteNotExecutedUrl, absl::Cord("1"));
  return status;
}

inline bool WasNotExecuted(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kWriteNotExecutedUrl).has_value();
}

}  // namespace userservice

#endif  // USERSERVICE_SERVER_REPOSITORY_WRITE_OUTCOME_H_
