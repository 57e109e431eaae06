#include "server/routing/read_router.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/fake_user_reader.h"
#include "server/testing/fixed_topology.h"

namespace userservice {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

constexpr uint64_t kUserId = 7;

ReadPolicy Policy(ReadConsistency consistency) {
  ReadPolicy policy;
  policy.consistency = consistency;
  return policy;
}

ReadPolicy SessionAt(ReplicationPosition position) {
  ReadPolicy policy;
  policy.consistency = ReadConsistency::kSession;
  policy.min_position = std::move(position);
  return policy;
}

ReplicationPosition Position() { return *ReplicationPosition::Parse("0-1-42"); }

User Alice() {
  User user;
  user.id = kUserId;
  user.username = "alice";
  user.email = "alice@example.com";
  user.version = 1;
  return user;
}

RequestContext Within(absl::Duration d) {
  RequestContext ctx;
  ctx.deadline = absl::Now() + d;
  return ctx;
}

class ReadRouterTest : public ::testing::Test {
 protected:
  // A primary and `replica_count` replicas, each holding user kUserId.
  void Build(int replica_count,
             absl::Duration session_wait = absl::Milliseconds(100)) {
    primary_ = std::make_unique<FakeUserReader>();
    primary_->AddUser(Alice());
    replicas_.clear();
    applied_.clear();
    std::vector<NamedReader> named;
    for (int i = 0; i < replica_count; ++i) {
      replicas_.push_back(std::make_unique<FakeUserReader>());
      replicas_.back()->AddUser(Alice());
      applied_.push_back(std::make_unique<AppliedPosition>());
      named.push_back({absl::StrCat("replica-", i), replicas_.back().get(),
                       nullptr, applied_.back().get()});
    }
    RouterOptions options;
    options.session_wait = session_wait;
    std::vector<NamedReader> endpoints =
        PrimaryFirst({"primary", primary_.get()}, std::move(named));
    topology_ = PrimaryWithReplicas(NamesOf(endpoints));
    router_ = std::make_unique<ReadRouter>(std::move(endpoints),
                                           topology_.get(), options);
  }

  // One GetUser through the router.
  absl::Status Read(const ReadPolicy& policy, const RequestContext& ctx,
                    std::string* served_by) {
    return router_->Read(
        policy, ctx,
        [&](UserReader& reader) {
          return reader.GetUser(UserKey::Id(kUserId), ctx).status();
        },
        served_by);
  }

  // Who served each of `n` successful reads.
  std::vector<std::string> ServedBySequence(const ReadPolicy& policy, int n) {
    std::vector<std::string> sequence;
    for (int i = 0; i < n; ++i) {
      std::string served_by;
      absl::Status status = Read(policy, RequestContext(), &served_by);
      EXPECT_TRUE(status.ok()) << status;
      sequence.push_back(served_by);
    }
    return sequence;
  }

  FakeUserReader& replica(int i) { return *replicas_[i]; }
  // What replica `i` is known to have applied.
  AppliedPosition& applied(int i) { return *applied_[i]; }

