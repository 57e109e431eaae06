// The database side of health checking against the real primary + replicas
// started by tests/run.sh: heartbeats, replica probes, lag from the
// ledger, a read-only primary, KILL QUERY and its watchdog, and the
// connection's id and ping.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cppconn/prepared_statement.h"
#include "cppconn/resultset.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/health/lag_ledger.h"
#include "server/health/topology.h"
#include "server/mysql/migrations.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/mysql_endpoint_probe.h"
#include "server/mysql/mysql_heartbeat.h"
#include "server/mysql/primary_demotion.h"
#include "server/mysql/query_killer.h"
#include "server/mysql/sql_status.h"
#include "tests/integration/app_database.h"
#include "tests/support/test_cluster.h"

namespace userservice::mysql {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using userservice::testing::TestCluster;

constexpr absl::Duration kTimeout = absl::Seconds(2);

// A heartbeat writer no earlier test or run used.
std::string UniqueWriter() {
  static absl::BitGen gen;
  return absl::StrCat("health-test-", absl::Uniform<uint32_t>(gen), "-",
                      absl::ToUnixMicros(absl::Now()) % 1000000);
}

// What the heartbeat column can hold: the stamp to the microsecond.
absl::Time Micros(absl::Time t) {
  return absl::FromUnixMicros(absl::ToUnixMicros(t));
}

// Runs `statement` as admin on `node` now and `undo` when it goes out of
// scope, so a failed assertion cannot leave the shared cluster changed.
class AdminChange {
 public:
  AdminChange(std::string node, const std::string& statement, std::string undo)
      : node_(std::move(node)), undo_(std::move(undo)) {
    status_ = TestCluster::Get().Execute(node_, statement);
  }
  ~AdminChange() { Undo(); }
  void Undo() {
    if (undone_) return;
    undone_ = true;
    absl::Status s = TestCluster::Get().Execute(node_, undo_);
    EXPECT_TRUE(s.ok()) << "restoring " << node_ << ": " << s;
  }
  const absl::Status& status() const { return status_; }

 private:
  const std::string node_;
  const std::string undo_;
  absl::Status status_;
  bool undone_ = false;
};

class HealthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    settings_ = new ConnectionSettings(AppSettings());
    // The schema the server would create, heartbeat table included.
    ASSERT_TRUE(MigrateAppSchema().ok());
    ASSERT_TRUE(TestCluster::Get().Sync().ok());
  }

  static Endpoint Primary() { return PrimaryEndpoint(); }
  static Endpoint Replica(int i) { return ReplicaEndpoint(i); }

  std::unique_ptr<MysqlHeartbeatSink> MakeSink(const std::string& writer) {
    return std::make_unique<MysqlHeartbeatSink>(Primary(), *settings_, writer,
                                                kTimeout, &demotion_);
  }

  // A pool of the primary's sessions as the server keeps one; it opens
  // none until asked.
  static std::unique_ptr<MysqlPool> PrimaryPool() {
    PoolOptions options;
    options.name = "primary";
    options.max_size = 2;
    return std::make_unique<MysqlPool>(
        options,
        [endpoint = Primary(), settings = *settings_](absl::Time deadline) {
          return MysqlConnection::Open(endpoint, settings, deadline);
        });
  }

  // Leaves one idle session in the primary's pool.
  void PoolOneSession() {
    absl::StatusOr<MysqlPool::Lease> lease =
        primary_pool_->Acquire(absl::Now() + absl::Seconds(10));
    ASSERT_TRUE(lease.ok()) << lease.status();
  }

  std::unique_ptr<MysqlConnection> Connect(const Endpoint& endpoint) {
    auto conn = MysqlConnection::Open(endpoint, *settings_,
                                      absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? *std::move(conn) : nullptr;
  }

  // Writes a heartbeat and records it in `ledger`, as HealthChecker does.
  static void Beat(MysqlHeartbeatSink& sink, LagLedger& ledger) {
    const absl::Time stamp = absl::Now();
    absl::Status status = sink.Write(stamp);
    ASSERT_TRUE(status.ok()) << status;
    ledger.RecordWrite(stamp);
  }

  static ConnectionSettings* settings_;
  std::unique_ptr<MysqlPool> primary_pool_ = PrimaryPool();
  PrimaryDemotion demotion_{primary_pool_.get()};
};

