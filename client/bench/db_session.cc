#include "client/bench/db_session.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/bench/names.h"
#include "cppconn/connection.h"
#include "cppconn/prepared_statement.h"
#include "cppconn/resultset.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/sql_status.h"

namespace userbench {
namespace {

using ::userservice::mysql::MysqlConnection;
using ::userservice::mysql::RunSql;
using ::userservice::mysql::SqlOutcome;

// The service's statements, verbatim (server/mysql/user_rows.cc).
#define USER_COLUMNS "id, username, email, create_time, update_time, version"
constexpr char kSelectById[] =
    "SELECT " USER_COLUMNS " FROM users WHERE id = ?";
// Followed by one placeholder per id: "?,?,?)".
constexpr char kSelectByIdsPrefix[] =
    "SELECT " USER_COLUMNS " FROM users WHERE id IN (";
constexpr char kInsertUser[] =
    "INSERT INTO users (username, email, create_time, update_time, version) "
    "VALUES (?, ?, NOW(6), NOW(6), 1) RETURNING " USER_COLUMNS;
#undef USER_COLUMNS
constexpr char kLastGtid[] = "SELECT @@last_gtid";
constexpr char kGtidWait[] = "SELECT MASTER_GTID_WAIT(?, ?)";

// Setup only.
constexpr char kSelectByPrefix[] =
    "SELECT id, username FROM users WHERE username_key LIKE ?";
constexpr char kBinlogPosition[] = "SELECT @@global.gtid_binlog_pos";
constexpr size_t kInsertBatch = 500;

// Client errors meaning the connection is gone (CR_CONNECTION_ERROR,
// CR_CONN_HOST_ERROR, CR_SERVER_GONE_ERROR, CR_SERVER_LOST,
// CR_SERVER_LOST_EXTENDED).
bool ConnectionLost(int code) {
  return code == 2002 || code == 2003 || code == 2006 ||
         code == userservice::mysql::kErrServerLost || code == 2055;
}

// Also true after a failure that was not a database error at all (error 0):
// the client library's state is then unknown.
bool Broken(const SqlOutcome& outcome) {
  return outcome.error_code == 0 ? outcome.connection_broken
                                 : ConnectionLost(outcome.error_code);
}

std::string ErrorName(int code) {
  if (code == 0) return "INTERNAL";
  if (ConnectionLost(code)) return "UNAVAILABLE";
  if (code == userservice::mysql::kErrStatementTimeout) {
    return "DEADLINE_EXCEEDED";
  }
  if (code == userservice::mysql::kErrDuplicateEntry) return "ALREADY_EXISTS";
  return absl::StrCat("MYSQL_", code);
}

}  // namespace

absl::StatusOr<DbLogin> LoadDbLogin(const DbOptions& options) {
  DbLogin login{options.user, "", options.name};
  if (!options.password_file.empty()) {
    absl::StatusOr<std::string> password =
        userservice::mysql::ReadPasswordFile(options.password_file);
    if (!password.ok()) {
      return absl::NotFoundError(
          absl::StrCat("--db-password-file: ", password.status().message()));
    }
    login.password = *std::move(password);
  } else if (const char* env = std::getenv("USER_BENCH_DB_PASSWORD")) {
    login.password = env;
  }
  return login;
}

absl::StatusOr<std::unique_ptr<DbSession>> DbSession::Open(
    const HostPort& endpoint, const DbLogin& login, absl::Duration timeout) {
  const std::string name = absl::StrCat(endpoint.host, ":", endpoint.port);
  userservice::mysql::ConnectionSettings settings;
  settings.database = login.database;
  settings.user = login.user;
  settings.password = [password = login.password]() {
    return absl::StatusOr<std::string>(password);
  };
  settings.connect_timeout = timeout;
  // The socket backstop outlives max_statement_time, which stops a slow
  // statement first with a proper error.
  settings.socket_timeout = timeout + absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<MysqlConnection>> conn = MysqlConnection::Open(
      {name, endpoint.host, endpoint.port}, settings, absl::InfiniteFuture());
  absl::Status status = conn.status();
  if (status.ok()) {
    const std::string budget = absl::StrCat("SET SESSION max_statement_time = ",
                                            absl::ToDoubleSeconds(timeout));
    status = RunSql(name, absl::InfiniteFuture(), [&]() {
      (*conn)->Execute(budget.c_str());
      return absl::OkStatus();
    });
  }
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot connect to database ",
                                               name, " as ", login.user, ": ",
                                               status.message()));
  }
  return std::unique_ptr<DbSession>(new DbSession(*std::move(conn), name));
}

