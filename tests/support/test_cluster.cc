#include "tests/support/test_cluster.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cppconn/connection.h"
#include "cppconn/exception.h"
#include "cppconn/resultset.h"
#include "cppconn/resultset_metadata.h"
#include "cppconn/statement.h"
#include "mysql_driver.h"

namespace userservice::testing {
namespace {

std::string RequireEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    std::fprintf(stderr,
                 "FATAL: %s is not set. Database tests need the cluster that "
                 "tests/run.sh starts (deploy/local/cluster.sh start; eval "
                 "\"$(deploy/local/cluster.sh env)\"). Run tests/run.sh.\n",
                 name);
    std::exit(2);
  }
  return value;
}

}  // namespace

std::string SourceDir() { return USERSERVICE_SOURCE_DIR; }

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "FATAL: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::stringstream s;
  s << in.rdbuf();
  return std::string(absl::StripTrailingAsciiWhitespace(s.str()));
}

TestCluster& TestCluster::Get() {
  static TestCluster* cluster = [] {
    auto* c = new TestCluster();
    c->dir_ = RequireEnv("CLUSTER_DIR");
    c->primary_ = RequireEnv("CLUSTER_PRIMARY");
    c->replicas_ = absl::StrSplit(RequireEnv("CLUSTER_REPLICA_ADDRS"), ',',
                                  absl::SkipEmpty());
    c->db_name_ = RequireEnv("CLUSTER_DB_NAME");
    c->db_user_ = RequireEnv("CLUSTER_DB_USER");
    c->password_file_ = RequireEnv("CLUSTER_DB_PASSWORD_FILE");
    c->admin_user_ = RequireEnv("CLUSTER_ADMIN_USER");
    c->admin_password_ =
        ReadFileOrDie(RequireEnv("CLUSTER_ADMIN_PASSWORD_FILE"));
    sql::mysql::get_mysql_driver_instance();
    absl::StatusOr<std::string> alive = c->QueryValue("primary", "SELECT 1");
    if (!alive.ok()) {
      std::fprintf(stderr,
                   "FATAL: the test cluster's primary at %s does not answer "
                   "(%s). Start it with tests/run.sh.\n",
                   c->primary_.c_str(), alive.status().ToString().c_str());
      std::exit(2);
    }
    return c;
  }();
  return *cluster;
}

std::string TestCluster::replicas_flag() const {
  return absl::StrJoin(replicas_, ",");
}

std::string TestCluster::AppPassword() const {
  return ReadFileOrDie(password_file_);
}

std::string TestCluster::Address(const std::string& node) const {
  if (node == "primary") return primary_;
  int index = -1;
  if (absl::SimpleAtoi(absl::StripPrefix(node, "replica-"), &index) &&
      index >= 0 && index < static_cast<int>(replicas_.size())) {
    return replicas_[index];
  }
  std::fprintf(stderr, "FATAL: unknown cluster node %s\n", node.c_str());
  std::abort();
}

std::vector<std::string> TestCluster::ReplicaNodes() const {
  std::vector<std::string> nodes;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    nodes.push_back(absl::StrCat("replica-", i));
  }
  return nodes;
}

namespace {

std::unique_ptr<sql::Connection> ConnectAdmin(const std::string& address,
                                              const std::string& user,
                                              const std::string& password) {
  sql::ConnectOptionsMap options;
  options["hostName"] = sql::SQLString("tcp://" + address);
  options["userName"] = sql::SQLString(user);
  options["password"] = sql::SQLString(password);
  options["OPT_RECONNECT"] = false;
  options["OPT_CONNECT_TIMEOUT"] = 5;
  // A dead node must not hang a test: bound every read and write.
  options["OPT_READ_TIMEOUT"] = 60;
  options["OPT_WRITE_TIMEOUT"] = 60;
  return std::unique_ptr<sql::Connection>(
      sql::mysql::get_mysql_driver_instance()->connect(options));
}

// Runs one statement; throws sql::SQLException.
std::vector<std::vector<std::string>> RunStatement(
    sql::Connection& conn, const std::string& sql_text) {
  std::unique_ptr<sql::Statement> statement(conn.createStatement());
  std::vector<std::vector<std::string>> rows;
  if (statement->execute(sql_text)) {
    std::unique_ptr<sql::ResultSet> rs(statement->getResultSet());
    const unsigned columns = rs->getMetaData()->getColumnCount();
    while (rs->next()) {
      std::vector<std::string> row;
      for (unsigned c = 1; c <= columns; ++c) {
        row.push_back(rs->isNull(c) ? "NULL" : std::string(rs->getString(c)));
      }
      rows.push_back(std::move(row));
    }
  }
  // Drain further results (multi-statement bodies, stored programs).
  while (statement->getMoreResults()) {
    std::unique_ptr<sql::ResultSet> rs(statement->getResultSet());
  }
  return rows;
}

}  // namespace