ConnectionSettings* HealthTest::settings_ = nullptr;

TEST_F(HealthTest, HeartbeatReachesReplicasAndProbeReportsItApplied) {
  const std::string writer = UniqueWriter();
  auto sink = MakeSink(writer);
  LagLedger ledger;
  const absl::Time stamp = absl::Now();
  ASSERT_TRUE(sink->Write(stamp).ok());
  ledger.RecordWrite(stamp);
  ASSERT_TRUE(TestCluster::Get().Sync().ok());

  for (int i = 0; i < static_cast<int>(TestCluster::Get().replicas().size());
       ++i) {
    MysqlEndpointProbe probe(Replica(i), *settings_, writer, kTimeout);
    const ProbeResult seen = probe.Observe();
    EXPECT_TRUE(seen.reachable) << seen.error;
    EXPECT_EQ(seen.error, "");
    ASSERT_TRUE(seen.applied_heartbeat.has_value());
    // The row keeps microseconds: the stamp is somewhere in that one.
    EXPECT_GE(*seen.applied_heartbeat, stamp);
    EXPECT_LT(*seen.applied_heartbeat, Micros(stamp) + absl::Microseconds(1));
    EXPECT_EQ(ledger.LagAt(seen.applied_heartbeat, absl::Now()),
              absl::ZeroDuration());
    EXPECT_TRUE(seen.replication_status_known);
    EXPECT_TRUE(seen.io_running);
    EXPECT_TRUE(seen.sql_running);
    EXPECT_TRUE(seen.seconds_behind_master.has_value());
  }
}

TEST_F(HealthTest, ProbeOfAWriterWithNoRowYetHasNoAppliedHeartbeat) {
  MysqlEndpointProbe probe(Replica(0), *settings_, UniqueWriter(), kTimeout);
  const ProbeResult seen = probe.Observe();
  EXPECT_TRUE(seen.reachable) << seen.error;
  EXPECT_FALSE(seen.applied_heartbeat.has_value());
}

TEST_F(HealthTest, StoppedSqlThreadShowsAsLagAndRecovers) {
  const std::string writer = UniqueWriter();
  auto sink = MakeSink(writer);
  MysqlEndpointProbe probe(Replica(0), *settings_, writer, kTimeout);
  LagLedger ledger;
  Beat(*sink, ledger);
  ASSERT_TRUE(TestCluster::Get().Sync().ok());

  AdminChange stopped("replica-0", "STOP SLAVE SQL_THREAD",
                      "START SLAVE SQL_THREAD");
  ASSERT_TRUE(stopped.status().ok()) << stopped.status();
  const absl::Time until = absl::Now() + absl::Milliseconds(1500);
  while (absl::Now() < until) {
    Beat(*sink, ledger);
    absl::SleepFor(absl::Milliseconds(100));
  }
  ProbeResult seen = probe.Observe();
  ASSERT_TRUE(seen.reachable) << seen.error;
  const std::optional<absl::Duration> lag =
      ledger.LagAt(seen.applied_heartbeat, absl::Now());
  ASSERT_TRUE(lag.has_value());
  EXPECT_GT(*lag, absl::Seconds(1));
  EXPECT_TRUE(seen.replication_status_known);
  EXPECT_TRUE(seen.io_running);
  EXPECT_FALSE(seen.sql_running);
  // NULL while the SQL thread is stopped: unknown, never "0 behind".
  EXPECT_FALSE(seen.seconds_behind_master.has_value());

  stopped.Undo();
  Beat(*sink, ledger);
  ASSERT_TRUE(TestCluster::Get().Sync().ok());
  seen = probe.Observe();
  ASSERT_TRUE(seen.reachable) << seen.error;
  EXPECT_EQ(ledger.LagAt(seen.applied_heartbeat, absl::Now()),
            absl::ZeroDuration());
  EXPECT_TRUE(seen.sql_running);
  EXPECT_TRUE(seen.io_running);
  EXPECT_TRUE(seen.seconds_behind_master.has_value());
}

