#include "server/mysql/user_rows.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cppconn/prepared_statement.h"
#include "cppconn/resultset.h"

namespace userservice::mysql {
namespace {

// Column order shared by every statement that returns users; ReadUser
// depends on it.
#define USER_COLUMNS "id, username, email, create_time, update_time, version"

// username_key/email_key are stored LOWER() copies with binary collation and
// unique indexes: case-insensitive, but not accent-insensitive like the
// *_ci collations would be.
constexpr char kSelectByUsername[] =
    "SELECT " USER_COLUMNS " FROM users WHERE username_key = LOWER(?)";
constexpr char kSelectByEmail[] =
    "SELECT " USER_COLUMNS " FROM users WHERE email_key = LOWER(?)";
constexpr char kSelectById[] =
    "SELECT " USER_COLUMNS " FROM users WHERE id = ?";
constexpr char kLastGtid[] = "SELECT @@last_gtid";
#define SERVER_POSITION \
  "SELECT @@server_id, @@global.gtid_binlog_pos, @@global.gtid_slave_pos"
constexpr char kServerPosition[] = SERVER_POSITION;

// Text for reads whose parameters are all numbers, sent with the position
// query in one round trip. User data never goes into statement text: it is
// always a parameter of a prepared statement.
std::string UsersByIdsThenPositionSql(absl::Span<const uint64_t> ids) {
  // IN (NULL) matches nothing, and keeps an empty list valid SQL.
  return absl::StrCat("SELECT " USER_COLUMNS " FROM users WHERE id IN (",
                      ids.empty() ? "NULL" : absl::StrJoin(ids, ","),
                      ");" SERVER_POSITION);
}

std::string UsersAfterThenPositionSql(uint64_t after_id, int limit) {
  return absl::StrCat("SELECT " USER_COLUMNS " FROM users WHERE id > ",
                      after_id, " ORDER BY id LIMIT ", limit,
                      ";" SERVER_POSITION);
}

#undef SERVER_POSITION
// Statement text for an insert of `rows` users, returning them.
std::string InsertUsersSql(int rows) {
  std::string sql =
      "INSERT INTO users (username, email, create_time, update_time, "
      "version) VALUES (?, ?, NOW(6), NOW(6), 1)";
  for (int i = 1; i < rows; ++i) sql += ",(?, ?, NOW(6), NOW(6), 1)";
  sql += " RETURNING " USER_COLUMNS;
  return sql;
}

#undef USER_COLUMNS

// Inserts of up to this many rows are one statement each, prepared per row
// count as it is first needed; larger batches are split.
constexpr size_t kMaxUsersPerInsert = 64;

const std::vector<std::string>& InsertUsersStatements() {
  static const auto* statements = [] {
    auto* texts = new std::vector<std::string>;
    for (size_t rows = 0; rows <= kMaxUsersPerInsert; ++rows) {
      texts->push_back(rows == 0 ? "" : InsertUsersSql(static_cast<int>(rows)));
    }
    return texts;
  }();
  return *statements;
}

absl::Time ParseDatetime(const std::string& text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime("%Y-%m-%d %H:%M:%E*S", text, absl::UTCTimeZone(), &t,
                       &error)) {
    return absl::UnixEpoch();
  }
  return t;
}

User ReadUser(sql::ResultSet& rs) {
  User user;
  user.id = rs.getUInt64(1);
  user.username = rs.getString(2);
  user.email = rs.getString(3);
  user.create_time = ParseDatetime(rs.getString(4));
  user.update_time = ParseDatetime(rs.getString(5));
  user.version = rs.getInt64(6);
  return user;
}

std::unique_ptr<sql::ResultSet> Query(sql::PreparedStatement& statement) {
  return std::unique_ptr<sql::ResultSet>(statement.executeQuery());
}

// Column `column` of `rs`'s current row as a position; NULL is empty.
absl::StatusOr<ReplicationPosition> PositionAt(sql::ResultSet& rs, int column) {
  if (rs.isNull(column)) return ReplicationPosition();
  absl::StatusOr<ReplicationPosition> position =
      ReplicationPosition::Parse(std::string(rs.getString(column)));
  if (!position.ok()) {
    return absl::InternalError(
        "the database reported a GTID position this server cannot read");
  }
  return position;
}

// The position in the next row of `rs`, a result of kServerPosition.
absl::StatusOr<ServerPosition> ReadServerPosition(sql::ResultSet& rs) {
  if (!rs.next()) {
    return absl::InternalError("the database reported no GTID position");
  }
  ServerPosition now;
  now.server_id = rs.isNull(1) ? 0 : rs.getInt64(1);
  absl::StatusOr<ReplicationPosition> logged = PositionAt(rs, 2);
  if (!logged.ok()) return logged.status();
  absl::StatusOr<ReplicationPosition> applied = PositionAt(rs, 3);
  if (!applied.ok()) return applied.status();
  now.applied = *std::move(applied);
  now.covering = *std::move(logged);
  now.covering.Merge(now.applied);
  return now;
}

// Runs `sql`, a select of users followed by the position query, in one
// round trip: the position is asked after the users were read.
absl::StatusOr<SeenAt<std::vector<User>>> UsersThenPosition(
    MysqlConnection& conn, const std::string& sql) {
  SeenAt<std::vector<User>> seen;
  absl::StatusOr<ServerPosition> position =
      absl::InternalError("the database reported no GTID position");
  conn.ExecuteTogether(sql, [&](int statement, sql::ResultSet& rs) {
    if (statement == 0) {
      while (rs.next()) seen.rows.push_back(ReadUser(rs));
    } else {
      position = ReadServerPosition(rs);
    }
  });
  if (!position.ok()) return position.status();
  seen.position = *std::move(position);
  return seen;
}

// Inserts one statement's worth of `users` and files each returned row
// under the position of its user; returns how many rows came back.
absl::StatusOr<size_t> InsertChunk(
    MysqlConnection& conn, absl::Span<const NewUser> users,
    const absl::flat_hash_map<std::string, size_t>& index_of,
    std::vector<User>& out) {
  sql::PreparedStatement& insert =
      conn.Prepare(InsertUsersStatements()[users.size()].c_str());
  for (size_t i = 0; i < users.size(); ++i) {
    insert.setString(2 * i + 1, users[i].username);
    insert.setString(2 * i + 2, users[i].email);
  }
  std::unique_ptr<sql::ResultSet> rs = Query(insert);
  size_t returned = 0;
  while (rs->next()) {
    User user = ReadUser(*rs);
    auto owner = index_of.find(user.username);
    if (owner == index_of.end()) {
      return absl::InternalError(
          "the database returned a user that was not asked for");
    }
    out[owner->second] = std::move(user);
    ++returned;
  }
  return returned;
}

}  // namespace

