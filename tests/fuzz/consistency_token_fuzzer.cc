// Consistency-token decoding (server/service/consistency_token.h), as
// ReadOptions' consistency_token and consistency_tokens reach it. The first
// byte picks the form: the rest as a whole token, or as the payload inside
// a well-formed "v1." + base64url wrapping, so that the fuzzer reaches the
// flavor and GTID-list checks behind the encoding.
//
// Invariants: no crash or undefined behaviour; an accepted token is exactly
// what Encode makes of its position (so it re-encodes to itself and decodes
// again to the same position); a rejection is INVALID_ARGUMENT, names the
// field first and echoes neither the token nor its payload.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/service/consistency_token.h"
#include "tests/fuzz/fuzz_invariants.h"

namespace {

constexpr char kField[] = "read_options.consistency_token";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using userservice::fuzz::Check;
  if (size == 0) return 0;
  const userservice::fuzz::TokenInput input =
      userservice::fuzz::ReadTokenInput(data, size, "v1.");
  const std::string& rest = input.rest;
  const std::string token = input.TokenOf(rest);

  absl::StatusOr<userservice::ReplicationPosition> position =
      userservice::DecodeConsistencyToken(kField, token);
  if (!position.ok()) {
    userservice::fuzz::CheckRejection(
        position.status(), kField, {token, rest}, [&] {
          return std::string(
              userservice::DecodeConsistencyToken(
                  kField, input.TokenOf(userservice::fuzz::Disguise(rest)))
                  .status()
                  .message());
        });
    return 0;
  }
  const std::string again = userservice::EncodeConsistencyToken(*position);
  Check(again == token, "an accepted token is Encode's own", token);
  absl::StatusOr<userservice::ReplicationPosition> decoded =
      userservice::DecodeConsistencyToken(kField, again);
  Check(decoded.ok() && *decoded == *position,
        "a re-encoded token decodes to the same position", again);
  return 0;
}
