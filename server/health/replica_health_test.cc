#include "server/health/replica_health.h"

#include "gtest/gtest.h"

namespace userservice {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

HealthPolicy Policy() {
  HealthPolicy policy;
  policy.eject_after_failures = 3;
  policy.readmit_after_successes = 2;
  policy.max_eventual_lag = absl::Seconds(30);
  policy.lag_valid_for = absl::Seconds(3);
  policy.heartbeat_interval = absl::Milliseconds(100);
  return policy;
}

ProbeResult Reachable(std::optional<absl::Duration> lag) {
  ProbeResult result;
  result.reachable = true;
  result.lag = lag;
  return result;
}

ProbeResult Unreachable() {
  ProbeResult result;
  result.error = "connection refused (error 2003)";
  return result;
}

TEST(ReplicaHealthTest, StartingReplicaServesEventualButNotBoundedReads) {
  ReplicaHealth health("replica-0", Policy());
  EXPECT_EQ(health.Snapshot(kT0).state, ReplicaState::kStarting);
  EXPECT_TRUE(health.EligibleForEventual(kT0));
  EXPECT_FALSE(health.EligibleForStaleness(absl::Hours(1), kT0));
}

TEST(ReplicaHealthTest, EjectedAfterNConsecutiveFailuresReadmittedAfterM) {
  ReplicaHealth health("replica-0", Policy());
  health.RecordProbe(Reachable(absl::ZeroDuration()), kT0);
  health.RecordProbe(Unreachable(), kT0);
  health.RecordCallFailure(kT0, "lost connection");
  EXPECT_EQ(health.Snapshot(kT0).state, ReplicaState::kHealthy);
  health.RecordProbe(Unreachable(), kT0);
  ReplicaStatus status = health.Snapshot(kT0);
  EXPECT_EQ(status.state, ReplicaState::kEjected);
  EXPECT_NE(status.reason.find("3 consecutive failures"), std::string::npos);
  EXPECT_FALSE(health.EligibleForEventual(kT0));

  health.RecordProbe(Reachable(absl::ZeroDuration()), kT0);
  EXPECT_EQ(health.Snapshot(kT0).state, ReplicaState::kEjected);
  health.RecordProbe(Reachable(absl::ZeroDuration()), kT0);
  EXPECT_EQ(health.Snapshot(kT0).state, ReplicaState::kHealthy);
  EXPECT_TRUE(health.EligibleForEventual(kT0));
}

TEST(ReplicaHealthTest, CountsEjections) {
  ReplicaHealth health("replica-0", Policy());
  EXPECT_EQ(health.Snapshot(kT0).ejections, 0);
  for (int round = 1; round <= 2; ++round) {
    for (int i = 0; i < 3; ++i) health.RecordProbe(Unreachable(), kT0);
    EXPECT_EQ(health.Snapshot(kT0).ejections, round);
    // More failures while ejected are not another ejection.
    health.RecordProbe(Unreachable(), kT0);
    EXPECT_EQ(health.Snapshot(kT0).ejections, round);
    health.RecordProbe(Reachable(absl::ZeroDuration()), kT0);
    health.RecordProbe(Reachable(absl::ZeroDuration()), kT0);
    EXPECT_EQ(health.Snapshot(kT0).state, ReplicaState::kHealthy);
  }
}

TEST(ReplicaHealthTest, ASuccessResetsTheFailureCount) {
  ReplicaHealth health("replica-0", Policy());
  health.RecordProbe(Unreachable(), kT0);
  health.RecordProbe(Unreachable(), kT0);
  health.RecordProbe(Reachable(absl::ZeroDuration()), kT0);
  health.RecordProbe(Unreachable(), kT0);
  health.RecordProbe(Unreachable(), kT0);
  EXPECT_NE(health.Snapshot(kT0).state, ReplicaState::kEjected);
}

TEST(ReplicaHealthTest, UnknownLagIsNeverTreatedAsZero) {
  ReplicaHealth health("replica-0", Policy());
  health.RecordProbe(Reachable(std::nullopt), kT0);
  EXPECT_FALSE(health.Snapshot(kT0).lag.has_value());
  EXPECT_FALSE(health.EligibleForEventual(kT0));
  EXPECT_FALSE(health.EligibleForStaleness(absl::Hours(1), kT0));
}

TEST(ReplicaHealthTest, SecondsBehindMasterRaisesButNeverLowersTheLag) {
  ReplicaHealth health("replica-0", Policy());
  ProbeResult result = Reachable(absl::Milliseconds(200));
  result.seconds_behind_master = 4;
  health.RecordProbe(result, kT0);
  EXPECT_EQ(health.Snapshot(kT0).lag, absl::Seconds(4));
  result.seconds_behind_master = 0;
  health.RecordProbe(result, kT0);
  EXPECT_EQ(health.Snapshot(kT0).lag, absl::Milliseconds(200));
}

TEST(ReplicaHealthTest, StaleMeasurementsExpire) {
  ReplicaHealth health("replica-0", Policy());
  health.RecordProbe(Reachable(absl::ZeroDuration()), kT0);
  EXPECT_TRUE(health.EligibleForEventual(kT0 + absl::Seconds(2)));
  EXPECT_FALSE(health.EligibleForEventual(kT0 + absl::Seconds(4)));
  EXPECT_FALSE(health.Snapshot(kT0 + absl::Seconds(4)).lag.has_value());
}

TEST(ReplicaHealthTest, BoundedStalenessAddsMeasurementAgeAndHeartbeat) {
  ReplicaHealth health("replica-0", Policy());
  health.RecordProbe(Reachable(absl::Milliseconds(300)), kT0);
  // 300 ms lag + 100 ms heartbeat granularity.
  EXPECT_TRUE(health.EligibleForStaleness(absl::Milliseconds(400), kT0));
  EXPECT_FALSE(health.EligibleForStaleness(absl::Milliseconds(399), kT0));
  // 200 ms later the replica may have fallen 200 ms further behind.
  EXPECT_FALSE(health.EligibleForStaleness(absl::Milliseconds(500),
                                           kT0 + absl::Milliseconds(200)));
  EXPECT_TRUE(health.EligibleForStaleness(absl::Milliseconds(600),
                                          kT0 + absl::Milliseconds(200)));
}

TEST(ReplicaHealthTest, LagBeyondTheMaximumLeavesEventualRotation) {
  ReplicaHealth health("replica-0", Policy());
  health.RecordProbe(Reachable(absl::Seconds(31)), kT0);
  EXPECT_FALSE(health.EligibleForEventual(kT0));
  EXPECT_EQ(health.Snapshot(kT0).state, ReplicaState::kHealthy);
  health.RecordProbe(Reachable(absl::Seconds(1)), kT0);
  EXPECT_TRUE(health.EligibleForEventual(kT0));
}

TEST(ReplicaHealthTest, EjectedReplicaIsNotEligibleEvenWithZeroLag) {
  ReplicaHealth health("replica-0", Policy());
  for (int i = 0; i < 3; ++i) health.RecordCallFailure(kT0, "lost");
  EXPECT_FALSE(health.EligibleForStaleness(absl::Hours(1), kT0));
  EXPECT_FALSE(health.EligibleForEventual(kT0));
}

}  // namespace
}  // namespace userservice