TEST_F(HealthTest, ProbeOfAClosedPortIsUnreachableWithACleanError) {
  MysqlEndpointProbe probe(Endpoint{"replica-x", "127.0.0.1", 1}, *settings_,
                          UniqueWriter(), kTimeout);
  const absl::Time start = absl::Now();
  const ProbeResult seen = probe.Observe();
  EXPECT_LT(absl::Now() - start, kTimeout + absl::Seconds(1));
  EXPECT_FALSE(seen.reachable);
  // 2002 or 2003, depending on how the client library saw the refusal.
  EXPECT_THAT(seen.error, HasSubstr("database connection failed"));
  EXPECT_THAT(seen.error, HasSubstr("replica-x"));
  EXPECT_THAT(seen.error, Not(HasSubstr(TestCluster::Get().AppPassword())));
  EXPECT_THAT(seen.error, Not(HasSubstr(TestCluster::Get().db_user())));
  EXPECT_THAT(seen.error, Not(HasSubstr("SELECT")));
  EXPECT_FALSE(seen.replication_status_known);
  EXPECT_FALSE(seen.applied_heartbeat.has_value());
}

TEST_F(HealthTest, ProbeOfThePrimarySeesAWritableServerReplicatingFromNobody) {
  MysqlEndpointProbe probe(Primary(), *settings_, UniqueWriter(), kTimeout);
  const ProbeResult seen = probe.Observe();
  EXPECT_TRUE(seen.reachable) << seen.error;
  EXPECT_TRUE(seen.replication_status_known);
  EXPECT_FALSE(seen.replication_configured);
  EXPECT_FALSE(seen.seconds_behind_master.has_value());
  EXPECT_GT(seen.server_id, 0);
  EXPECT_FALSE(seen.read_only);
  EXPECT_FALSE(seen.gtid_position.empty());
}

TEST_F(HealthTest, ProbeOfAReplicaNamesItsSourceByServerId) {
  MysqlEndpointProbe primary(Primary(), *settings_, UniqueWriter(), kTimeout);
  MysqlEndpointProbe replica(Replica(0), *settings_, UniqueWriter(), kTimeout);
  const ProbeResult source = primary.Observe();
  const ProbeResult seen = replica.Observe();
  ASSERT_TRUE(seen.reachable) << seen.error;
  EXPECT_TRUE(seen.replication_configured);
  EXPECT_TRUE(seen.read_only);
  EXPECT_EQ(seen.source_server_id, source.server_id);
  EXPECT_NE(seen.server_id, source.server_id);
  EXPECT_EQ(seen.last_io_errno, 0);
  EXPECT_EQ(seen.last_sql_errno, 0);
  const RoleFacts facts = RoleFacts::Of(seen);
  EXPECT_TRUE(facts.replicating);
  EXPECT_FALSE(facts.replication_broken);
}

