#ifndef USERSERVICE_SERVER_MYSQL_MYSQL_CONNECTION_H_
#define USERSERVICE_SERVER_MYSQL_MYSQL_CONNECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/pool/connection_pool.h"

namespace sql {
class Connection;
class PreparedStatement;
class ResultSet;
class Statement;
}  // namespace sql

namespace userservice::mysql {

// Where one database endpoint lives.
struct Endpoint {
  std::string name;  // "primary", "replica-0", ... as reported to clients
  std::string host;
  int port = 3306;
};

// TLS to the database. Connector/C++ hands the paths to the client library,
// which reads the files on every connect, so rotated files are used by the
// next connection.
struct DatabaseTls {
  std::string ca;    // CA bundle the server's certificate must chain to
  std::string cert;  // client certificate (REQUIRE X509/SUBJECT users)
  std::string key;   // its private key
  // Also check that the server's certificate names the host connected to
  // (MariaDB's client library checks the chain whenever a CA is given).
  bool verify_server_identity = true;

  // Any file turns TLS on, and then a connection without TLS is refused.
  bool enabled() const { return !ca.empty() || !cert.empty(); }
};

// How every connection is opened, shared by all endpoints.
struct ConnectionSettings {
  std::string database = "userservice";
  std::string user = "userservice";
  // Called on every connect, so a rotated password file or secret is
  // picked up by the next connection without a restart.
  std::function<absl::StatusOr<std::string>()> password;
  absl::Duration connect_timeout = absl::Seconds(2);
  // Backstop for a server that stops answering mid-query; the deadline-based
  // max_statement_time normally ends slow queries long before this.
  absl::Duration socket_timeout = absl::Seconds(30);
  DatabaseTls tls;
};

// One Connector/C++ session with its own prepared-statement cache.
//
// Auto-reconnect is off on purpose: Connector/C++ 1.1 re-opens a lost
// session silently but its prepared statements then fail (error 2030), so a
// connection that lost its server is discarded by the pool instead.
// Methods other than Open may throw sql::SQLException; call them inside
// RunSql.
class MysqlConnection {
 public:
  // A failure at the connection level (refused, unreachable, no answer)
  // is UNAVAILABLE and marked WasNotExecuted: no statement was sent.
  static absl::StatusOr<std::unique_ptr<MysqlConnection>> Open(
      const Endpoint& endpoint, const ConnectionSettings& settings,
      absl::Time deadline);

  ~MysqlConnection();
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;

  // The cached prepared statement for `sql_text`, prepared on first use.
  // `sql_text` must be a string literal or otherwise outlive the connection.
  sql::PreparedStatement& Prepare(const char* sql_text);

  // Makes the server abort any statement of this session that runs longer
  // than (a little less than) `budget`, so no query outlives its call. Only
  // talks to the server when the rounded value changes.
  void SetStatementBudget(absl::Duration budget);

  // Runs a statement that takes no parameters and returns no rows
  // (transaction control).
  void Execute(const char* sql_text);

  // Sends `sql_text`, several statements separated by ';', in one round
  // trip, and hands each one's result set to `read` with its index, in
  // order. Text protocol: never put user data in `sql_text`.
  void ExecuteTogether(
      const std::string& sql_text,
      absl::FunctionRef<void(int statement, sql::ResultSet& rs)> read);

  // Explicit transactions. A body that fails between Begin and Commit
  // leaves the rollback to the caller that leased the connection.
  void Begin();
  void Commit();
  void Rollback();
  bool in_transaction() const { return in_transaction_; }

  sql::Connection& raw() { return *conn_; }

  // The server's id for this session (CONNECTION_ID()), as KILL QUERY and
  // information_schema.PROCESSLIST name it. Fetched once, when opened.
  uint64_t id() const { return id_; }

  // The session's TCP socket, found when opened (-1 if it could not be, e.g.
  // over a unix socket or through NAT). It belongs to the session: others
  // may only shut it down (SocketWatchdog), never close it.
  int socket_fd() const { return socket_fd_; }

  // Whether the server still answers a trivial round trip on this session:
  // for the pool's validator. Never throws; any failure is false.
  bool Ping();

 private:
  MysqlConnection(std::unique_ptr<sql::Connection> conn,
                  std::string endpoint_name, uint64_t id, int socket_fd);

  std::unique_ptr<sql::Connection> conn_;
  const std::string endpoint_name_;
  const uint64_t id_;
  const int socket_fd_;
  absl::flat_hash_map<const char*, std::unique_ptr<sql::PreparedStatement>>
      statements_;
  std::unique_ptr<sql::Statement> text_statement_;  // ExecuteTogether's
  // Milliseconds currently set as the session's max_statement_time; -1 for
  // the server default.
  int64_t statement_budget_ms_ = -1;
  bool in_transaction_ = false;
};

// The sessions kept open to one endpoint.
using MysqlPool = ConnectionPool<MysqlConnection>;

// The database password kept in `path` (a mounted secret), without the
// trailing newline that editors and `echo` add; UNAVAILABLE naming the file
// when it cannot be read.
absl::StatusOr<std::string> ReadPasswordFile(const std::string& path);

// Initializes Connector/C++ (and the client library under it). Must run
// once, before any thread opens a connection: the driver's lazy
// initialization is not thread-safe.
void InitDriver();

// The value SetStatementBudget rounds `remaining` down to: one of a fixed
// ladder of values 25% apart, so that calls with similar deadlines share a
// setting and the session variable rarely needs changing. At least 1 ms, at
// most one hour.
int64_t RoundedStatementBudgetMs(absl::Duration remaining);

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_MYSQL_CONNECTION_H_