  std::unique_ptr<FakeUserReader> primary_;
  std::vector<std::unique_ptr<FakeUserReader>> replicas_;
  std::vector<std::unique_ptr<AppliedPosition>> applied_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<ReadRouter> router_;
};

TEST_F(ReadRouterTest, WithoutReplicasEveryConsistencyReadsThePrimary) {
  Build(0);
  EXPECT_EQ(router_->endpoint_count(), 1u);
  int reads = 0;
  for (const ReadPolicy& policy :
       {Policy(ReadConsistency::kEventual),
        Policy(ReadConsistency::kBoundedStaleness),
        Policy(ReadConsistency::kSession), SessionAt(Position()),
        Policy(ReadConsistency::kStrong)}) {
    std::string served_by = "stale";
    absl::Status status = Read(policy, RequestContext(), &served_by);
    ++reads;
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_EQ(served_by, "primary");
    EXPECT_EQ(primary_->get_user_calls(), reads);
  }
  // The primary has every write: no need to wait for a position.
  EXPECT_EQ(primary_->wait_calls(), 0);
}

TEST_F(ReadRouterTest, EventualReadsRoundRobinOverTwoReplicas) {
  Build(2);
  EXPECT_THAT(ServedBySequence(Policy(ReadConsistency::kEventual), 6),
              ElementsAre("replica-0", "replica-1", "replica-0", "replica-1",
                          "replica-0", "replica-1"));
  EXPECT_EQ(replica(0).get_user_calls(), 3);
  EXPECT_EQ(replica(1).get_user_calls(), 3);
  EXPECT_EQ(primary_->get_user_calls(), 0);
}

TEST_F(ReadRouterTest, EventualReadsRoundRobinOverThreeReplicas) {
  Build(3);
  EXPECT_THAT(ServedBySequence(Policy(ReadConsistency::kEventual), 7),
              ElementsAre("replica-0", "replica-1", "replica-2", "replica-0",
                          "replica-1", "replica-2", "replica-0"));
  EXPECT_EQ(primary_->get_user_calls(), 0);
}

TEST_F(ReadRouterTest, EventualReadsWithOneReplicaAlwaysUseIt) {
  Build(1);
  EXPECT_THAT(ServedBySequence(Policy(ReadConsistency::kEventual), 3),
              ElementsAre("replica-0", "replica-0", "replica-0"));
  EXPECT_EQ(primary_->get_user_calls(), 0);
}

TEST_F(ReadRouterTest, StrongAndBoundedStalenessReadThePrimary) {
  Build(2);
  for (ReadConsistency consistency :
       {ReadConsistency::kStrong, ReadConsistency::kBoundedStaleness}) {
    ReadPolicy policy = Policy(consistency);
    policy.max_staleness = absl::Seconds(5);
    EXPECT_THAT(ServedBySequence(policy, 3),
                ElementsAre("primary", "primary", "primary"));
  }
  EXPECT_EQ(primary_->get_user_calls(), 6);
  EXPECT_EQ(replica(0).get_user_calls(), 0);
  EXPECT_EQ(replica(1).get_user_calls(), 0);
}

TEST_F(ReadRouterTest, SessionWithoutPositionRoundRobinsLikeEventual) {
  Build(2);
  EXPECT_THAT(ServedBySequence(Policy(ReadConsistency::kSession), 4),
              ElementsAre("replica-0", "replica-1", "replica-0", "replica-1"));
  EXPECT_EQ(replica(0).wait_calls() + replica(1).wait_calls(), 0);
  EXPECT_EQ(primary_->get_user_calls(), 0);
}

TEST_F(ReadRouterTest, SessionReadUsesAReplicaThatAppliedThePosition) {
  Build(2, /*session_wait=*/absl::Milliseconds(100));
  replica(0).SetWaitResult(true);

  std::string served_by;
  absl::Status status =
      Read(SessionAt(Position()), Within(absl::Seconds(10)), &served_by);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(served_by, "replica-0");
  EXPECT_EQ(replica(0).wait_calls(), 1);
  EXPECT_EQ(replica(0).last_wait_position(), Position());
  EXPECT_LE(replica(0).last_wait_timeout(), absl::Milliseconds(100));
  EXPECT_GT(replica(0).last_wait_timeout(), absl::ZeroDuration());
  EXPECT_EQ(replica(0).get_user_calls(), 1);
  EXPECT_EQ(primary_->get_user_calls(), 0);
}

TEST_F(ReadRouterTest, SessionWaitIsCappedAtHalfTheRemainingTime) {
  Build(1, /*session_wait=*/absl::Seconds(10));
  replica(0).SetWaitResult(true);

  const RequestContext ctx = Within(absl::Milliseconds(400));
  std::string served_by;
  ASSERT_TRUE(Read(SessionAt(Position()), ctx, &served_by).ok());
  EXPECT_EQ(served_by, "replica-0");
  EXPECT_LE(replica(0).last_wait_timeout(), absl::Milliseconds(200));
  EXPECT_GE(replica(0).last_wait_timeout(), absl::ZeroDuration());
}

TEST_F(ReadRouterTest, SessionReadsRotateOverReplicas) {
  Build(2);
  for (int i = 0; i < 2; ++i) replica(i).SetWaitResult(true);
  EXPECT_THAT(ServedBySequence(SessionAt(Position()), 4),
              ElementsAre("replica-0", "replica-1", "replica-0", "replica-1"));
}

TEST_F(ReadRouterTest, SessionReadGoesToPrimaryWhenReplicaIsBehind) {
  Build(2);
  replica(0).SetWaitResult(false);

  std::string served_by;
  absl::Status status =
      Read(SessionAt(Position()), Within(absl::Seconds(10)), &served_by);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(served_by, "primary");
  EXPECT_EQ(replica(0).wait_calls(), 1);
  EXPECT_EQ(replica(0).get_user_calls(), 0);
  EXPECT_EQ(replica(1).get_user_calls(), 0);
  EXPECT_EQ(primary_->get_user_calls(), 1);
}

TEST_F(ReadRouterTest, SessionReadGoesToPrimaryWhenWaitIsUnavailable) {
  Build(2);
  replica(0).SetWaitResult(absl::UnavailableError("replica down"));

  std::string served_by;
  absl::Status status =
      Read(SessionAt(Position()), Within(absl::Seconds(10)), &served_by);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(served_by, "primary");
  EXPECT_EQ(replica(0).get_user_calls(), 0);
  EXPECT_EQ(primary_->get_user_calls(), 1);
}

TEST_F(ReadRouterTest, SessionReadGoesToAReplicaKnownToBeThereWithoutAWait) {
  Build(2);
  applied(1).Reached(12, *ReplicationPosition::Parse("0-1-42,1-1-3"));
  EXPECT_TRUE(router_->KnowsReplicaAt(Position()));
  EXPECT_THAT(ServedBySequence(SessionAt(Position()), 3),
              ElementsAreArray({"replica-1", "replica-1", "replica-1"}));
  EXPECT_EQ(replica(0).wait_calls() + replica(1).wait_calls(), 0);
  EXPECT_EQ(primary_->get_user_calls(), 0);
}

TEST_F(ReadRouterTest, ReplicasKnownToBeThereShareSessionReads) {
  Build(2);
  applied(0).Observe(11, Position());
  applied(1).Observe(12, Position());
  EXPECT_THAT(
      ServedBySequence(SessionAt(Position()), 4),
      ElementsAreArray({"replica-0", "replica-1", "replica-0", "replica-1"}));
  EXPECT_EQ(replica(0).wait_calls() + replica(1).wait_calls(), 0);
}

TEST_F(ReadRouterTest, AReplicaKnownToBeBehindIsStillWaitedFor) {
  Build(1);
  applied(0).Observe(11, *ReplicationPosition::Parse("0-1-41"));
  EXPECT_FALSE(router_->KnowsReplicaAt(Position()));
  std::string served_by;
  ASSERT_TRUE(
      Read(SessionAt(Position()), Within(absl::Seconds(10)), &served_by).ok());
  EXPECT_EQ(served_by, "replica-0");
  EXPECT_EQ(replica(0).wait_calls(), 1);
}

TEST_F(ReadRouterTest, TokensFromEveryDomainMustBeKnownApplied) {
  Build(1);
  applied(0).Observe(11, Position());  // domain 0 only
  ReplicationPosition two_domains = Position();
  two_domains.Merge(*ReplicationPosition::Parse("1-2-5"));
  EXPECT_FALSE(router_->KnowsReplicaAt(two_domains));
  replica(0).SetWaitResult(false);
  std::string served_by;
  ASSERT_TRUE(
      Read(SessionAt(two_domains), Within(absl::Seconds(10)), &served_by).ok());
  EXPECT_EQ(served_by, "primary");
  EXPECT_EQ(replica(0).wait_calls(), 1);
}

TEST_F(ReadRouterTest, ASessionReadThatMayNotWaitGoesToTheWriter) {
  Build(2);
  ReadPolicy policy = SessionAt(Position());
  policy.wait_for_replica = false;
  std::string served_by;
  ASSERT_TRUE(Read(policy, Within(absl::Seconds(10)), &served_by).ok());
  EXPECT_EQ(served_by, "primary");
  EXPECT_EQ(replica(0).wait_calls() + replica(1).wait_calls(), 0);
}

TEST_F(ReadRouterTest, AKnownReplicaThatFailsIsFollowedByTheNextKnownOne) {
  Build(2);
  applied(0).Observe(11, Position());
  applied(1).Observe(12, Position());
  replica(0).FailReads(absl::UnavailableError("connection refused"));
  std::string served_by;
  ASSERT_TRUE(
      Read(SessionAt(Position()), Within(absl::Seconds(10)), &served_by).ok());
  EXPECT_EQ(served_by, "replica-1");
  EXPECT_EQ(replica(0).wait_calls() + replica(1).wait_calls(), 0);
}

TEST_F(ReadRouterTest, SessionReadFallsBackToPrimaryWhenAppliedReplicaFails) {
  Build(2);
  replica(0).SetWaitResult(true);
  replica(0).FailReads(absl::UnavailableError("connection lost"));

  std::string served_by;
  absl::Status status =
      Read(SessionAt(Position()), Within(absl::Seconds(10)), &served_by);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(served_by, "primary");
  EXPECT_EQ(replica(0).get_user_calls(), 1);
  // Another replica is not known to have the write: straight to the primary.
  EXPECT_EQ(replica(1).get_user_calls(), 0);
  EXPECT_EQ(primary_->get_user_calls(), 1);
}

TEST_F(ReadRouterTest, SessionReadWithExpiredDeadlineWaitsNoTime) {
  Build(1);
  replica(0).SetWaitResult(false);
  RequestContext ctx;
  ctx.deadline = absl::Now() - absl::Seconds(1);
  std::string served_by;
  ASSERT_TRUE(Read(SessionAt(Position()), ctx, &served_by).ok());
  EXPECT_EQ(replica(0).last_wait_timeout(), absl::ZeroDuration());
  EXPECT_EQ(served_by, "primary");
}

TEST_F(ReadRouterTest, UnavailableReplicaIsFollowedByTheNextReplica) {
  Build(2);
  replica(0).FailReads(absl::UnavailableError("connection refused"));

  std::string served_by;
  absl::Status status = Read(Policy(ReadConsistency::kEventual),
                             Within(absl::Seconds(10)), &served_by);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(served_by, "replica-1");
  EXPECT_EQ(replica(0).get_user_calls(), 1);
  EXPECT_EQ(replica(1).get_user_calls(), 1);
  EXPECT_EQ(primary_->get_user_calls(), 0);
}

TEST_F(ReadRouterTest, UnavailableReplicasAreFollowedByThePrimary) {
  Build(2);
  replica(0).FailReads(absl::UnavailableError("connection refused"));
  replica(1).FailReads(absl::UnavailableError("connection refused"));

  std::string served_by;
  absl::Status status = Read(Policy(ReadConsistency::kEventual),
                             Within(absl::Seconds(10)), &served_by);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(served_by, "primary");
  EXPECT_EQ(replica(0).get_user_calls(), 1);
  EXPECT_EQ(replica(1).get_user_calls(), 1);
  EXPECT_EQ(primary_->get_user_calls(), 1);
}

TEST_F(ReadRouterTest, SingleUnavailableReplicaIsFollowedByThePrimary) {
  Build(1);
  replica(0).FailReads(absl::UnavailableError("connection refused"));

  std::string served_by;
  absl::Status status = Read(Policy(ReadConsistency::kSession),
                             Within(absl::Seconds(10)), &served_by);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(served_by, "primary");
  EXPECT_EQ(replica(0).get_user_calls(), 1);
  EXPECT_EQ(primary_->get_user_calls(), 1);
}

TEST_F(ReadRouterTest, WithThreeReplicasFailoverTriesOneMoreThenPrimary) {
  Build(3);
  for (int i = 0; i < 3; ++i) {
    replica(i).FailReads(absl::UnavailableError("connection refused"));
  }
  std::string served_by;
  ASSERT_TRUE(Read(Policy(ReadConsistency::kEventual),
                   Within(absl::Seconds(10)), &served_by)
                  .ok());
  EXPECT_EQ(served_by, "primary");
  EXPECT_EQ(replica(0).get_user_calls(), 1);
  EXPECT_EQ(replica(1).get_user_calls(), 1);
  EXPECT_EQ(replica(2).get_user_calls(), 0);
  EXPECT_EQ(primary_->get_user_calls(), 1);
}

TEST_F(ReadRouterTest, NotFoundFromAReplicaIsReturnedWithoutRetry) {
  Build(2);
  replica(0).FailReads(absl::NotFoundError("user 7 not found"));

  std::string served_by;
  absl::Status status = Read(Policy(ReadConsistency::kEventual),
                             Within(absl::Seconds(10)), &served_by);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "user 7 not found");
  EXPECT_EQ(served_by, "replica-0");
  EXPECT_EQ(replica(1).get_user_calls(), 0);
  EXPECT_EQ(primary_->get_user_calls(), 0);
}

