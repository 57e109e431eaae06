#include "server/health/health_checker.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

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

class FakeProbe : public ReplicaProbe {
 public:
  ProbeResult Observe() override {
    absl::MutexLock lock(&mu_);
    ++observations_;
    return next_;
  }
  void Set(ProbeResult o) {
    absl::MutexLock lock(&mu_);
    next_ = std::move(o);
  }
  int observations() {
    absl::MutexLock lock(&mu_);
    return observations_;
  }

 private:
  absl::Mutex mu_;
  ProbeResult next_ ABSL_GUARDED_BY(mu_);
  int observations_ ABSL_GUARDED_BY(mu_) = 0;
};

struct Rig {
  FakeSink sink;
  FakeProbe probe;
  PrimaryHealth primary;
  LagLedger ledger;
  ReplicaHealth health{"replica-0", HealthPolicy{}};
  std::atomic<int> changes{0};
  HealthChecker checker{
      CheckerOptions{},     &sink, &primary, &ledger, {{&probe, &health}},
      [this] { ++changes; }};
};

TEST(HealthCheckerTest, HeartbeatsFeedTheLedgerAndPrimaryState) {
  Rig rig;
  rig.checker.BeatOnce();
  EXPECT_TRUE(rig.primary.writable());
  EXPECT_EQ(rig.ledger.Newest(), rig.sink.last());
  EXPECT_EQ(rig.changes.load(), 1);

  rig.sink.SetStatus(absl::UnavailableError("primary is read-only"));
  const absl::Time before = *rig.ledger.Newest();
  rig.checker.BeatOnce();
  EXPECT_FALSE(rig.primary.writable());
  EXPECT_EQ(rig.primary.last_error(), "primary is read-only");
  EXPECT_EQ(rig.ledger.Newest(), before);  // failed beats are not recorded
  EXPECT_EQ(rig.changes.load(), 2);
}

TEST(HealthCheckerTest, ReplicaCaughtUpWithTheLatestBeatHasZeroLag) {
  Rig rig;
  rig.checker.BeatOnce();
  ProbeResult seen;
  seen.reachable = true;
  seen.applied_heartbeat = rig.sink.last();
  rig.probe.Set(seen);
  rig.checker.CheckOnce(0);
  ReplicaStatus status = rig.health.Snapshot(absl::Now());
  EXPECT_EQ(status.state, ReplicaState::kHealthy);
  EXPECT_EQ(status.lag, absl::ZeroDuration());
}

TEST(HealthCheckerTest, ReplicaMissingBeatsLagsByTheirAge) {
  Rig rig;
  rig.checker.BeatOnce();
  const absl::Time applied = rig.sink.last();
  absl::SleepFor(absl::Milliseconds(20));
  rig.checker.BeatOnce();
  const absl::Time missing = rig.sink.last();
  ProbeResult seen;
  seen.reachable = true;
  seen.applied_heartbeat = applied;
  rig.probe.Set(seen);
  rig.checker.CheckOnce(0);
  const absl::Time after = absl::Now();
  std::optional<absl::Duration> lag = rig.health.Snapshot(after).lag;
  ASSERT_TRUE(lag.has_value());
  EXPECT_GT(*lag, absl::ZeroDuration());
  EXPECT_LE(*lag, after - missing);
}

TEST(HealthCheckerTest, UnreachableChecksEjectAndReportAChange) {
  Rig rig;
  ProbeResult down;
  down.error = "connection refused (error 2003)";
  rig.probe.Set(down);
  for (int i = 0; i < 3; ++i) rig.checker.CheckOnce(0);
  EXPECT_EQ(rig.health.Snapshot(absl::Now()).state, ReplicaState::kEjected);
  EXPECT_GE(rig.changes.load(), 1);
}

TEST(HealthCheckerTest, ThreadsRunUntilStopped) {
  Rig rig;
  ProbeResult seen;
  seen.reachable = true;
  rig.probe.Set(seen);
  rig.checker.Start();
  while (rig.sink.writes() < 2 || rig.probe.observations() < 1) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  rig.checker.Stop();
  const int writes = rig.sink.writes();
  absl::SleepFor(absl::Milliseconds(150));
  EXPECT_EQ(rig.sink.writes(), writes);
}

}  // namespace
}  // namespace userservice
