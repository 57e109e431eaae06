#include "client/userctl/user_id.h"

#include <algorithm>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace userctl {

absl::StatusOr<uint64_t> ParseUserId(absl::string_view text) {
  // SimpleAtoi alone would also accept "+5" and " 5".
  const bool all_digits =
      !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return absl::ascii_isdigit(c);
      });
  uint64_t id = 0;
  if (!all_digits || !absl::SimpleAtoi(text, &id) || id == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid user ID \"", text, "\": want a positive integer below 2^64"));
  }
  return id;
}

}  // namespace userctl
