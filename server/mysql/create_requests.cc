#include "server/mysql/create_requests.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cppconn/prepared_statement.h"
#include "cppconn/resultset.h"
#include "server/mysql/user_rows.h"

namespace userservice::mysql {
namespace {

constexpr char kInsertRequest[] =
    "INSERT INTO create_requests (request_id, user_id, fingerprint, "
    "create_time) VALUES (?, ?, ?, NOW(6))";
constexpr char kSelectRequest[] =
    "SELECT user_id, fingerprint FROM create_requests WHERE request_id = ?";
// Microseconds, because a DATETIME(6) compared with NOW(6) is exact.
constexpr char kPurgeRequests[] =
    "DELETE FROM create_requests "
    "WHERE create_time < NOW(6) - INTERVAL ? MICROSECOND LIMIT ?";

// Ties a request_id to what was asked, so a reused key with other fields is
// told apart from a retry. FNV-1a: stable across processes and versions,
// unlike std::hash or absl::Hash.
uint64_t Fingerprint(const NewUser& user) {
  uint64_t hash = 14695981039346656037ull;
  auto mix = [&hash](absl::string_view text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
  };
  mix(absl::AsciiStrToLower(user.username));
  mix(absl::string_view("\0", 1));
  mix(absl::AsciiStrToLower(user.email));
  return hash;
}

}  // namespace

absl::Status CreateIdempotent(MysqlConnection& conn, const NewUser& user,
                              Positioned<User>* out) {
  absl::Status replay = ReplayCreate(conn, user, out);
  if (!absl::IsNotFound(replay)) return replay;

  conn.Begin();
  absl::StatusOr<std::vector<User>> inserted =
      InsertUsers(conn, absl::MakeConstSpan(&user, 1));
  if (!inserted.ok()) return inserted.status();
  out->value = std::move(inserted->front());
  sql::PreparedStatement& record = conn.Prepare(kInsertRequest);
  record.setString(1, user.request_id);
  record.setUInt64(2, out->value.id);
  record.setUInt64(3, Fingerprint(user));
  record.executeUpdate();
  conn.Commit();
  absl::StatusOr<ReplicationPosition> position = LastWritePosition(conn);
  if (!position.ok()) return position.status();
  out->position = *std::move(position);
  return absl::OkStatus();
}

absl::Status ReplayCreate(MysqlConnection& conn, const NewUser& user,
                          Positioned<User>* out) {
  sql::PreparedStatement& select = conn.Prepare(kSelectRequest);
  select.setString(1, user.request_id);
  std::unique_ptr<sql::ResultSet> rs(select.executeQuery());
  if (!rs->next()) return absl::NotFoundError("request_id not used yet");
  const uint64_t user_id = rs->getUInt64(1);
  if (rs->getUInt64(2) != Fingerprint(user)) {
    return absl::InvalidArgumentError(
        "request_id was already used to create a user with a different "
        "username or email; use a new request_id for a new user");
  }
  std::optional<User> created = SelectUser(conn, UserKey::Id(user_id));
  if (!created.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("request_id was already used to create user ", user_id,
                     ", which has since been deleted"));
  }
  out->value = *std::move(created);
  // The original write's own GTID was not kept; the primary's current
  // position includes it, so a session read with it still sees the user.
  absl::StatusOr<ServerPosition> now = CurrentPosition(conn);
  if (!now.ok()) return now.status();
  out->position = std::move(now->covering);
  return absl::OkStatus();
}

int64_t PurgeCreateRequests(MysqlConnection& conn, absl::Duration age,
                            int limit) {
  sql::PreparedStatement& purge = conn.Prepare(kPurgeRequests);
  purge.setInt64(1, absl::ToInt64Microseconds(age));
  purge.setInt(2, limit);
  return purge.executeUpdate();
}

}  // namespace userservice::mysql