TEST_F(HealthTest, ProbeWithoutSlaveMonitorKnowsNoStatusAndBacksOff) {
  const std::string user =
      absl::StrCat("'", TestCluster::Get().db_user(), "'@'127.0.0.1'");
  MysqlEndpointProbe probe(Replica(0), *settings_, UniqueWriter(), kTimeout);
  {
    AdminChange revoked("primary", "REVOKE SLAVE MONITOR ON *.* FROM " + user,
                        "GRANT SLAVE MONITOR ON *.* TO " + user);
    ASSERT_TRUE(revoked.status().ok()) << revoked.status();
    ASSERT_TRUE(TestCluster::Get().Sync().ok());
    const ProbeResult seen = probe.Observe();
    EXPECT_TRUE(seen.reachable) << seen.error;
    EXPECT_FALSE(seen.replication_status_known);
    EXPECT_FALSE(seen.io_running);
    EXPECT_FALSE(seen.sql_running);
    EXPECT_FALSE(seen.seconds_behind_master.has_value());
  }
  ASSERT_TRUE(TestCluster::Get().Sync().ok());
  // Granted again, but the probe does not ask again within the minute.
  const ProbeResult again = probe.Observe();
  EXPECT_TRUE(again.reachable) << again.error;
  EXPECT_FALSE(again.replication_status_known);
  // A new probe (a restarted server) sees the status at once.
  MysqlEndpointProbe fresh(Replica(0), *settings_, UniqueWriter(), kTimeout);
  EXPECT_TRUE(fresh.Observe().replication_status_known);
}

TEST_F(HealthTest, HeartbeatToReadOnlyPrimaryIsUnavailableAndReported) {
  auto sink = MakeSink(UniqueWriter());
  ASSERT_TRUE(sink->Write(absl::Now()).ok());
  PoolOneSession();
  {
    AdminChange read_only("primary", "SET GLOBAL read_only = ON",
                          "SET GLOBAL read_only = OFF");
    ASSERT_TRUE(read_only.status().ok()) << read_only.status();
    const absl::Status status = sink->Write(absl::Now());
    EXPECT_TRUE(absl::IsUnavailable(status)) << status;
    EXPECT_THAT(status.message(), HasSubstr("read-only"));
    EXPECT_EQ(demotion_.refusals(), 1);
    // The primary's pooled sessions went with the heartbeat's own.
    EXPECT_EQ(primary_pool_->Stats().idle, 0);
  }
  // Writable again: the sink reconnects by itself.
  const absl::Status status = sink->Write(absl::Now());
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(demotion_.refusals(), 1);
}

TEST_F(HealthTest, HeartbeatToUnreachablePrimaryIsUnavailable) {
  MysqlHeartbeatSink sink(Endpoint{"primary", "127.0.0.1", 1}, *settings_,
                          UniqueWriter(), kTimeout, &demotion_);
  PoolOneSession();
  const absl::Status status = sink.Write(absl::Now());
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("unreachable"));
  EXPECT_EQ(demotion_.refusals(), 0);
  EXPECT_EQ(primary_pool_->Stats().idle, 1);
}

TEST_F(HealthTest, HeartbeatDeletesRowsOfWritersSilentForADay) {
  TestCluster& cluster = TestCluster::Get();
  const std::string dead = UniqueWriter();
  const std::string quiet = UniqueWriter();
  const std::string table = absl::StrCat(cluster.db_name(), ".heartbeat");
  ASSERT_TRUE(
      cluster
          .Execute("primary",
                   absl::StrCat("INSERT INTO ", table, " VALUES ('", dead,
                                "', 1, UTC_TIMESTAMP(6) - INTERVAL 2 "
                                "DAY), ('",
                                quiet,
                                "', 1, UTC_TIMESTAMP(6) - INTERVAL 1 "
                                "HOUR)"))
          .ok());
  // A new sink prunes on its first heartbeat.
  ASSERT_TRUE(MakeSink(UniqueWriter())->Write(absl::Now()).ok());
  auto rows =
      cluster.Query("primary", absl::StrCat("SELECT writer FROM ", table,
                                            " WHERE writer IN ('", dead, "', '",
                                            quiet, "')"));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][0], quiet);
}

