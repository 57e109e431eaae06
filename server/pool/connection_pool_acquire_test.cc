// Acquiring and releasing leases: reuse, waiting, deadlines and the acquire
// timeout, factory failures, and moving leases.

#include <atomic>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pool/connection_pool.h"
#include "server/pool/connection_pool_test_util.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;

TEST_F(ConnectionPoolTest, OpensNothingUntilTheFirstAcquire) {
  Pool pool(Options(4), factory_.AsFactory());
  EXPECT_EQ(factory_.calls(), 0);
  EXPECT_EQ(pool.Stats().size(), 0);

  absl::StatusOr<Lease> a = pool.Acquire(Later());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(factory_.calls(), 1);
  EXPECT_NE(a->get(), nullptr);

  // A second caller while the first holds its connection opens one more.
  absl::StatusOr<Lease> b = pool.Acquire(Later());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(factory_.calls(), 2);
  EXPECT_NE(a->get(), b->get());
  EXPECT_EQ(pool.Stats().in_use, 2);
  EXPECT_EQ(pool.Stats().idle, 0);
}

TEST_F(ConnectionPoolTest, PassesTheCallersDeadlineToTheFactory) {
  Pool pool(Options(1), factory_.AsFactory());
  const absl::Time deadline = absl::Now() + absl::Seconds(7);
  absl::StatusOr<Lease> lease = pool.Acquire(deadline);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(factory_.last_deadline(), deadline);
}

TEST_F(ConnectionPoolTest, ReusesAReleasedConnection) {
  Pool pool(Options(4), factory_.AsFactory());
  FakeConn* first;
  {
    absl::StatusOr<Lease> lease = pool.Acquire(Later());
    ASSERT_TRUE(lease.ok()) << lease.status();
    first = lease->get();
  }
  EXPECT_EQ(pool.Stats().idle, 1);
  EXPECT_EQ(pool.Stats().in_use, 0);

  absl::StatusOr<Lease> again = pool.Acquire(Later());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->get(), first);
  EXPECT_EQ(factory_.calls(), 1);
  EXPECT_EQ(stats_.destroyed.load(), 0);
}

TEST_F(ConnectionPoolTest, HandsOutTheMostRecentlyReleasedConnectionFirst) {
  Pool pool(Options(4), factory_.AsFactory());
  std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
  ASSERT_TRUE(a->ok() && b->ok());
  FakeConn* conn_a = (*a)->get();
  FakeConn* conn_b = (*b)->get();

  a.reset();  // released first
  b.reset();  // released last
  ASSERT_EQ(pool.Stats().idle, 2);

  absl::StatusOr<Lease> next = pool.Acquire(Later());
  absl::StatusOr<Lease> after = pool.Acquire(Later());
  ASSERT_TRUE(next.ok() && after.ok());
  EXPECT_EQ(next->get(), conn_b);
  EXPECT_EQ(after->get(), conn_a);
  EXPECT_EQ(factory_.calls(), 2);
}

