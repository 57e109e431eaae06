#include "server/health/health_checker.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/testing/fixed_topology.h"

namespace userservice {
namespace {

class FakeSink : public HeartbeatSink {
 public:
  absl::Status Write(absl::Time stamp) override {
    absl::MutexLock lock(&mu_);
    last_ = stamp;
    ++writes_;
    return status_;
  }
  void SetStatus(absl::Status s) {
    absl::MutexLock lock(&mu_);
    status_ = std::move(s);
  }
  absl::Time last() {
    absl::MutexLock lock(&mu_);
    return last_;
  }
  int writes() {
    absl::MutexLock lock(&mu_);
    return writes_;
  }

 private:
  absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
  int writes_ ABSL_GUARDED_BY(mu_) = 0;
};

class FakeProbe : public EndpointProbe {
 public:
  ProbeResult Observe() override {
    absl::MutexLock lock(&mu_);
    ++observations_;
    return next_;
  }
  void ResetSession() override {
    absl::MutexLock lock(&mu_);
    ++resets_;
  }
  void Set(ProbeResult o) {
    absl::MutexLock lock(&mu_);
    next_ = std::move(o);
  }
  int observations() {
    absl::MutexLock lock(&mu_);
    return observations_;
  }
  int resets() {
    absl::MutexLock lock(&mu_);
    return resets_;
  }

 private:
  absl::Mutex mu_;
  ProbeResult next_ ABSL_GUARDED_BY(mu_);
  int observations_ ABSL_GUARDED_BY(mu_) = 0;
  int resets_ ABSL_GUARDED_BY(mu_) = 0;
};

// Endpoint 0 is the writer (server 1), endpoint 1 its replica (server 2),
// once both were checked.
struct Rig {
  explicit Rig(CheckerOptions options = {}) : checker_options(options) {
    probes[0].Set(WriterProbe(1));
    probes[1].Set(ReplicaProbe(2, 1));
  }
  void CheckBoth() {
    checker.CheckOnce(0);
    checker.CheckOnce(1);
  }

