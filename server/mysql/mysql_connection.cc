#include "server/mysql/mysql_connection.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "cppconn/connection.h"
#include "cppconn/prepared_statement.h"
#include "cppconn/resultset.h"
#include "cppconn/statement.h"
#include "mysql_driver.h"
#include "server/common/log.h"
#include "server/mysql/session_socket.h"
#include "server/mysql/sql_status.h"
#include "server/repository/write_outcome.h"

namespace userservice::mysql {
namespace {

// Connector/C++ takes whole seconds for its socket timeouts.
int CeilSeconds(absl::Duration d) {
  return std::max<int>(1,
                       static_cast<int>(std::ceil(absl::ToDoubleSeconds(d))));
}

// The session's id and its client address as the server sees it, in one
// round trip.
constexpr char kSelectSelf[] =
    "SELECT ID, HOST FROM information_schema.PROCESSLIST "
    "WHERE ID = CONNECTION_ID()";

// Says once per endpoint that its statements cannot be abandoned early.
void WarnNoSocket(const Endpoint& endpoint) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* const warned = new absl::flat_hash_set<std::string>();
  {
    absl::MutexLock lock(&mu);
    if (!warned->insert(endpoint.name).second) return;
  }
  log::Warning(
      "cannot find the sockets of this endpoint's sessions (unix socket, NAT "
      "or proxy?); a statement on it that stops getting answers waits for "
      "the socket timeout",
      {{"endpoint", endpoint.name}});
}

}  // namespace

absl::StatusOr<std::string> ReadPasswordFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::UnavailableError(
        absl::StrCat("cannot read the database password file ", path));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  return std::string(absl::StripTrailingAsciiWhitespace(contents.str()));
}

void InitDriver() { sql::mysql::get_mysql_driver_instance(); }

int64_t RoundedStatementBudgetMs(absl::Duration remaining) {
  constexpr int64_t kMaxMs = 3600 * 1000;
  const int64_t ms =
      std::min(kMaxMs, absl::ToInt64Milliseconds(
                           std::min(remaining, absl::Milliseconds(kMaxMs))));
  if (ms <= 1) return 1;
  // Largest 1.25^k (rounded) not above ms: a deadline is never extended,
  // and at most ~20% of it is given up.
  double step = 1;
  int64_t best = 1;
  while (true) {
    step *= 1.25;
    const int64_t candidate = static_cast<int64_t>(std::llround(step));
    if (candidate > ms) break;
    best = candidate;
  }
  return best;
}

absl::StatusOr<std::unique_ptr<MysqlConnection>> MysqlConnection::Open(
    const Endpoint& endpoint, const ConnectionSettings& settings,
    absl::Time deadline) {
  absl::StatusOr<std::string> password = settings.password();
  if (!password.ok()) return password.status();

  // The connect may not outlive the caller's deadline.
  const absl::Duration connect_budget =
      std::min(settings.connect_timeout, deadline - absl::Now());
  if (connect_budget <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "deadline exceeded before connecting to database ", endpoint.name));
  }

  std::unique_ptr<sql::Connection> conn;
  uint64_t id = 0;
  std::string client_address;
  auto connect = [&]() {
    sql::ConnectOptionsMap options;
    options["hostName"] = sql::SQLString(
        absl::StrCat("tcp://", endpoint.host, ":", endpoint.port));
    options["userName"] = sql::SQLString(settings.user);
    options["password"] = sql::SQLString(*password);
    options["schema"] = sql::SQLString(settings.database);
    options["OPT_RECONNECT"] = false;  // must be a bool, see class comment
    options["OPT_CONNECT_TIMEOUT"] = CeilSeconds(connect_budget);
    options["OPT_READ_TIMEOUT"] = CeilSeconds(settings.socket_timeout);
    options["OPT_WRITE_TIMEOUT"] = CeilSeconds(settings.socket_timeout);
    options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
    // For ExecuteTogether; the statements with user data are prepared, and
    // a prepared statement holds one statement whatever this says.
    options["CLIENT_MULTI_STATEMENTS"] = true;
    if (settings.tls.enabled()) {
      // Connector/C++ 1.1 passes these to mysql_ssl_set(), which turns TLS
      // on; sslEnforce makes a server without TLS an error instead of a
      // silent plaintext fallback. sslVerify is
      // MYSQL_OPT_SSL_VERIFY_SERVER_CERT, the host name check.
      if (!settings.tls.ca.empty()) {
        options["sslCA"] = sql::SQLString(settings.tls.ca);
      }
      if (!settings.tls.cert.empty()) {
        options["sslCert"] = sql::SQLString(settings.tls.cert);
        options["sslKey"] = sql::SQLString(settings.tls.key);
      }
      options["sslEnforce"] = true;
      options["sslVerify"] = settings.tls.verify_server_identity;
    }
    sql::mysql::MySQL_Driver* driver = sql::mysql::get_mysql_driver_instance();
    conn.reset(driver->connect(options));
    std::unique_ptr<sql::Statement> setup(conn->createStatement());
    // Timestamps are stored and read as UTC.
    setup->execute("SET time_zone = '+00:00'");
    // The id lets a watchdog KILL QUERY this session's statement from
    // another connection; the address finds the session's socket.
    std::unique_ptr<sql::ResultSet> rs(setup->executeQuery(kSelectSelf));
    if (rs->next()) {
      id = rs->getUInt64(1);
      if (!rs->isNull(2)) client_address = rs->getString(2);
    }
    return absl::OkStatus();
  };
  SqlOutcome outcome;
  absl::Status status = RunSql(endpoint.name, deadline, connect, &outcome);
  if (!status.ok()) {
    // Nothing but the session's own setup was sent.
    if (IsConnectionError(outcome.error_code) && absl::IsUnavailable(status)) {
      return MarkNotExecuted(std::move(status));
    }
    return status;
  }
  const int fd = FindSessionSocket(client_address, endpoint.port);
  if (fd < 0) WarnNoSocket(endpoint);
  return std::unique_ptr<MysqlConnection>(
      new MysqlConnection(std::move(conn), endpoint.name, id, fd));
}