TEST_F(ConnectionPoolTest, NeverExceedsMaxSizeUnderConcurrency) {
  constexpr int kMaxSize = 3;
  constexpr int kThreads = 8;
  constexpr int kAcquiresPerThread = 300;
  Pool pool(Options(kMaxSize), factory_.AsFactory());

  std::atomic<int> in_use{0};
  std::atomic<int> max_in_use{0};
  std::atomic<int> failures{0};
  std::atomic<int> max_pool_size{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&]() {
      for (int i = 0; i < kAcquiresPerThread; ++i) {
        absl::StatusOr<Lease> lease = pool.Acquire(Later());
        if (!lease.ok()) {
          ++failures;
          continue;
        }
        const int now_in_use = ++in_use;
        int seen = max_in_use.load();
        while (now_in_use > seen &&
               !max_in_use.compare_exchange_weak(seen, now_in_use)) {
        }
        const int size = pool.Stats().size();
        seen = max_pool_size.load();
        while (size > seen &&
               !max_pool_size.compare_exchange_weak(seen, size)) {
        }
        std::this_thread::yield();
        --in_use;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(max_in_use.load(), kMaxSize);
  EXPECT_GE(max_in_use.load(), 1);
  EXPECT_LE(max_pool_size.load(), kMaxSize);
  EXPECT_LE(factory_.calls(), kMaxSize);
  EXPECT_LE(stats_.live(), kMaxSize);
  const PoolStats end = pool.Stats();
  EXPECT_EQ(end.in_use, 0);
  EXPECT_EQ(end.opening, 0);
  EXPECT_EQ(end.waiters, 0);
  EXPECT_EQ(end.idle, stats_.live());
}

TEST_F(ConnectionPoolTest, AWaiterGetsTheConnectionThatIsReleased) {
  Pool pool(Options(1), factory_.AsFactory());
  std::optional<absl::StatusOr<Lease>> held(pool.Acquire(Later()));
  ASSERT_TRUE(held->ok());
  FakeConn* conn = (*held)->get();

  std::optional<absl::StatusOr<Lease>> waited;
  std::thread waiter([&]() { waited.emplace(pool.Acquire(Later())); });
  WaitUntil([&]() { return pool.Stats().waiters == 1; });
  EXPECT_EQ(pool.Stats().in_use, 1);

  held.reset();
  waiter.join();
  ASSERT_TRUE(waited.has_value());
  ASSERT_TRUE(waited->ok()) << waited->status();
  EXPECT_EQ((*waited)->get(), conn);
  EXPECT_EQ(factory_.calls(), 1);
  EXPECT_EQ(pool.Stats().waiters, 0);
  EXPECT_EQ(pool.Stats().in_use, 1);
}

TEST_F(ConnectionPoolTest, WaitingPastTheCallersDeadlineIsDeadlineExceeded) {
  Pool pool(Options(1, /*acquire_timeout=*/absl::Seconds(30), "replica-3"),
            factory_.AsFactory());
  absl::StatusOr<Lease> held = pool.Acquire(Later());
  ASSERT_TRUE(held.ok());

  absl::StatusOr<Lease> late =
      pool.Acquire(absl::Now() + absl::Milliseconds(20));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded)
      << late.status();
  EXPECT_THAT(late.status().message(), HasSubstr("replica-3"));
  EXPECT_EQ(factory_.calls(), 1);
  const PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.waiters, 0);
  EXPECT_EQ(stats.in_use, 1);
}

TEST_F(ConnectionPoolTest, AnAlreadyExpiredDeadlineFailsWhenThePoolIsFull) {
  Pool pool(Options(1), factory_.AsFactory());
  absl::StatusOr<Lease> held = pool.Acquire(Later());
  ASSERT_TRUE(held.ok());
  absl::StatusOr<Lease> late = pool.Acquire(absl::InfinitePast());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(ConnectionPoolTest, WaitingPastTheAcquireTimeoutIsResourceExhausted) {
  Pool pool(Options(1, /*acquire_timeout=*/absl::Milliseconds(20), "primary"),
            factory_.AsFactory());
  absl::StatusOr<Lease> held = pool.Acquire(Later());
  ASSERT_TRUE(held.ok());

  // The caller would wait 30 s; the pool gives up at its acquire timeout.
  absl::StatusOr<Lease> refused = pool.Acquire(Later());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted)
      << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("primary"));
  EXPECT_EQ(pool.Stats().waiters, 0);
  EXPECT_EQ(pool.Stats().in_use, 1);
}

TEST_F(ConnectionPoolTest, FactoryFailureIsUnavailableAndFreesTheSlot) {
  Pool pool(Options(1), factory_.AsFactory());
  factory_.FailWith(absl::UnavailableError("connection refused"));

  absl::StatusOr<Lease> failed = pool.Acquire(Later());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.size(), 0);
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.opening, 0);

  // The slot is free again: with max_size 1 a leaked slot would make this
  // wait and fail with DEADLINE_EXCEEDED instead of calling the factory.
  absl::StatusOr<Lease> again =
      pool.Acquire(absl::Now() + absl::Milliseconds(50));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(factory_.calls(), 2);

  factory_.FailWith(absl::OkStatus());
  absl::StatusOr<Lease> recovered = pool.Acquire(Later());
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(factory_.calls(), 3);
  EXPECT_EQ(pool.Stats().in_use, 1);
}