TEST_F(ReadRouterTest, NotFoundFromThePrimaryNamesThePrimary) {
  Build(1);
  primary_->FailReads(absl::NotFoundError("user 7 not found"));
  std::string served_by;
  absl::Status status =
      Read(Policy(ReadConsistency::kStrong), RequestContext(), &served_by);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(served_by, "primary");
}

TEST_F(ReadRouterTest, DeadlineExceededIsNotRetried) {
  Build(2);
  replica(0).FailReads(absl::DeadlineExceededError("query timed out"));

  std::string served_by = "stale";
  absl::Status status = Read(Policy(ReadConsistency::kEventual),
                             Within(absl::Seconds(10)), &served_by);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(served_by, "");
  EXPECT_EQ(replica(0).get_user_calls(), 1);
  EXPECT_EQ(replica(1).get_user_calls(), 0);
  EXPECT_EQ(primary_->get_user_calls(), 0);
}

TEST_F(ReadRouterTest, ServedByIsEmptyWhenEveryEndpointFailed) {
  Build(2);
  primary_->FailReads(absl::UnavailableError("primary down"));
  replica(0).FailReads(absl::UnavailableError("replica-0 down"));
  replica(1).FailReads(absl::UnavailableError("replica-1 down"));

  std::string served_by = "stale";
  absl::Status status = Read(Policy(ReadConsistency::kEventual),
                             Within(absl::Seconds(10)), &served_by);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "primary down");
  EXPECT_EQ(served_by, "");
  EXPECT_EQ(primary_->get_user_calls(), 1);
}