  CheckerOptions checker_options;
  FakeSink sinks[2];
  FakeProbe probes[2];
  PrimaryHealth primary;
  LagLedger ledger;
  ReplicaHealth healths[2] = {{"primary", HealthPolicy{}},
                              {"replica-0", HealthPolicy{}}};
  std::atomic<int> changes{0};
  std::atomic<int> rechecks{0};
  Topology topology{{"primary", "replica-0"}, TopologyOptions{}, [this] {
                      ++rechecks;
                      checker.RequestRecheck();
                    }};
  HealthChecker checker{checker_options,
                        &topology,
                        &primary,
                        &ledger,
                        {{&probes[0], &healths[0], &sinks[0]},
                         {&probes[1], &healths[1], &sinks[1]}},
                        [this] { ++changes; }};
};

TEST(HealthCheckerTest, NoHeartbeatIsWrittenBeforeAWriterIsElected) {
  Rig rig;
  rig.checker.CheckOnce(0);  // the replica's role is still unknown
  rig.checker.BeatOnce();
  EXPECT_EQ(rig.sinks[0].writes() + rig.sinks[1].writes(), 0);
  EXPECT_FALSE(rig.primary.writable());
  EXPECT_EQ(rig.primary.last_error(), "no writer is elected");
}

TEST(HealthCheckerTest, HeartbeatsGoToTheElectedWriterOnly) {
  Rig rig;
  rig.CheckBoth();
  rig.checker.BeatOnce();
  EXPECT_TRUE(rig.primary.writable());
  EXPECT_EQ(rig.sinks[0].writes(), 1);
  EXPECT_EQ(rig.sinks[1].writes(), 0);
  EXPECT_EQ(rig.ledger.Newest(), rig.sinks[0].last());

  // A switchover: the replica is promoted, the old writer follows it.
  rig.probes[0].Set(ReplicaProbe(1, 2));
  rig.probes[1].Set(WriterProbe(2));
  rig.CheckBoth();
  EXPECT_EQ(rig.topology.writer(), 1);
  rig.checker.BeatOnce();
  EXPECT_EQ(rig.sinks[0].writes(), 1);
  EXPECT_EQ(rig.sinks[1].writes(), 1);
}

TEST(HealthCheckerTest, ARefusedHeartbeatVoidsTheWriterAndAsksForARecheck) {
  Rig rig;
  rig.CheckBoth();
  rig.checker.BeatOnce();
  const int changes = rig.changes.load();
  rig.sinks[0].SetStatus(absl::UnavailableError("primary is read-only"));
  const absl::Time before = *rig.ledger.Newest();
  rig.checker.BeatOnce();
  EXPECT_FALSE(rig.primary.writable());
  EXPECT_EQ(rig.primary.last_error(), "primary is read-only");
  EXPECT_EQ(rig.ledger.Newest(), before);  // failed beats are not recorded
  EXPECT_EQ(rig.changes.load(), changes + 1);
  EXPECT_EQ(rig.topology.writer(), -1);
  EXPECT_EQ(rig.rechecks.load(), 1);
  // The next check finds it writable again: it is the writer again.
  rig.checker.CheckOnce(0);
  EXPECT_EQ(rig.topology.writer(), 0);
}

TEST(HealthCheckerTest, ReplicaCaughtUpWithTheLatestBeatHasZeroLag) {
  Rig rig;
  rig.CheckBoth();
  rig.checker.BeatOnce();
  ProbeResult seen = ReplicaProbe(2, 1);
  seen.applied_heartbeat = rig.sinks[0].last();
  rig.probes[1].Set(seen);
  rig.checker.CheckOnce(1);
  ReplicaStatus status = rig.healths[1].Snapshot(absl::Now());
  EXPECT_EQ(status.state, ReplicaState::kHealthy);
  EXPECT_EQ(status.lag, absl::ZeroDuration());
  EXPECT_EQ(rig.topology.role(1), EndpointRole::kReplica);
}

TEST(HealthCheckerTest, ReplicaMissingBeatsLagsByTheirAge) {
  Rig rig;
  rig.CheckBoth();
  rig.checker.BeatOnce();
  const absl::Time applied = rig.sinks[0].last();
  absl::SleepFor(absl::Milliseconds(20));
  rig.checker.BeatOnce();
  const absl::Time missing = rig.sinks[0].last();
  ProbeResult seen = ReplicaProbe(2, 1);
  seen.applied_heartbeat = applied;
  rig.probes[1].Set(seen);
  rig.checker.CheckOnce(1);
  const absl::Time after = absl::Now();
  std::optional<absl::Duration> lag = rig.healths[1].Snapshot(after).lag;
  ASSERT_TRUE(lag.has_value());
  EXPECT_GT(*lag, absl::ZeroDuration());
  EXPECT_LE(*lag, after - missing);
}

TEST(HealthCheckerTest, UnreachableChecksEjectAndReportAChange) {
  Rig rig;
  ProbeResult down;
  down.error = "connection refused (error 2003)";
  rig.probes[1].Set(down);
  for (int i = 0; i < 3; ++i) rig.checker.CheckOnce(1);
  EXPECT_EQ(rig.healths[1].Snapshot(absl::Now()).state,
            ReplicaState::kEjected);
  EXPECT_EQ(rig.topology.role(1), EndpointRole::kUnreachable);
  EXPECT_GE(rig.changes.load(), 1);
}

TEST(HealthCheckerTest, ThreadsRunUntilStopped) {
  Rig rig;
  rig.checker.Start();
  while (rig.sinks[0].writes() < 2 || rig.probes[1].observations() < 1) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  rig.checker.Stop();
  const int writes = rig.sinks[0].writes();
  absl::SleepFor(absl::Milliseconds(150));
  EXPECT_EQ(rig.sinks[0].writes(), writes);
}

TEST(HealthCheckerTest, ARecheckChecksEveryEndpointAtOnceOnAFreshSession) {
  CheckerOptions slow;
  slow.check_interval = absl::Seconds(30);
  Rig rig(slow);
  rig.checker.Start();
  while (rig.topology.writer() != 0) absl::SleepFor(absl::Milliseconds(5));
  const int before = rig.probes[1].observations();
  rig.checker.RequestRecheck();
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while ((rig.probes[0].resets() < 1 || rig.probes[1].resets() < 1 ||
          rig.probes[1].observations() <= before) &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  rig.checker.Stop();
  EXPECT_GT(rig.probes[1].observations(), before);
  EXPECT_GE(rig.probes[0].resets(), 1);
  EXPECT_GE(rig.probes[1].resets(), 1);
}

TEST(HealthCheckerTest, WithoutAWriterEndpointsAreCheckedOften) {
  CheckerOptions slow;
  slow.check_interval = absl::Seconds(30);
  Rig rig(slow);
  ProbeResult read_only = ReplicaProbe(1, 0);
  read_only.replication_configured = false;
  rig.probes[0].Set(read_only);  // a switchover half-way: no writer
  rig.checker.Start();
  absl::SleepFor(HealthChecker::kWriterlessCheckInterval * 5);
  rig.checker.Stop();
  EXPECT_EQ(rig.topology.writer(), -1);
  EXPECT_GE(rig.probes[0].observations(), 3);
}

}  // namespace
}  // namespace userservice