// Ends every session of the service's user on `node`, as a server restart
// or wait_timeout would.
void KillAppSessions(const std::string& node) {
  TestCluster& cluster = TestCluster::Get();
  auto ids = cluster.Query(
      node, absl::StrCat("SELECT ID FROM information_schema.PROCESSLIST "
                         "WHERE USER = '",
                         cluster.db_user(), "'"));
  ASSERT_TRUE(ids.ok()) << ids.status();
  ASSERT_FALSE(ids->empty());
  for (const auto& row : *ids) {
    // A session may end by itself in between; that is fine.
    cluster.Execute(node, "KILL CONNECTION " + row[0]).IgnoreError();
  }
}

TEST_F(HealthTest, LostDedicatedSessionsAreReplacedWithinTheSameCall) {
  const std::string writer = UniqueWriter();
  auto sink = MakeSink(writer);
  MysqlEndpointProbe probe(Replica(0), *settings_, writer, kTimeout);
  QueryKiller killer(Primary(), *settings_);
  auto idle = Connect(Primary());
  ASSERT_NE(idle, nullptr);
  ASSERT_TRUE(sink->Write(absl::Now()).ok());
  ASSERT_TRUE(probe.Observe().reachable);
  ASSERT_TRUE(killer.Kill(idle->id()).ok());

  KillAppSessions("primary");
  KillAppSessions("replica-0");
  const absl::Status written = sink->Write(absl::Now());
  EXPECT_TRUE(written.ok()) << written;
  const ProbeResult seen = probe.Observe();
  EXPECT_TRUE(seen.reachable) << seen.error;
  EXPECT_TRUE(seen.replication_status_known);
  auto other = Connect(Primary());
  ASSERT_NE(other, nullptr);
  const absl::Status killed = killer.Kill(other->id());
  EXPECT_TRUE(killed.ok()) << killed;
}

