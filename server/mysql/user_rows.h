#ifndef USERSERVICE_SERVER_MYSQL_USER_ROWS_H_
#define USERSERVICE_SERVER_MYSQL_USER_ROWS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/mysql/mysql_connection.h"
#include "server/repository/user.h"

namespace userservice::mysql {

// The statements that read or insert rows of the users table, on a session
// the caller leased. Statements with user data are prepared: each shape has
// one text, kept for the life of the process, so a session prepares it once
// and every caller reuses it. Reads whose only parameters are numbers go as
// text together with the position query, to save a round trip.
//
// These may throw sql::SQLException: call them inside RunSql.

// Where a session's server stands, asked after a read statement on the
// same session.
struct ServerPosition {
  int64_t server_id = 0;  // @@server_id
  // At or past everything the statement could see: a transaction enters
  // the binary log (@@gtid_binlog_pos) before its rows become visible, and
  // a replica without a binary log of its replicated transactions has only
  // @@gtid_slave_pos (which can trail a just-committed one by an instant).
  ReplicationPosition covering;
  // Replicated transactions applied and visible (@@gtid_slave_pos, updated
  // after their commit): at or behind what the statement could see.
  ReplicationPosition applied;
};
absl::StatusOr<ServerPosition> CurrentPosition(MysqlConnection& conn);

// What a read returned, and where its server stood right after it (asked
// on the same session, so `position.covering` covers the rows).
template <typename T>
struct SeenAt {
  T rows;
  ServerPosition position;
};

// The user with `key`, if any.
std::optional<User> SelectUser(MysqlConnection& conn, const UserKey& key);
// The same, and the position after it: two round trips, since a username
// or email only ever travels as a parameter of a prepared statement.
absl::StatusOr<SeenAt<std::optional<User>>> SelectUserAt(MysqlConnection& conn,
                                                         const UserKey& key);

// The users among `ids` that exist, in no particular order, and the
// position after them: the select and the position query go in one round
// trip, as text (numbers only). One statement, however many ids: the rows
// come from one point in time.
absl::StatusOr<SeenAt<std::vector<User>>> SelectUsersByIdsAt(
    MysqlConnection& conn, absl::Span<const uint64_t> ids);

// Up to `limit` users with id > `after_id`, ascending by id, and the
// position after them, in one round trip like SelectUsersByIdsAt.
absl::StatusOr<SeenAt<std::vector<User>>> SelectUsersAfterAt(
    MysqlConnection& conn, uint64_t after_id, int limit);

// Inserts all of `users` or none of them and returns their rows in the
// order of `users`. Up to 64 rows go in one statement; more are split over
// several in a transaction, the caller's if one is open. A duplicate key
// throws (ALREADY_EXISTS once mapped); request_ids are not looked at.
absl::StatusOr<std::vector<User>> InsertUsers(MysqlConnection& conn,
                                              absl::Span<const NewUser> users);

// The position of this session's last write (@@last_gtid).
absl::StatusOr<ReplicationPosition> LastWritePosition(MysqlConnection& conn);

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_USER_ROWS_H_
