// What the ReadRouter reports to its RoutingObserver at each decision.

#include "server/routing/routing_observer.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/routing/read_router.h"
#include "server/testing/fake_user_reader.h"
#include "server/testing/fixed_topology.h"

namespace userservice {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint64_t kUserId = 7;

// "endpoint/reason" of every read, and "endpoint/outcome" of every wait.
class RecordingObserver : public RoutingObserver {
 public:
  void OnRead(const std::string& endpoint, ReadReason reason,
              int reads) override {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < reads; ++i) {
      reads_.push_back(absl::StrCat(endpoint, "/", ReadReasonName(reason)));
    }
  }
  void OnFallbackRefused() override {
    absl::MutexLock lock(&mu_);
    ++refused_;
  }
  void OnPositionWait(const std::string& endpoint, PositionWaitOutcome outcome,
                      absl::Duration waited) override {
    absl::MutexLock lock(&mu_);
    waits_.push_back(
        absl::StrCat(endpoint, "/", PositionWaitOutcomeName(outcome)));
    EXPECT_GE(waited, absl::ZeroDuration());
  }

  std::vector<std::string> TakeReads() {
    absl::MutexLock lock(&mu_);
    return std::exchange(reads_, {});
  }
  std::vector<std::string> TakeWaits() {
    absl::MutexLock lock(&mu_);
    return std::exchange(waits_, {});
  }
  int refused() {
    absl::MutexLock lock(&mu_);
    return refused_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> reads_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> waits_ ABSL_GUARDED_BY(mu_);
  int refused_ ABSL_GUARDED_BY(mu_) = 0;
};

ReadPolicy Policy(ReadConsistency consistency) {
  ReadPolicy policy;
  policy.consistency = consistency;
  if (consistency == ReadConsistency::kBoundedStaleness) {
    policy.max_staleness = absl::Seconds(10);
  }
  return policy;
}

ReadPolicy Session() {
  ReadPolicy policy;
  policy.consistency = ReadConsistency::kSession;
  policy.min_position = *ReplicationPosition::Parse("0-1-42");
  return policy;
}

class RoutingObserverTest : public ::testing::Test {
 protected:
  // Replicas have no health: in rotation for eventual reads, never provably
  // fresh enough for bounded ones.
  void Build(int replica_count, int max_fallback_reads = 8) {
    primary_ = std::make_unique<FakeUserReader>();
    User alice;
    alice.id = kUserId;
    primary_->AddUser(alice);
    std::vector<NamedReader> named;
    for (int i = 0; i < replica_count; ++i) {
      replicas_.push_back(std::make_unique<FakeUserReader>());
      replicas_.back()->AddUser(alice);
      named.push_back({absl::StrCat("replica-", i), replicas_.back().get()});
    }
    RouterOptions options;
    options.max_fallback_reads = max_fallback_reads;
    options.observer = &observer_;
    std::vector<NamedReader> endpoints =
        PrimaryFirst({"primary", primary_.get()}, std::move(named));
    topology_ = PrimaryWithReplicas(NamesOf(endpoints));
    router_ = std::make_unique<ReadRouter>(std::move(endpoints),
                                           topology_.get(), options);
  }

  absl::Status Read(const ReadPolicy& policy) {
    RequestContext ctx;
    ctx.deadline = absl::Now() + absl::Seconds(5);
    std::string served_by;
    return router_->Read(
        policy, ctx,
        [&](UserReader& reader) {
          return reader.GetUser(UserKey::Id(kUserId), ctx).status();
        },
        &served_by);
  }