MysqlConnection::MysqlConnection(std::unique_ptr<sql::Connection> conn,
                                 std::string endpoint_name, uint64_t id,
                                 int socket_fd)
    : conn_(std::move(conn)),
      endpoint_name_(std::move(endpoint_name)),
      id_(id),
      socket_fd_(socket_fd) {}

MysqlConnection::~MysqlConnection() {
  // Statements belong to the session: close them before it.
  statements_.clear();
  text_statement_.reset();
  if (conn_ != nullptr) {
    // Closing a connection whose server is gone can throw; there is
    // nothing useful to do about it here.
    RunSql("closing", absl::InfiniteFuture(), [&]() {
      conn_->close();
      return absl::OkStatus();
    }).IgnoreError();
  }
}

sql::PreparedStatement& MysqlConnection::Prepare(const char* sql_text) {
  auto it = statements_.find(sql_text);
  if (it == statements_.end()) {
    it = statements_
             .emplace(sql_text, std::unique_ptr<sql::PreparedStatement>(
                                    conn_->prepareStatement(sql_text)))
             .first;
  }
  return *it->second;
}

void MysqlConnection::SetStatementBudget(absl::Duration budget) {
  const int64_t ms = RoundedStatementBudgetMs(budget);
  if (ms == statement_budget_ms_) return;
  sql::PreparedStatement& set = Prepare("SET SESSION max_statement_time = ?");
  set.setDouble(1, static_cast<double>(ms) / 1000.0);
  set.execute();
  statement_budget_ms_ = ms;
}

bool MysqlConnection::Ping() {
  // isValid() is a COM_PING round trip; with auto-reconnect off it fails on
  // a dead session instead of silently replacing it.
  bool alive = false;
  absl::Status status = RunSql(endpoint_name_, absl::InfiniteFuture(), [&]() {
    alive = conn_->isValid();
    return absl::OkStatus();
  });
  return status.ok() && alive;
}

void MysqlConnection::Execute(const char* sql_text) {
  std::unique_ptr<sql::Statement> statement(conn_->createStatement());
  statement->execute(sql_text);
}

void MysqlConnection::ExecuteTogether(
    const std::string& sql_text,
    absl::FunctionRef<void(int statement, sql::ResultSet& rs)> read) {
  if (text_statement_ == nullptr) {
    text_statement_.reset(conn_->createStatement());
  }
  text_statement_->execute(sql_text);
  int statement = 0;
  do {
    std::unique_ptr<sql::ResultSet> rs(text_statement_->getResultSet());
    if (rs != nullptr) read(statement, *rs);
    ++statement;
  } while (text_statement_->getMoreResults());
}

void MysqlConnection::Begin() {
  Execute("START TRANSACTION");
  in_transaction_ = true;
}

void MysqlConnection::Commit() {
  Execute("COMMIT");
  in_transaction_ = false;
}

void MysqlConnection::Rollback() {
  // Whatever happens, the transaction is over from our side: if ROLLBACK
  // itself fails the connection is discarded.
  in_transaction_ = false;
  Execute("ROLLBACK");
}

}  // namespace userservice::mysql