DbSession::DbSession(std::unique_ptr<MysqlConnection> conn, std::string name)
    : conn_(std::move(conn)), name_(std::move(name)) {}

DbSession::~DbSession() = default;

std::string DbSession::Guard(absl::FunctionRef<std::string()> fn) {
  std::string result;
  SqlOutcome outcome;
  const absl::Status status = RunSql(
      name_, absl::InfiniteFuture(),
      [&]() {
        result = fn();
        return absl::OkStatus();
      },
      &outcome);
  if (status.ok()) return result;
  if (Broken(outcome)) broken_ = true;
  return ErrorName(outcome.error_code);
}

absl::Status DbSession::GuardSetup(absl::FunctionRef<absl::Status()> fn) {
  SqlOutcome outcome;
  const absl::Status status =
      RunSql(name_, absl::InfiniteFuture(), fn, &outcome);
  if (status.ok()) return status;
  if (Broken(outcome)) broken_ = true;
  return absl::InternalError(absl::StrCat("database ", name_, ": ",
                                          ErrorName(outcome.error_code), " ",
                                          status.message()));
}

namespace {

// Every column of a user row, fetched as the service reads them, so both
// modes pay for the same conversions.
void ReadUserColumns(sql::ResultSet& rs) {
  rs.getUInt64(1);
  rs.getString(2);
  rs.getString(3);
  rs.getString(4);
  rs.getString(5);
  rs.getInt64(6);
}

}  // namespace

std::string DbSession::RunSelectUser(uint64_t id) {
  return Guard([&]() -> std::string {
    sql::PreparedStatement& select = conn_->Prepare(kSelectById);
    select.setUInt64(1, id);
    std::unique_ptr<sql::ResultSet> rs(select.executeQuery());
    if (!rs->next()) return "NOT_FOUND";
    ReadUserColumns(*rs);
    return "";
  });
}

std::string DbSession::RunSelectUsers(const std::vector<uint64_t>& ids) {
  std::string& text = select_by_ids_[ids.size()];
  if (text.empty()) {
    text = kSelectByIdsPrefix;
    for (size_t i = 0; i < ids.size(); ++i) {
      absl::StrAppend(&text, i == 0 ? "?" : ",?");
    }
    text += ")";
  }
  // An id asked for twice is one row.
  std::vector<uint64_t> distinct = ids;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  return Guard([&]() -> std::string {
    sql::PreparedStatement& select = conn_->Prepare(text.c_str());
    for (size_t i = 0; i < ids.size(); ++i) {
      select.setUInt64(static_cast<unsigned int>(i + 1), ids[i]);
    }
    std::unique_ptr<sql::ResultSet> rs(select.executeQuery());
    size_t found = 0;
    while (rs->next()) {
      ReadUserColumns(*rs);
      ++found;
    }
    return found == distinct.size() ? "" : "NOT_FOUND";
  });
}