  RecordingObserver observer_;
  std::unique_ptr<FakeUserReader> primary_;
  std::vector<std::unique_ptr<FakeUserReader>> replicas_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<ReadRouter> router_;
};

TEST_F(RoutingObserverTest, StrongReadsArePrimaryStrong) {
  Build(2);
  ASSERT_TRUE(Read(Policy(ReadConsistency::kStrong)).ok());
  EXPECT_THAT(observer_.TakeReads(), ElementsAre("primary/primary_strong"));
}

TEST_F(RoutingObserverTest, EventualReadsAreReplicaReads) {
  Build(2);
  ASSERT_TRUE(Read(Policy(ReadConsistency::kEventual)).ok());
  ASSERT_TRUE(Read(Policy(ReadConsistency::kEventual)).ok());
  EXPECT_THAT(observer_.TakeReads(),
              ElementsAre("replica-0/replica", "replica-1/replica"));
}

TEST_F(RoutingObserverTest, AFailedReplicaIsFollowedByARetryThenThePrimary) {
  Build(2);
  replicas_[0]->FailReads(absl::UnavailableError("gone"));
  replicas_[1]->FailReads(absl::UnavailableError("gone"));
  ASSERT_TRUE(Read(Policy(ReadConsistency::kEventual)).ok());
  EXPECT_THAT(observer_.TakeReads(),
              ElementsAre("replica-0/replica", "replica-1/retry",
                          "primary/primary_no_replica"));
}

TEST_F(RoutingObserverTest,
       BoundedReadsWithNoFreshReplicaAreStalenessFallbacks) {
  Build(2);
  ASSERT_TRUE(Read(Policy(ReadConsistency::kBoundedStaleness)).ok());
  EXPECT_THAT(observer_.TakeReads(),
              ElementsAre("primary/primary_staleness_fallback"));
}

TEST_F(RoutingObserverTest, WithoutReplicasReadsArePrimaryNoReplica) {
  Build(0);
  ASSERT_TRUE(Read(Policy(ReadConsistency::kEventual)).ok());
  ASSERT_TRUE(Read(Policy(ReadConsistency::kStrong)).ok());
  EXPECT_THAT(observer_.TakeReads(), ElementsAre("primary/primary_no_replica",
                                                 "primary/primary_strong"));
  EXPECT_THAT(observer_.TakeWaits(), IsEmpty());
}

TEST_F(RoutingObserverTest, SessionReadsReportTheWaitAndWhereTheyRan) {
  Build(1);
  replicas_[0]->SetWaitResult(true);
  ASSERT_TRUE(Read(Session()).ok());
  EXPECT_THAT(observer_.TakeWaits(), ElementsAre("replica-0/reached"));
  EXPECT_THAT(observer_.TakeReads(), ElementsAre("replica-0/replica"));

  replicas_[0]->SetWaitResult(false);
  ASSERT_TRUE(Read(Session()).ok());
  EXPECT_THAT(observer_.TakeWaits(), ElementsAre("replica-0/timeout"));
  EXPECT_THAT(observer_.TakeReads(),
              ElementsAre("primary/primary_session_fallback"));

  replicas_[0]->SetWaitResult(absl::UnavailableError("gone"));
  ASSERT_TRUE(Read(Session()).ok());
  EXPECT_THAT(observer_.TakeWaits(), ElementsAre("replica-0/error"));
  EXPECT_THAT(observer_.TakeReads(),
              ElementsAre("primary/primary_session_fallback"));
}

TEST_F(RoutingObserverTest, ReadsRefusedByTheFallbackBudgetAreCounted) {
  Build(1, /*max_fallback_reads=*/0);
  replicas_[0]->FailReads(absl::UnavailableError("gone"));
  EXPECT_TRUE(absl::IsUnavailable(Read(Policy(ReadConsistency::kEventual))));
  EXPECT_EQ(observer_.refused(), 1);
  // The refused read never ran on the primary.
  EXPECT_THAT(observer_.TakeReads(), ElementsAre("replica-0/replica"));
  // STRONG reads are never refused.
  ASSERT_TRUE(Read(Policy(ReadConsistency::kStrong)).ok());
  EXPECT_EQ(observer_.refused(), 1);
}

}  // namespace
}  // namespace userservice
