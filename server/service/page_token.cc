#include "server/service/page_token.h"

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace userservice {
namespace {

constexpr absl::string_view kPrefix = "p1.";
constexpr absl::string_view kAfter = "after:";

}  // namespace

std::string EncodePageToken(uint64_t after_id) {
  return absl::StrCat(
      kPrefix, absl::WebSafeBase64Escape(absl::StrCat(kAfter, after_id)));
}

absl::StatusOr<uint64_t> DecodePageToken(absl::string_view field,
                                         absl::string_view token) {
  const auto invalid = [&]() {
    return absl::InvalidArgumentError(absl::StrCat(
        field,
        ": not a page token returned by ListUsers; pass next_page_token "
        "unchanged, or leave it empty for the first page"));
  };
  if (token.size() > 64 || !absl::StartsWith(token, kPrefix)) return invalid();
  std::string payload;
  if (!absl::WebSafeBase64Unescape(token.substr(kPrefix.size()), &payload) ||
      !absl::StartsWith(payload, kAfter)) {
    return invalid();
  }
  absl::string_view digits = absl::string_view(payload).substr(kAfter.size());
  uint64_t after_id;
  if (digits.empty() || !absl::c_all_of(digits, absl::ascii_isdigit) ||
      !absl::SimpleAtoi(digits, &after_id) || after_id == 0 ||
      // Encode spells an id one way only: no leading zeros, no base64
      // padding, whitespace or stray low bits.
      EncodePageToken(after_id) != token) {
    return invalid();
  }
  return after_id;
}

}  // namespace userservice