TEST_F(ReadRouterTest, FailedStrongReadLeavesServedByEmpty) {
  Build(1);
  primary_->FailReads(absl::UnavailableError("primary down"));
  std::string served_by = "stale";
  absl::Status status =
      Read(Policy(ReadConsistency::kStrong), RequestContext(), &served_by);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(served_by, "");
  // STRONG has nowhere else to go.
  EXPECT_EQ(replica(0).get_user_calls(), 0);
}

TEST_F(ReadRouterTest, NoRetryAfterUnavailableOnceTheDeadlineHasPassed) {
  Build(2);
  replica(0).FailReads(absl::UnavailableError("connection refused"));

  RequestContext expired;
  expired.deadline = absl::Now() - absl::Milliseconds(1);
  std::string served_by = "stale";
  absl::Status status =
      Read(Policy(ReadConsistency::kEventual), expired, &served_by);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(served_by, "");
  EXPECT_EQ(replica(0).get_user_calls(), 1);
  EXPECT_EQ(replica(1).get_user_calls(), 0);
  EXPECT_EQ(primary_->get_user_calls(), 0);
}

TEST_F(ReadRouterTest, RoutesListReadsTheSameWay) {
  Build(2);
  std::vector<std::string> served;
  for (int i = 0; i < 3; ++i) {
    std::string served_by;
    RequestContext ctx;
    absl::Status status = router_->Read(
        Policy(ReadConsistency::kEventual), ctx,
        [&](UserReader& reader) {
          return reader.ListUsers(0, 10, ctx).status();
        },
        &served_by);
    ASSERT_TRUE(status.ok()) << status;
    served.push_back(served_by);
  }
  EXPECT_THAT(served,
              ElementsAreArray({"replica-0", "replica-1", "replica-0"}));
  EXPECT_EQ(replica(0).list_users_calls(), 2);
  EXPECT_EQ(replica(1).list_users_calls(), 1);
}

