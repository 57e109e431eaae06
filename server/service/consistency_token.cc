#include "server/service/consistency_token.h"

#include <cstdint>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace userservice {
namespace {

constexpr absl::string_view kPrefix = "v1.";
// Far above any real GTID set; keeps a hostile token from costing much.
constexpr size_t kMaxTokenSize = 8192;

bool IsNumber(absl::string_view text) {
  uint64_t unused;
  return !text.empty() && text.size() <= 20 &&
         absl::c_all_of(text, absl::ascii_isdigit) &&
         absl::SimpleAtoi(text, &unused);
}

// "domain-server-sequence" triples separated by commas.
bool IsMariaDbGtidList(absl::string_view gtids) {
  if (gtids.empty()) return true;  // a primary without binary log
  for (absl::string_view gtid : absl::StrSplit(gtids, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(gtid, '-');
    if (parts.size() != 3) return false;
    for (absl::string_view part : parts) {
      if (!IsNumber(part)) return false;
    }
  }
  return true;
}

// "uuid:interval[:interval...]" entries separated by commas, where an
// interval is "N" or "N-M" (MySQL 8.3+ tags are accepted as extra parts).
bool IsMySqlGtidSet(absl::string_view gtids) {
  if (gtids.empty()) return true;
  for (absl::string_view entry : absl::StrSplit(gtids, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    std::vector<absl::string_view> parts = absl::StrSplit(entry, ':');
    if (parts.size() < 2 || parts[0].size() != 36) return false;
    for (char c : parts[0]) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != '-') {
        return false;
      }
    }
    for (size_t i = 1; i < parts.size(); ++i) {
      for (char c : parts[i]) {
        if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
            c != '_') {
          return false;
        }
      }
      if (parts[i].empty()) return false;
    }
  }
  return true;
}

}  // namespace

std::string EncodeConsistencyToken(const ReplicationPosition& position) {
  return absl::StrCat(kPrefix, absl::WebSafeBase64Escape(absl::StrCat(
                                   position.flavor, ":", position.gtids)));
}

absl::StatusOr<ReplicationPosition> DecodeConsistencyToken(
    absl::string_view field, absl::string_view token) {
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": not a consistency token returned by this service (", why,
        "); pass the token from a write response unchanged"));
  };
  if (token.size() > kMaxTokenSize) return invalid("too long");
  if (!absl::StartsWith(token, kPrefix)) return invalid("unknown version");
  std::string payload;
  if (!absl::WebSafeBase64Unescape(token.substr(kPrefix.size()), &payload)) {
    return invalid("bad encoding");
  }
  const size_t colon = payload.find(':');
  if (colon == std::string::npos) return invalid("bad payload");
  ReplicationPosition position{payload.substr(0, colon),
                               payload.substr(colon + 1)};
  if (position.flavor == kFlavorMariaDb) {
    if (!IsMariaDbGtidList(position.gtids)) return invalid("bad position");
  } else if (position.flavor == kFlavorMySql) {
    if (!IsMySqlGtidSet(position.gtids)) return invalid("bad position");
  } else {
    return invalid("unknown database flavor");
  }
  return position;
}

}  // namespace userservice
