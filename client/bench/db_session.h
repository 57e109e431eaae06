#ifndef CLIENT_BENCH_DB_SESSION_H_
#define CLIENT_BENCH_DB_SESSION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/bench/bench_config.h"

namespace userservice::mysql {
class MysqlConnection;
}  // namespace userservice::mysql

namespace userbench {

struct DbLogin {
  std::string user;
  std::string password;
  std::string database;
};

// Reads --db-password-file (without a trailing newline), else
// $USER_BENCH_DB_PASSWORD, else no password.
absl::StatusOr<DbLogin> LoadDbLogin(const DbOptions& options);

// One connection to one database, opened and set up by the service's own
// MysqlConnection (UTC time zone, utf8mb4, no auto-reconnect), with the
// service's statements prepared once and reused through its cache. Not
// thread-safe: one session per worker thread.
//
// The Run* methods are the measured operations. They return "" on success
// or an error name shared with the service mode's status codes where one
// fits ("NOT_FOUND", "ALREADY_EXISTS", "DEADLINE_EXCEEDED", "UNAVAILABLE"),
// else "MYSQL_<error code>".
class DbSession {
 public:
  // `timeout` bounds the connect, each statement (max_statement_time) and
  // the socket.
  static absl::StatusOr<std::unique_ptr<DbSession>> Open(
      const HostPort& endpoint, const DbLogin& login, absl::Duration timeout);
  ~DbSession();
  DbSession(const DbSession&) = delete;
  DbSession& operator=(const DbSession&) = delete;

  // GetUser by id: one point select, every column read.
  std::string RunSelectUser(uint64_t id);
  // BatchGetUsers: one SELECT ... WHERE id IN (...) with a placeholder per
  // id (prepared once per count of ids), every column read; NOT_FOUND
  // unless every id has a row.
  std::string RunSelectUsers(const std::vector<uint64_t>& ids);
  // CreateUser without request_id: INSERT ... RETURNING, then
  // SELECT @@last_gtid (the service's two round trips). Sets *gtid.
  std::string RunInsertUser(const std::string& username,
                            const std::string& email, std::string* gtid);
  // A session read's replica wait: MASTER_GTID_WAIT(gtid, wait). Sets
  // *applied.
  std::string RunGtidWait(const std::string& gtid, absl::Duration wait,
                          bool* applied);

  // True after a connection-level error: open a new session.
  bool broken() const { return broken_; }

  // Setup (not measured). Ids of the users whose username starts with
  // `prefix`, by username.
  absl::StatusOr<std::map<std::string, uint64_t>> SelectIdsByPrefix(
      const std::string& prefix);
  // Inserts users named `usernames` (with BenchEmail emails) in multi-row
  // statements.
  absl::Status InsertUsers(const std::vector<std::string>& usernames);
  // @@global.gtid_binlog_pos of this (primary) database.
  absl::StatusOr<std::string> BinlogPosition();
  // Waits until this (replica) database applied `gtids`.
  absl::Status AwaitPosition(const std::string& gtids, absl::Duration timeout);

  const std::string& name() const { return name_; }

 private:
  DbSession(std::unique_ptr<userservice::mysql::MysqlConnection> conn,
            std::string name);
  // Runs `fn` (which may throw sql::SQLException) through RunSql and returns
  // its result or the error's name, marking the session broken on
  // connection errors.
  std::string Guard(absl::FunctionRef<std::string()> fn);
  // The same for setup steps, with the error as a status.
  absl::Status GuardSetup(absl::FunctionRef<absl::Status()> fn);

  // RunSelectUsers' statement text by count of ids. The connection caches
  // statements by text pointer, so the texts outlive it (declared first).
  std::map<size_t, std::string> select_by_ids_;
  std::unique_ptr<userservice::mysql::MysqlConnection> conn_;
  std::string name_;
  bool broken_ = false;
};

}  // namespace userbench

#endif  // CLIENT_BENCH_DB_SESSION_H_