// Routing with replica health: a router over replicas that each have a
// ReplicaHealth fed by the test.
class HealthAwareRouterTest : public ::testing::Test {
 protected:
  void Build(int replica_count, int max_fallback_reads = 8) {
    HealthPolicy policy;
    policy.eject_after_failures = 2;
    policy.readmit_after_successes = 1;
    policy.max_eventual_lag = absl::Seconds(30);
    policy.heartbeat_interval = absl::Milliseconds(100);
    primary_ = std::make_unique<FakeUserReader>();
    primary_->AddUser(Alice());
    std::vector<NamedReader> named;
    for (int i = 0; i < replica_count; ++i) {
      replicas_.push_back(std::make_unique<FakeUserReader>());
      replicas_.back()->AddUser(Alice());
      health_.push_back(
          std::make_unique<ReplicaHealth>(absl::StrCat("replica-", i), policy));
      named.push_back({absl::StrCat("replica-", i), replicas_.back().get(),
                       health_.back().get()});
    }
    RouterOptions options;
    options.max_fallback_reads = max_fallback_reads;
    std::vector<NamedReader> endpoints =
        PrimaryFirst({"primary", primary_.get()}, std::move(named));
    topology_ = PrimaryWithReplicas(NamesOf(endpoints));
    router_ = std::make_unique<ReadRouter>(std::move(endpoints),
                                           topology_.get(), options);
  }

