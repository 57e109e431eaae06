#ifndef USERSERVICE_TESTS_SUPPORT_TEST_CLUSTER_H_
#define USERSERVICE_TESTS_SUPPORT_TEST_CLUSTER_H_

#include <map>
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
  // Waits until every other running node applied the writer's position.
  absl::Status Sync(absl::Duration timeout = absl::Seconds(30)) const;

  // The node that takes writes now ("primary" or "replica-N"): running,
  // read_only off, replicating from nobody. An error when there is none or
  // more than one.
  absl::StatusOr<std::string> Writer() const;
  // Planned move of the writer to `node` (every node up): the writer turns
  // read-only, `node` applies all it wrote and takes writes, every other
  // running node replicates from `node`.
  absl::Status Switchover(const std::string& node) const;
  // The writer is gone (killed or frozen): `node` applies what it received,
  // takes writes, and every other running node replicates from it.
  absl::Status Failover(const std::string& node) const;
  // `node` turns read-only and replicates from the writer, caught up; if it
  // holds commits the writer never had, it is rebuilt from a dump first.
  absl::Status Rejoin(const std::string& node) const;
  // SIGSTOP / SIGCONT of the node's mariadbd: a frozen node accepts TCP
  // connections and never answers. Thaw is a no-op on a node that is not
  // frozen or not running.
  absl::Status Freeze(const std::string& node) const;
  absl::Status Thaw(const std::string& node) const;

  // STOP/START SLAVE SQL_THREAD on every replica.
  absl::Status StopReplicationSql() const;
  absl::Status StartReplicationSql() const;

  // Whether `node` answers SQL as the admin user now.
  bool IsUp(const std::string& node) const;
  // Starts `node` unless it answers already.
  absl::Status EnsureUp(const std::string& node) const;
  // Puts the cluster back the way tests expect it: every node running and
  // thawed, node "primary" the writer (switched back to if another node took
  // over), every replica read-only and replicating from it with both threads
  // (a node that replicates from elsewhere or from nobody is rejoined), and
  // the replicas caught up. Returns the first failure (after trying every
  // step that does not depend on an earlier one).
  absl::Status Restore(absl::Duration sync_timeout = absl::Seconds(30)) const;

  // Statements of the app user (db_user) running on `node` (plain or
  // prepared, also ones being killed) whose text matches the SQL LIKE
  // pattern `info_like`, e.g. "UPDATE users%".
  absl::StatusOr<int> RunningStatements(const std::string& node,
                                        const std::string& info_like) const;

 private:
  TestCluster() = default;
  absl::Status ClusterScript(const std::string& args) const;
  // What the script printed (stdout and stderr); on failure, in the status.
  absl::StatusOr<std::string> ClusterScriptOutput(
      const std::string& args) const;
  std::vector<std::string> Nodes() const;  // "primary" and the replicas
  // SHOW SLAVE STATUS as column -> value; empty when `node` has no source.
  absl::StatusOr<std::map<std::string, std::string>> SlaveStatus(
      const std::string& node) const;
  // Whether `node` is read-only and replicates from `source` (its threads
  // may be stopped, but the source has not refused it).
  absl::StatusOr<bool> Follows(const std::string& node,
                               const std::string& source) const;
  // The writer Restore keeps: Writer(), or, when there is none or several,
  // the node cluster.sh promoted last, made writable if it replicates from
  // nobody.
  absl::StatusOr<std::string> SettleWriter() const;

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