TEST_F(ConnectionPoolTest, FactoryFailureLetsAWaiterOpenItsOwnConnection) {
  Pool pool(Options(1), factory_.AsFactory());
  absl::Notification entered;
  absl::Notification release;
  factory_.FailWith(absl::UnavailableError("connection refused"));
  factory_.BlockOn(&entered, &release);

  std::optional<absl::StatusOr<Lease>> first;
  std::thread opener([&]() { first.emplace(pool.Acquire(Later())); });
  entered.WaitForNotification();

  std::optional<absl::StatusOr<Lease>> second;
  std::thread waiter([&]() { second.emplace(pool.Acquire(Later())); });
  WaitUntil([&]() { return pool.Stats().waiters == 1; });

  // The blocked open fails; the waiter takes over the slot and succeeds.
  factory_.FailWith(absl::OkStatus());
  release.Notify();
  opener.join();
  waiter.join();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(second->ok()) << second->status();
  EXPECT_EQ(factory_.calls(), 2);
  EXPECT_EQ(pool.Stats().in_use, 1);
}

TEST_F(ConnectionPoolTest, MovedFromLeaseReleasesNothing) {
  Pool pool(Options(2), factory_.AsFactory());
  absl::StatusOr<Lease> acquired = pool.Acquire(Later());
  ASSERT_TRUE(acquired.ok());
  FakeConn* conn = acquired->get();

  std::optional<Lease> source(std::move(*acquired));
  EXPECT_EQ(acquired->get(), nullptr);
  {
    Lease target(std::move(*source));
    EXPECT_EQ(target.get(), conn);
    EXPECT_EQ(source->get(), nullptr);
    source.reset();  // destroying a moved-from lease releases nothing
    EXPECT_EQ(pool.Stats().in_use, 1);
    EXPECT_EQ(pool.Stats().idle, 0);
  }
  // Released exactly once: one idle connection, nothing in use.
  PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.idle, 1);

  // The StatusOr's moved-from lease is destroyed here without effect.
  acquired = absl::UnavailableError("gone");
  stats = pool.Stats();
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.idle, 1);
  EXPECT_EQ(stats_.destroyed.load(), 0);
}

TEST_F(ConnectionPoolTest, MoveAssignmentReleasesTheTargetsConnection) {
  Pool pool(Options(2), factory_.AsFactory());
  absl::StatusOr<Lease> a = pool.Acquire(Later());
  absl::StatusOr<Lease> b = pool.Acquire(Later());
  ASSERT_TRUE(a.ok() && b.ok());
  FakeConn* conn_b = b->get();
  ASSERT_EQ(pool.Stats().in_use, 2);

  *a = std::move(*b);  // a's old connection goes back to the pool
  EXPECT_EQ(a->get(), conn_b);
  EXPECT_EQ(b->get(), nullptr);
  EXPECT_EQ(pool.Stats().in_use, 1);
  EXPECT_EQ(pool.Stats().idle, 1);

  *a = Lease();
  EXPECT_EQ(pool.Stats().in_use, 0);
  EXPECT_EQ(pool.Stats().idle, 2);
}

TEST_F(ConnectionPoolTest, MovedLeaseKeepsItsBrokenMark) {
  Pool pool(Options(2), factory_.AsFactory());
  absl::StatusOr<Lease> acquired = pool.Acquire(Later());
  ASSERT_TRUE(acquired.ok());
  const int id = (*acquired)->id();
  acquired->MarkBroken();
  { Lease moved(std::move(*acquired)); }
  EXPECT_TRUE(stats_.WasDestroyed(id));
  EXPECT_EQ(pool.Stats().size(), 0);
}

TEST_F(ConnectionPoolTest, DefaultConstructedLeaseHoldsNothing) {
  Lease lease;
  EXPECT_EQ(lease.get(), nullptr);
}

}  // namespace
}  // namespace userservice
