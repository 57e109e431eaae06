#ifndef USERSERVICE_TESTS_SUPPORT_TEST_CLUSTER_H_
#define USERSERVICE_TESTS_SUPPORT_TEST_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sql {
class Connection;
}  // namespace sql

namespace userservice::testing {

// The real MariaDB primary + replicas that tests/run.sh started with
// deploy/local/cluster.sh, described by the CLUSTER_* variables of
// `cluster.sh env`. Tests that need it fail (never skip) when it is missing.
class TestCluster {
 public:
  // Aborts the test binary with an explanation if the cluster is not
  // configured or not reachable.
  static TestCluster& Get();

  const std::string& primary() const { return primary_; }  // HOST:PORT
  const std::vector<std::string>& replicas() const { return replicas_; }
  std::string replicas_flag() const;  // comma-separated, for --replicas
  const std::string& db_name() const { return db_name_; }
  const std::string& db_user() const { return db_user_; }
  const std::string& password_file() const { return password_file_; }
  std::string AppPassword() const;
  const std::string& admin_user() const { return admin_user_; }
  const std::string& admin_password() const { return admin_password_; }

  // "HOST:PORT" of "primary" or "replica-N".
  std::string Address(const std::string& node) const;
  std::vector<std::string> ReplicaNodes() const;

  // SQL as the cluster's admin user on `node`. Execute throws nothing:
  // failures are returned.
  absl::Status Execute(const std::string& node, const std::string& sql) const;
  absl::StatusOr<std::vector<std::vector<std::string>>> Query(
      const std::string& node, const std::string& sql) const;
  // First column of the first row, or an error if there is none.
  absl::StatusOr<std::string> QueryValue(const std::string& node,
                                         const std::string& sql) const;

  // deploy/local/cluster.sh subcommands against this cluster.
  absl::Status Kill(const std::string& node) const;
  absl::Status StartNode(const std::string& node) const;
  absl::Status Sync(absl::Duration timeout = absl::Seconds(30)) const;

  // STOP/START SLAVE SQL_THREAD on every replica.
  absl::Status StopReplicationSql() const;
  absl::Status StartReplicationSql() const;

  // Whether `node` answers SQL as the admin user now.
  bool IsUp(const std::string& node) const;
  // Starts `node` unless it answers already.
  absl::Status EnsureUp(const std::string& node) const;
  // Puts the cluster back the way tests expect it: every node running,
  // replication (IO and SQL threads) running on every replica, the primary
  // writable, and the replicas caught up. Returns the first failure (after
  // trying every step).
  absl::Status Restore(absl::Duration sync_timeout = absl::Seconds(30)) const;

  // Statements of the app user (db_user) running on `node` (plain or
  // prepared, also ones being killed) whose text matches the SQL LIKE
  // pattern `info_like`, e.g. "UPDATE users%".
  absl::StatusOr<int> RunningStatements(const std::string& node,
                                        const std::string& info_like) const;

 private:
  TestCluster() = default;
  absl::Status ClusterScript(const std::string& args) const;

  std::string dir_;
  std::string primary_;
  std::vector<std::string> replicas_;
  std::string db_name_;
  std::string db_user_;
  std::string password_file_;
  std::string admin_user_;
  std::string admin_password_;
};

// One admin connection to a node that stays open, for what must outlive a
// statement: a transaction holding row locks, LOCK TABLES. Closing it (the
// destructor) releases whatever it holds.
class AdminSession {
 public:
  static absl::StatusOr<std::unique_ptr<AdminSession>> Open(
      const std::string& node);
  ~AdminSession();

  absl::Status Execute(const std::string& sql);
  absl::StatusOr<std::vector<std::vector<std::string>>> Query(
      const std::string& sql);
  // Closes the connection now (idempotent).
  void Close();

 private:
  AdminSession() = default;
  std::string node_;
  std::unique_ptr<sql::Connection> conn_;
};

// The contents of a file, trailing whitespace removed.
std::string ReadFileOrDie(const std::string& path);

// The repository root (for scripts) and the build's binaries.
std::string SourceDir();

}  // namespace userservice::testing

#endif  // USERSERVICE_TESTS_SUPPORT_TEST_CLUSTER_H_