TEST_F(HealthTest, ConnectionKnowsItsIdAndPingFailsOnceKilled) {
  auto conn = Connect(Primary());
  ASSERT_NE(conn, nullptr);
  EXPECT_GT(conn->id(), 0u);
  uint64_t server_id = 0;
  ASSERT_TRUE(RunSql("primary", absl::InfiniteFuture(), [&]() {
                std::unique_ptr<sql::ResultSet> rs(
                    conn->Prepare("SELECT CONNECTION_ID()").executeQuery());
                rs->next();
                server_id = rs->getUInt64(1);
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(conn->id(), server_id);
  EXPECT_TRUE(conn->Ping());

  ASSERT_TRUE(
      TestCluster::Get()
          .Execute("primary", absl::StrCat("KILL CONNECTION ", conn->id()))
          .ok());
  EXPECT_FALSE(conn->Ping());
  EXPECT_FALSE(conn->Ping());  // and it does not reconnect behind our back
}

// A statement sleeping on its own thread, as a call would run it.
class SleepingQuery {
 public:
  // `statement` must be a string literal.
  SleepingQuery(MysqlConnection* conn, const char* statement) {
    thread_ = std::thread([this, conn, statement] {
      status_ = RunSql("primary", absl::Now() + absl::Seconds(30), [&]() {
        std::unique_ptr<sql::ResultSet> rs(
            conn->Prepare(statement).executeQuery());
        rs->next();
        return absl::OkStatus();
      });
      finished_ = absl::Now();
    });
  }
  ~SleepingQuery() { Join(); }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  const absl::Status& status() const { return status_; }
  absl::Time finished() const { return finished_; }

 private:
  std::thread thread_;
  absl::Status status_;
  absl::Time finished_;
};

// Statements of session `id` the server is running now.
int RunningStatements(uint64_t id) {
  absl::StatusOr<std::string> count = TestCluster::Get().QueryValue(
      "primary",
      absl::StrCat("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                   "WHERE ID = ",
                   id, " AND INFO LIKE '%SLEEP(%'"));
  EXPECT_TRUE(count.ok()) << count.status();
  return count.ok() ? std::stoi(*count) : -1;
}

bool WaitUntilRunning(uint64_t id) {
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (absl::Now() < give_up) {
    if (RunningStatements(id) == 1) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

class QueryKillerTest : public HealthTest {};

TEST_F(QueryKillerTest, KillStopsARunningStatement) {
  auto conn = Connect(Primary());
  ASSERT_NE(conn, nullptr);
  QueryKiller killer(Primary(), *settings_);
  SleepingQuery query(conn.get(), "SELECT SLEEP(5)");
  ASSERT_TRUE(WaitUntilRunning(conn->id()));

  const absl::Time kill_time = absl::Now();
  const absl::Status killed = killer.Kill(conn->id());
  ASSERT_TRUE(killed.ok()) << killed;
  query.Join();
  EXPECT_LT(query.finished() - kill_time, absl::Seconds(1));
  // Error 1317 before the call's deadline: interrupted, retryable.
  EXPECT_TRUE(absl::IsAborted(query.status())) << query.status();
  EXPECT_THAT(query.status().message(), HasSubstr("error 1317"));
  EXPECT_EQ(RunningStatements(conn->id()), 0);
  // The session survives its statement.
  EXPECT_TRUE(conn->Ping());
}

TEST_F(QueryKillerTest, KillOfAnUnknownSessionFails) {
  QueryKiller killer(Primary(), *settings_);
  EXPECT_FALSE(killer.Kill(4000000000u).ok());
  EXPECT_FALSE(killer.Kill(0).ok());
}

TEST_F(QueryKillerTest, WatchdogKillsWhenTheCallIsCancelled) {
  auto conn = Connect(Primary());
  ASSERT_NE(conn, nullptr);
  QueryKiller killer(Primary(), *settings_);
  std::atomic<bool> cancelled{false};
  SleepingQuery query(conn.get(), "SELECT SLEEP(5)");
  ASSERT_TRUE(WaitUntilRunning(conn->id()));
  auto watch = killer.WatchQuery(conn->id(), absl::Now() + absl::Seconds(30),
                                 [&cancelled] { return cancelled.load(); });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(RunningStatements(conn->id()), 1);  // not cancelled: left alone

  const absl::Time cancel_time = absl::Now();
  cancelled = true;
  query.Join();
  watch.reset();
  EXPECT_LT(query.finished() - cancel_time, absl::Seconds(1));
  EXPECT_TRUE(absl::IsAborted(query.status())) << query.status();
  EXPECT_EQ(RunningStatements(conn->id()), 0);
}

TEST_F(QueryKillerTest, WatchdogKillsAStatementPastItsDeadline) {
  auto conn = Connect(Primary());
  ASSERT_NE(conn, nullptr);
  QueryKiller killer(Primary(), *settings_);
  // No max_statement_time on this session: only the backstop can end it.
  const absl::Time deadline = absl::Now() + absl::Milliseconds(300);
  auto watch = killer.WatchQuery(conn->id(), deadline, [] { return false; });
  SleepingQuery query(conn.get(), "SELECT SLEEP(5)");
  query.Join();
  watch.reset();
  EXPECT_FALSE(query.status().ok());
  EXPECT_GE(query.finished(), deadline);
  EXPECT_LT(query.finished(), deadline + absl::Seconds(1));
}

TEST_F(QueryKillerTest, WatchDestroyedInTimeKillsNothing) {
  auto conn = Connect(Primary());
  ASSERT_NE(conn, nullptr);
  QueryKiller killer(Primary(), *settings_);
  {
    auto watch =
        killer.WatchQuery(conn->id(), absl::Now() + absl::Milliseconds(300),
                          [] { return false; });
    SleepingQuery quick(conn.get(), "SELECT SLEEP(0.1)");
    quick.Join();
    EXPECT_TRUE(quick.status().ok()) << quick.status();
  }
  // Runs well past the old watch's deadline and is not stopped.
  SleepingQuery later(conn.get(), "SELECT SLEEP(1)");
  later.Join();
  EXPECT_TRUE(later.status().ok()) << later.status();
}

}  // namespace
}  // namespace userservice::mysql
