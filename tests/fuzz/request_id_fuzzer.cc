// Request ids (server/observability/request_id.h): the x-request-id
// metadata the access log and every log line of a call carry, and
// CreateUser's request_id (ValidateRequestId in
// server/service/validation.h), the idempotency key.
//
// Invariants: no crash or undefined behaviour; an id IsValidRequestId
// accepts is 1 to 128 characters of [A-Za-z0-9._:-], so it can go into a
// JSON log line unescaped and never holds an email; it is also a valid
// request_id, so one id can serve as both; a request_id rejection is
// INVALID_ARGUMENT, names the field first and does not echo the id.

#include <cstddef>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "server/observability/request_id.h"
#include "server/service/validation.h"
#include "tests/fuzz/fuzz_invariants.h"

namespace {

using userservice::fuzz::Check;

bool IsIdCharacter(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  Check(userservice::observability::IsValidRequestId(
            userservice::observability::NewRequestId()),
        "a generated request id is valid");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view id(reinterpret_cast<const char*>(data), size);

  if (userservice::observability::IsValidRequestId(id)) {
    Check(!id.empty() &&
              id.size() <= userservice::observability::kMaxRequestIdLength,
          "a valid request id is 1 to 128 characters", id);
    for (const char c : id) {
      Check(IsIdCharacter(c), "a valid request id is [A-Za-z0-9._:-]", id);
    }
    Check(userservice::ValidateRequestId("request_id", id).ok(),
          "a valid x-request-id is a valid request_id", id);
  }

  const absl::Status status = userservice::ValidateRequestId("request_id", id);
  if (!status.ok()) {
    userservice::fuzz::CheckRejection(status, "request_id", {id}, [&] {
      return std::string(userservice::ValidateRequestId(
                             "request_id", userservice::fuzz::Disguise(id))
                             .message());
    });
  }
  return 0;
}