  void Probe(int i, std::optional<absl::Duration> lag, bool reachable = true) {
    ProbeResult result;
    result.reachable = reachable;
    result.error = reachable ? "" : "connection refused";
    result.lag = lag;
    health_[i]->RecordProbe(result, absl::Now());
  }

  absl::Status Read(const ReadPolicy& policy, std::string* served_by) {
    RequestContext ctx = Within(absl::Seconds(5));
    return router_->Read(
        policy, ctx,
        [&](UserReader& reader) {
          return reader.GetUser(UserKey::Id(kUserId), ctx).status();
        },
        served_by);
  }

  std::vector<std::string> Served(const ReadPolicy& policy, int n) {
    std::vector<std::string> served;
    for (int i = 0; i < n; ++i) {
      std::string by;
      absl::Status status = Read(policy, &by);
      EXPECT_TRUE(status.ok()) << status;
      served.push_back(by);
    }
    return served;
  }

  FakeUserReader& replica(int i) { return *replicas_[i]; }

  static ReadPolicy Bounded(absl::Duration max) {
    ReadPolicy policy;
    policy.consistency = ReadConsistency::kBoundedStaleness;
    policy.max_staleness = max;
    return policy;
  }

  std::unique_ptr<FakeUserReader> primary_;
  std::vector<std::unique_ptr<FakeUserReader>> replicas_;
  std::vector<std::unique_ptr<ReplicaHealth>> health_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<ReadRouter> router_;
};

TEST_F(HealthAwareRouterTest, EjectedReplicaIsSkippedByRoundRobin) {
  Build(3);
  for (int i = 0; i < 3; ++i) Probe(i, absl::ZeroDuration());
  Probe(1, std::nullopt, /*reachable=*/false);
  Probe(1, std::nullopt, /*reachable=*/false);
  ASSERT_EQ(health_[1]->Snapshot(absl::Now()).state, ReplicaState::kEjected);
  for (const std::string& by : Served(Policy(ReadConsistency::kEventual), 8)) {
    EXPECT_NE(by, "replica-1");
    EXPECT_NE(by, "primary");
  }
  EXPECT_EQ(replica(1).get_user_calls(), 0);
  // One passed check re-admits it (readmit_after_successes = 1).
  Probe(1, absl::ZeroDuration());
  std::vector<std::string> served =
      Served(Policy(ReadConsistency::kEventual), 6);
  EXPECT_NE(std::find(served.begin(), served.end(), "replica-1"), served.end());
}