std::optional<User> SelectUser(MysqlConnection& conn, const UserKey& key) {
  sql::PreparedStatement* select = nullptr;
  if (key.kind == UserKey::Kind::kId) {
    select = &conn.Prepare(kSelectById);
    select->setUInt64(1, key.id);
  } else {
    select =
        &conn.Prepare(key.kind == UserKey::Kind::kUsername ? kSelectByUsername
                                                           : kSelectByEmail);
    select->setString(1, key.text);
  }
  std::unique_ptr<sql::ResultSet> rs = Query(*select);
  if (!rs->next()) return std::nullopt;
  return ReadUser(*rs);
}

absl::StatusOr<SeenAt<std::optional<User>>> SelectUserAt(MysqlConnection& conn,
                                                         const UserKey& key) {
  SeenAt<std::optional<User>> seen;
  seen.rows = SelectUser(conn, key);
  absl::StatusOr<ServerPosition> position = CurrentPosition(conn);
  if (!position.ok()) return position.status();
  seen.position = *std::move(position);
  return seen;
}

absl::StatusOr<SeenAt<std::vector<User>>> SelectUsersByIdsAt(
    MysqlConnection& conn, absl::Span<const uint64_t> ids) {
  return UsersThenPosition(conn, UsersByIdsThenPositionSql(ids));
}

absl::StatusOr<SeenAt<std::vector<User>>> SelectUsersAfterAt(
    MysqlConnection& conn, uint64_t after_id, int limit) {
  return UsersThenPosition(conn, UsersAfterThenPositionSql(after_id, limit));
}

absl::StatusOr<std::vector<User>> InsertUsers(MysqlConnection& conn,
                                              absl::Span<const NewUser> users) {
  std::vector<User> out(users.size());
  // RETURNING gives the rows in no promised order; the username, unique
  // within the batch once the insert succeeded, tells whose row is whose.
  absl::flat_hash_map<std::string, size_t> index_of;
  index_of.reserve(users.size());
  for (size_t i = 0; i < users.size(); ++i) index_of[users[i].username] = i;
  // One statement is atomic by itself; several need a transaction to be
  // all or nothing.
  const bool own_transaction =
      users.size() > kMaxUsersPerInsert && !conn.in_transaction();
  if (own_transaction) conn.Begin();
  size_t returned = 0;
  for (size_t start = 0; start < users.size(); start += kMaxUsersPerInsert) {
    absl::StatusOr<size_t> chunk = InsertChunk(
        conn, users.subspan(start, kMaxUsersPerInsert), index_of, out);
    if (!chunk.ok()) return chunk.status();
    returned += *chunk;
  }
  if (returned != users.size()) {
    return absl::InternalError(absl::StrCat("the database returned ", returned,
                                            " created users for ", users.size(),
                                            " inserted"));
  }
  if (own_transaction) conn.Commit();
  return out;
}

absl::StatusOr<ReplicationPosition> LastWritePosition(MysqlConnection& conn) {
  std::unique_ptr<sql::ResultSet> rs = Query(conn.Prepare(kLastGtid));
  if (!rs->next()) return ReplicationPosition();
  return PositionAt(*rs, 1);
}

absl::StatusOr<ServerPosition> CurrentPosition(MysqlConnection& conn) {
  std::unique_ptr<sql::ResultSet> rs = Query(conn.Prepare(kServerPosition));
  return ReadServerPosition(*rs);
}

}  // namespace userservice::mysql
