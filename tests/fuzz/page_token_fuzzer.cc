// ListUsers' page-token decoding (server/service/page_token.h). The first
// byte picks the form: the rest as a whole token, or as the payload inside
// a well-formed "p1." + base64url wrapping, so that the fuzzer reaches the
// cursor's own syntax behind the encoding.
//
// Invariants: no crash or undefined behaviour; an accepted token names a
// non-zero id and is exactly what Encode makes of it (so it re-encodes to
// itself and decodes again to the same id); a rejection is
// INVALID_ARGUMENT, names the field first and echoes neither the token nor
// its payload. Encode round trips for any id.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/service/page_token.h"
#include "tests/fuzz/fuzz_invariants.h"

namespace {

constexpr char kField[] = "page_token";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using userservice::fuzz::Check;
  if (size == 0) return 0;
  const userservice::fuzz::TokenInput input =
      userservice::fuzz::ReadTokenInput(data, size, "p1.");
  const std::string& rest = input.rest;
  const std::string token = input.TokenOf(rest);

  absl::StatusOr<uint64_t> id = userservice::DecodePageToken(kField, token);
  if (id.ok()) {
    Check(*id != 0, "a page token never names id 0", token);
    Check(userservice::EncodePageToken(*id) == token,
          "an accepted page token is Encode's own", token);
  } else {
    userservice::fuzz::CheckRejection(id.status(), kField, {token, rest}, [&] {
      return std::string(
          userservice::DecodePageToken(
              kField, input.TokenOf(userservice::fuzz::Disguise(rest)))
              .status()
              .message());
    });
  }

  // Encode's side: any non-zero id the first bytes spell.
  uint64_t any = 0;
  std::memcpy(&any, rest.data(), std::min(rest.size(), sizeof(any)));
  if (any != 0) {
    absl::StatusOr<uint64_t> back =
        userservice::DecodePageToken(kField, userservice::EncodePageToken(any));
    Check(back.ok() && *back == any, "Encode's page token decodes to its id",
          absl::StrCat(any));
  }
  return 0;
}