TEST_F(HealthAwareRouterTest, ReplicasLeftInRotationShareTheLoadEvenly) {
  Build(3);
  for (int i = 0; i < 3; ++i) Probe(i, absl::ZeroDuration());
  Probe(1, std::nullopt, /*reachable=*/false);
  Probe(1, std::nullopt, /*reachable=*/false);
  int served[3] = {0, 0, 0};
  for (const std::string& by : Served(Policy(ReadConsistency::kEventual), 30)) {
    ++served[by.back() - '0'];
  }
  EXPECT_EQ(served[0], 15);
  EXPECT_EQ(served[1], 0);
  EXPECT_EQ(served[2], 15);
}

TEST_F(HealthAwareRouterTest, ConnectionFailuresOfCallsEjectAReplica) {
  Build(2);
  Probe(0, absl::ZeroDuration());
  Probe(1, absl::ZeroDuration());
  replica(0).FailReads(absl::UnavailableError("connection refused"));
  // Every read still succeeds (retried elsewhere) while replica-0 collects
  // failures until it is ejected.
  for (int i = 0; i < 6; ++i) {
    std::string by;
    ASSERT_TRUE(Read(Policy(ReadConsistency::kEventual), &by).ok());
    EXPECT_EQ(by, "replica-1");
  }
  EXPECT_EQ(health_[0]->Snapshot(absl::Now()).state, ReplicaState::kEjected);
  EXPECT_EQ(replica(0).get_user_calls(), 2);  // then no more attempts
}

TEST_F(HealthAwareRouterTest, EventualSkipsReplicasBeyondTheMaximumLag) {
  Build(2);
  Probe(0, absl::Seconds(45));
  Probe(1, absl::Milliseconds(20));
  for (const std::string& by : Served(Policy(ReadConsistency::kEventual), 4)) {
    EXPECT_EQ(by, "replica-1");
  }
}

TEST_F(HealthAwareRouterTest, UnknownLagAfterChecksIsNotEligible) {
  Build(2);
  Probe(0, std::nullopt);  // reachable, lag unknown
  Probe(1, absl::ZeroDuration());
  for (const std::string& by : Served(Policy(ReadConsistency::kEventual), 4)) {
    EXPECT_EQ(by, "replica-1");
  }
  for (const std::string& by : Served(Bounded(absl::Seconds(10)), 4)) {
    EXPECT_EQ(by, "replica-1");
  }
}

TEST_F(HealthAwareRouterTest, BoundedStalenessPicksReplicasWithinTheBound) {
  Build(3);
  Probe(0, absl::Seconds(2));
  Probe(1, absl::Milliseconds(10));
  Probe(2, absl::Milliseconds(10));
  std::vector<std::string> served = Served(Bounded(absl::Milliseconds(500)), 6);
  for (const std::string& by : served) EXPECT_NE(by, "replica-0");
  EXPECT_NE(std::find(served.begin(), served.end(), "replica-1"), served.end());
  EXPECT_NE(std::find(served.begin(), served.end(), "replica-2"), served.end());
  // A looser bound admits the lagging replica too.
  served = Served(Bounded(absl::Seconds(5)), 6);
  EXPECT_NE(std::find(served.begin(), served.end(), "replica-0"), served.end());
}

TEST_F(HealthAwareRouterTest, BoundedStalenessCountsTheHeartbeatGranularity) {
  Build(1);
  Probe(0, absl::ZeroDuration());
  // Measured lag 0, but writes since the last heartbeat (100 ms) may be
  // missing: a 50 ms bound cannot be promised.
  std::string by;
  ASSERT_TRUE(Read(Bounded(absl::Milliseconds(50)), &by).ok());
  EXPECT_EQ(by, "primary");
  ASSERT_TRUE(Read(Bounded(absl::Milliseconds(800)), &by).ok());
  EXPECT_EQ(by, "replica-0");
}

TEST_F(HealthAwareRouterTest, NoEligibleReplicaFallsBackToThePrimary) {
  Build(2);
  Probe(0, absl::Minutes(5));
  Probe(1, absl::Minutes(5));
  std::string by;
  ASSERT_TRUE(Read(Policy(ReadConsistency::kEventual), &by).ok());
  EXPECT_EQ(by, "primary");
  EXPECT_EQ(router_->fallback_stats().in_flight, 0);
}