absl::StatusOr<std::vector<std::vector<std::string>>> TestCluster::Query(
    const std::string& node, const std::string& sql_text) const {
  try {
    std::unique_ptr<sql::Connection> conn =
        ConnectAdmin(Address(node), admin_user_, admin_password_);
    return RunStatement(*conn, sql_text);
  } catch (const sql::SQLException& e) {
    return absl::UnknownError(absl::StrCat("admin SQL on ", node, " failed (",
                                           e.getErrorCode(), "): ", e.what()));
  }
}

absl::Status TestCluster::Execute(const std::string& node,
                                  const std::string& sql_text) const {
  return Query(node, sql_text).status();
}

absl::StatusOr<std::string> TestCluster::QueryValue(
    const std::string& node, const std::string& sql_text) const {
  absl::StatusOr<std::vector<std::vector<std::string>>> rows =
      Query(node, sql_text);
  if (!rows.ok()) return rows.status();
  if (rows->empty() || rows->front().empty()) {
    return absl::NotFoundError(absl::StrCat("no rows from: ", sql_text));
  }
  return rows->front().front();
}

absl::Status TestCluster::ClusterScript(const std::string& args) const {
  const std::string command =
      absl::StrCat(SourceDir(), "/deploy/local/cluster.sh --dir '", dir_, "' ",
                   args, " >/dev/null");
  const int rc = std::system(command.c_str());
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("cluster.sh ", args, " failed with status ", rc));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TestCluster::ClusterScriptOutput(
    const std::string& args) const {
  const std::string command =
      absl::StrCat(SourceDir(), "/deploy/local/cluster.sh --dir '", dir_, "' ",
                   args, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return absl::InternalError(absl::StrCat("cannot run cluster.sh ", args));
  }
  std::string output;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output.append(buffer, n);
  }
  const int rc = pclose(pipe);
  output = std::string(absl::StripTrailingAsciiWhitespace(output));
  if (rc != 0) {
    return absl::InternalError(absl::StrCat(
        "cluster.sh ", args, " failed with status ", rc, ": ", output));
  }
  return output;
}

absl::Status TestCluster::Kill(const std::string& node) const {
  return ClusterScript("kill " + node);
}

absl::Status TestCluster::StartNode(const std::string& node) const {
  return ClusterScript("start-node " + node);
}

absl::Status TestCluster::Sync(absl::Duration timeout) const {
  return ClusterScript(
      absl::StrCat("sync ", absl::ToInt64Seconds(timeout) + 1));
}

absl::StatusOr<std::string> TestCluster::Writer() const {
  return ClusterScriptOutput("writer");
}

absl::Status TestCluster::Switchover(const std::string& node) const {
  return ClusterScript("switchover " + node);
}

absl::Status TestCluster::Failover(const std::string& node) const {
  return ClusterScript("failover " + node);
}

absl::Status TestCluster::Rejoin(const std::string& node) const {
  return ClusterScript("rejoin " + node);
}

absl::Status TestCluster::Freeze(const std::string& node) const {
  return ClusterScript("freeze " + node);
}

absl::Status TestCluster::Thaw(const std::string& node) const {
  return ClusterScript("thaw " + node);
}