std::string DbSession::RunInsertUser(const std::string& username,
                                     const std::string& email,
                                     std::string* gtid) {
  return Guard([&]() -> std::string {
    sql::PreparedStatement& insert = conn_->Prepare(kInsertUser);
    insert.setString(1, username);
    insert.setString(2, email);
    std::unique_ptr<sql::ResultSet> rs(insert.executeQuery());
    if (!rs->next()) return "INTERNAL";
    ReadUserColumns(*rs);
    std::unique_ptr<sql::ResultSet> position(
        conn_->Prepare(kLastGtid).executeQuery());
    if (position->next() && !position->isNull(1)) {
      *gtid = position->getString(1);
    }
    return "";
  });
}

std::string DbSession::RunGtidWait(const std::string& gtid, absl::Duration wait,
                                   bool* applied) {
  return Guard([&]() -> std::string {
    sql::PreparedStatement& select = conn_->Prepare(kGtidWait);
    select.setString(1, gtid);
    select.setDouble(2, absl::ToDoubleSeconds(wait));
    std::unique_ptr<sql::ResultSet> rs(select.executeQuery());
    *applied = rs->next() && !rs->isNull(1) && rs->getInt(1) == 0;
    return "";
  });
}

absl::StatusOr<std::map<std::string, uint64_t>> DbSession::SelectIdsByPrefix(
    const std::string& prefix) {
  std::map<std::string, uint64_t> ids;
  absl::Status status = GuardSetup([&]() {
    sql::PreparedStatement& select = conn_->Prepare(kSelectByPrefix);
    // Prefixes are [a-z0-9-]: nothing to escape for LIKE.
    select.setString(1, absl::StrCat(prefix, "%"));
    std::unique_ptr<sql::ResultSet> rs(select.executeQuery());
    while (rs->next()) ids[rs->getString(2)] = rs->getUInt64(1);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return ids;
}

absl::Status DbSession::InsertUsers(const std::vector<std::string>& usernames) {
  return GuardSetup([&]() {
    for (size_t begin = 0; begin < usernames.size(); begin += kInsertBatch) {
      const size_t end = std::min(usernames.size(), begin + kInsertBatch);
      std::string text =
          "INSERT INTO users (username, email, create_time, update_time, "
          "version) VALUES ";
      for (size_t i = begin; i < end; ++i) {
        absl::StrAppend(&text, i == begin ? "" : ",",
                        "(?, ?, NOW(6), NOW(6), 1)");
      }
      std::unique_ptr<sql::PreparedStatement> insert(
          conn_->raw().prepareStatement(text));
      for (size_t i = begin; i < end; ++i) {
        const unsigned int column = static_cast<unsigned int>(2 * (i - begin));
        insert->setString(column + 1, usernames[i]);
        insert->setString(column + 2, BenchEmail(usernames[i]));
      }
      insert->executeUpdate();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> DbSession::BinlogPosition() {
  std::string position;
  absl::Status status = GuardSetup([&]() {
    std::unique_ptr<sql::ResultSet> rs(
        conn_->Prepare(kBinlogPosition).executeQuery());
    if (rs->next() && !rs->isNull(1)) position = rs->getString(1);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return position;
}

absl::Status DbSession::AwaitPosition(const std::string& gtids,
                                      absl::Duration timeout) {
  if (gtids.empty()) return absl::OkStatus();
  // Waits in one-second slices: the session's max_statement_time (the
  // run's --timeout) would stop one long MASTER_GTID_WAIT, and after a
  // write-heavy run a replica can be that far behind.
  const absl::Time give_up = absl::Now() + timeout;
  bool applied = false;
  while (!applied && absl::Now() < give_up) {
    const absl::Duration slice =
        std::min(absl::Seconds(1), give_up - absl::Now());
    const std::string error = RunGtidWait(gtids, slice, &applied);
    if (!error.empty()) {
      return absl::InternalError(absl::StrCat(
          "database ", name_, ": waiting for replication: ", error));
    }
  }
  if (!applied) {
    return absl::DeadlineExceededError(
        absl::StrCat("replica ", name_, " did not apply ", gtids, " within ",
                     absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

}  // namespace userbench
