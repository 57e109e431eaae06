#include "server/service/consistency_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace userservice {
namespace {

constexpr absl::string_view kPrefix = "v1.";
constexpr absl::string_view kMariaDb = "mariadb:";
constexpr absl::string_view kMySql = "mysql:";

}  // namespace

std::string EncodeConsistencyToken(const ReplicationPosition& position) {
  return absl::StrCat(kPrefix, absl::WebSafeBase64Escape(absl::StrCat(
                                   kMariaDb, position.ToString())));
}

std::string EncodeReadToken(const ReplicationPosition& tokens,
                            const ReplicationPosition& served_at) {
  ReplicationPosition covered = tokens;
  covered.Merge(served_at);
  return EncodeConsistencyToken(covered);
}

absl::StatusOr<ReplicationPosition> DecodeConsistencyToken(
    absl::string_view field, absl::string_view token) {
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": not a consistency token returned by this service (", why,
        "); pass the token from a response unchanged"));
  };
  if (token.size() > kMaxConsistencyTokenSize) return invalid("too long");
  if (!absl::StartsWith(token, kPrefix)) return invalid("unknown version");
  std::string payload;
  if (!absl::WebSafeBase64Unescape(token.substr(kPrefix.size()), &payload)) {
    return invalid("bad encoding");
  }
  absl::string_view gtids = payload;
  if (absl::StartsWith(gtids, kMySql)) {
    return invalid("a MySQL position; this service runs on MariaDB");
  }
  if (!absl::ConsumePrefix(&gtids, kMariaDb)) {
    return invalid("unknown database flavor");
  }
  absl::StatusOr<ReplicationPosition> position =
      ReplicationPosition::Parse(gtids);
  if (!position.ok()) return invalid("bad position");
  // Encode spells a position one way only; any other spelling (a GTID list
  // out of order, base64 padding, whitespace or stray low bits) was not
  // made here.
  if (EncodeConsistencyToken(*position) != token) return invalid("altered");
  return position;
}

}  // namespace userservice