absl::Status TestCluster::StopReplicationSql() const {
  for (const std::string& node : ReplicaNodes()) {
    if (absl::Status s = Execute(node, "STOP SLAVE SQL_THREAD"); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status TestCluster::StartReplicationSql() const {
  for (const std::string& node : ReplicaNodes()) {
    if (absl::Status s = Execute(node, "START SLAVE SQL_THREAD"); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

bool TestCluster::IsUp(const std::string& node) const {
  return QueryValue(node, "SELECT 1").ok();
}

absl::Status TestCluster::EnsureUp(const std::string& node) const {
  if (IsUp(node)) return absl::OkStatus();
  return StartNode(node);
}

std::vector<std::string> TestCluster::Nodes() const {
  std::vector<std::string> nodes = ReplicaNodes();
  nodes.insert(nodes.begin(), "primary");
  return nodes;
}

absl::StatusOr<std::map<std::string, std::string>> TestCluster::SlaveStatus(
    const std::string& node) const {
  try {
    std::unique_ptr<sql::Connection> conn =
        ConnectAdmin(Address(node), admin_user_, admin_password_);
    std::unique_ptr<sql::Statement> statement(conn->createStatement());
    std::unique_ptr<sql::ResultSet> rs(
        statement->executeQuery("SHOW SLAVE STATUS"));
    std::map<std::string, std::string> fields;
    if (rs->next()) {
      sql::ResultSetMetaData* meta = rs->getMetaData();
      for (unsigned c = 1; c <= meta->getColumnCount(); ++c) {
        fields[std::string(meta->getColumnLabel(c))] =
            rs->isNull(c) ? "NULL" : std::string(rs->getString(c));
      }
    }
    return fields;
  } catch (const sql::SQLException& e) {
    return absl::UnknownError(absl::StrCat("SHOW SLAVE STATUS on ", node,
                                           " failed (", e.getErrorCode(),
                                           "): ", e.what()));
  }
}

absl::StatusOr<bool> TestCluster::Follows(const std::string& node,
                                          const std::string& source) const {
  absl::StatusOr<std::string> read_only =
      QueryValue(node, "SELECT @@read_only");
  if (!read_only.ok()) return read_only.status();
  absl::StatusOr<std::map<std::string, std::string>> status = SlaveStatus(node);
  if (!status.ok()) return status.status();
  const std::string address = Address(source);
  const std::string port = address.substr(address.rfind(':') + 1);
  return *read_only == "1" && (*status)["Master_Port"] == port &&
         (*status)["Last_IO_Errno"] != "1236";
}

absl::StatusOr<std::string> TestCluster::SettleWriter() const {
  absl::StatusOr<std::string> writer = Writer();
  if (writer.ok()) return writer;
  // A test left no writer (the writer made read-only) or a second one (a
  // node made writable beside it). cluster.sh records whom it promoted last;
  // nodes start writable only when they are that one.
  std::string recorded = "primary";
  std::ifstream record(dir_ + "/writer");
  if (record) {
    std::getline(record, recorded);
  }
  absl::StatusOr<std::map<std::string, std::string>> status =
      SlaveStatus(recorded);
  if (!status.ok()) return status.status();
  if (!status->empty()) return writer.status();
  if (absl::Status s = Execute(recorded, "SET GLOBAL read_only=OFF"); !s.ok()) {
    return s;
  }
  return recorded;
}

absl::Status TestCluster::Restore(absl::Duration sync_timeout) const {
  absl::Status first;
  auto note = [&first](absl::Status s) {
    if (first.ok() && !s.ok()) first = std::move(s);
  };
  for (const std::string& node : Nodes()) {
    note(Thaw(node));
    note(EnsureUp(node));
  }
  if (!first.ok()) return first;
  absl::StatusOr<std::string> writer = SettleWriter();
  if (!writer.ok()) return writer.status();
  for (const std::string& node : Nodes()) {
    if (node == *writer) continue;
    absl::StatusOr<bool> follows = Follows(node, *writer);
    if (!follows.ok()) {
      note(follows.status());
      continue;
    }
    // START SLAVE starts whichever replication thread is stopped.
    note(*follows ? Execute(node, "START SLAVE") : Rejoin(node));
  }
  if (first.ok() && *writer != "primary") note(Switchover("primary"));
  if (first.ok()) note(Sync(sync_timeout));
  return first;
}

absl::StatusOr<int> TestCluster::RunningStatements(
    const std::string& node, const std::string& info_like) const {
  absl::StatusOr<std::string> count = QueryValue(
      node, absl::StrCat("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                         "WHERE USER = '",
                         db_user_, "' AND COMMAND <> 'Sleep' AND INFO LIKE '",
                         info_like, "'"));
  if (!count.ok()) return count.status();
  int n = 0;
  if (!absl::SimpleAtoi(*count, &n)) {
    return absl::InternalError(absl::StrCat("not a count: ", *count));
  }
  return n;
}

absl::StatusOr<std::unique_ptr<AdminSession>> AdminSession::Open(
    const std::string& node) {
  TestCluster& cluster = TestCluster::Get();
  auto session = std::unique_ptr<AdminSession>(new AdminSession());
  session->node_ = node;
  try {
    session->conn_ = ConnectAdmin(cluster.Address(node), cluster.admin_user(),
                                  cluster.admin_password());
  } catch (const sql::SQLException& e) {
    return absl::UnknownError(absl::StrCat("admin connection to ", node,
                                           " failed (", e.getErrorCode(),
                                           "): ", e.what()));
  }
  return session;
}

AdminSession::~AdminSession() { Close(); }

void AdminSession::Close() {
  if (conn_ == nullptr) return;
  try {
    conn_->close();
  } catch (const sql::SQLException&) {
    // Closing a connection to a dead node: nothing is held any more.
  }
  conn_.reset();
}

absl::Status AdminSession::Execute(const std::string& sql_text) {
  return Query(sql_text).status();
}

absl::StatusOr<std::vector<std::vector<std::string>>> AdminSession::Query(
    const std::string& sql_text) {
  if (conn_ == nullptr) {
    return absl::FailedPreconditionError("admin session is closed");
  }
  try {
    return RunStatement(*conn_, sql_text);
  } catch (const sql::SQLException& e) {
    return absl::UnknownError(absl::StrCat("admin SQL on ", node_, " failed (",
                                           e.getErrorCode(), "): ", e.what()));
  }
}

}  // namespace userservice::testing