// A reader whose GetUser blocks until released, to hold fallback slots.
class BlockingReader : public FakeUserReader {
 public:
  absl::StatusOr<Positioned<User>> GetUser(const UserKey& key,
                                           const RequestContext& ctx) override {
    entered_.fetch_add(1);
    release_.WaitForNotification();
    return FakeUserReader::GetUser(key, ctx);
  }
  std::atomic<int> entered_{0};
  absl::Notification release_;
};

TEST_F(HealthAwareRouterTest, FallbackBudgetRefusesEventualButNeverStrong) {
  HealthPolicy policy;
  auto primary = std::make_unique<BlockingReader>();
  primary->AddUser(Alice());
  FakeUserReader replica;
  replica.AddUser(Alice());
  ReplicaHealth health("replica-0", policy);
  ProbeResult lagging;
  lagging.reachable = true;
  lagging.lag = absl::Minutes(5);
  health.RecordProbe(lagging, absl::Now());
  RouterOptions options;
  options.max_fallback_reads = 2;
  std::unique_ptr<Topology> topology =
      PrimaryWithReplicas({"primary", "replica-0"});
  ReadRouter router(
      {{"primary", primary.get()}, {"replica-0", &replica, &health}},
      topology.get(), options);
  auto read = [&](ReadConsistency consistency) {
    std::string by;
    ReadPolicy p;
    p.consistency = consistency;
    RequestContext ctx = Within(absl::Seconds(10));
    return router.Read(
        p, ctx,
        [&](UserReader& reader) {
          return reader.GetUser(UserKey::Id(kUserId), ctx).status();
        },
        &by);
  };
  std::vector<std::thread> holders;
  for (int i = 0; i < 2; ++i) {
    holders.emplace_back(
        [&] { EXPECT_TRUE(read(ReadConsistency::kEventual).ok()); });
  }
  while (primary->entered_.load() < 2) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(router.fallback_stats().in_flight, 2);
  absl::Status refused = read(ReadConsistency::kEventual);
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("fallback"));
  EXPECT_EQ(router.fallback_stats().refused, 1);
  // STRONG needs the primary and is never refused.
  std::thread strong([&] { EXPECT_TRUE(read(ReadConsistency::kStrong).ok()); });
  while (primary->entered_.load() < 3) absl::SleepFor(absl::Milliseconds(1));
  primary->release_.Notify();
  for (auto& t : holders) t.join();
  strong.join();
  EXPECT_EQ(router.fallback_stats().in_flight, 0);
  EXPECT_EQ(replica.get_user_calls(), 0);
}

TEST_F(HealthAwareRouterTest, SessionReadSkipsEjectedReplicas) {
  Build(2);
  Probe(0, absl::ZeroDuration());
  Probe(1, std::nullopt, false);
  Probe(1, std::nullopt, false);
  replica(0).SetWaitResult(true);
  ReadPolicy policy = SessionAt(Position());
  for (int i = 0; i < 4; ++i) {
    std::string by;
    ASSERT_TRUE(Read(policy, &by).ok());
    EXPECT_EQ(by, "replica-0");
  }
  EXPECT_EQ(replica(1).wait_calls(), 0);
}

TEST_F(HealthAwareRouterTest, AnEjectedReplicaKnownToBeThereIsNotChosen) {
  Build(2);
  AppliedPosition applied;
  applied.Observe(12, Position());
  std::vector<NamedReader> endpoints = PrimaryFirst(
      {"primary", primary_.get()},
      {{"replica-0", replicas_[0].get(), health_[0].get()},
       {"replica-1", replicas_[1].get(), health_[1].get(), &applied}});
  router_ = std::make_unique<ReadRouter>(std::move(endpoints), topology_.get(),
                                         RouterOptions());
  Probe(0, absl::ZeroDuration());
  Probe(1, std::nullopt, false);
  Probe(1, std::nullopt, false);
  EXPECT_FALSE(router_->KnowsReplicaAt(Position()));
  std::string by;
  ASSERT_TRUE(Read(SessionAt(Position()), &by).ok());
  EXPECT_EQ(by, "replica-0");
  EXPECT_EQ(replica(0).wait_calls(), 1);
}

}  // namespace
}  // namespace userservice
