#include "client/bench/names.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace userbench {

bool ValidPrefix(absl::string_view prefix) {
  if (prefix.empty() || prefix.size() > kMaxPrefixLength) return false;
  for (char c : prefix) {
    if (!absl::ascii_isdigit(c) && !absl::ascii_islower(c)) return false;
  }
  return true;
}

std::string DatasetUsername(absl::string_view prefix, int64_t index) {
  return absl::StrCat(prefix, "-d", index);
}

std::optional<int64_t> DatasetIndex(absl::string_view prefix,
                                    absl::string_view username) {
  if (!absl::ConsumePrefix(&username, prefix) ||
      !absl::ConsumePrefix(&username, "-d") || username.empty()) {
    return std::nullopt;
  }
  for (char c : username) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  }
  int64_t index = 0;
  if (!absl::SimpleAtoi(username, &index)) return std::nullopt;
  // Only the canonical spelling: "-d07" is not row 7's name.
  if (DatasetUsername(prefix, index).size() !=
      prefix.size() + 2 + username.size()) {
    return std::nullopt;
  }
  return index;
}

std::string BenchEmail(absl::string_view username) {
  return absl::StrCat(username, "@bench.invalid");
}

WriteNames::WriteNames(absl::string_view prefix, std::string run_tag)
    : stem_(absl::StrCat(prefix, "-w", run_tag, "-")) {}

std::string WriteNames::RandomRunTag() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  absl::BitGen gen;
  std::string tag(8, 'a');
  for (char& c : tag) c = kAlphabet[absl::Uniform(gen, 0, 36)];
  return tag;
}

std::string WriteNames::Username(uint64_t seq) const {
  return absl::StrCat(stem_, seq);
}

}  // namespace userbench
