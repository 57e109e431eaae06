#include "server/pool/connection_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;

// Counts how many FakeConns exist, were opened and were destroyed, and which
// ones are gone.
struct ConnStats {
  std::atomic<int> opened{0};
  std::atomic<int> destroyed{0};
  absl::Mutex mu;
  std::set<int> destroyed_ids ABSL_GUARDED_BY(mu);

  int live() const { return opened.load() - destroyed.load(); }
  bool WasDestroyed(int id) {
    absl::MutexLock lock(&mu);
    return destroyed_ids.count(id) > 0;
  }
};

class FakeConn {
 public:
  FakeConn(int id, ConnStats* stats) : id_(id), stats_(stats) {}
  ~FakeConn() {
    {
      absl::MutexLock lock(&stats_->mu);
      stats_->destroyed_ids.insert(id_);
    }
    ++stats_->destroyed;
  }
  FakeConn(const FakeConn&) = delete;
  FakeConn& operator=(const FakeConn&) = delete;

  int id() const { return id_; }

 private:
  const int id_;
  ConnStats* const stats_;
};

using Pool = ConnectionPool<FakeConn>;
using Lease = Pool::Lease;

// A factory that numbers connections 1, 2, ... and can be told to fail or to
// block until released.
class FakeFactory {
 public:
  explicit FakeFactory(ConnStats* stats) : stats_(stats) {}

  Pool::Factory AsFactory() {
    return [this](absl::Time deadline) { return Open(deadline); };
  }

  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    failure_ = std::move(status);
  }

  // The next Open calls block until `release` is notified, signalling
  // `entered` (if not null) once the first one is inside.
  void BlockOn(absl::Notification* entered, absl::Notification* release) {
    absl::MutexLock lock(&mu_);
    entered_ = entered;
    release_ = release;
  }

  int calls() const { return calls_.load(); }
  absl::Time last_deadline() {
    absl::MutexLock lock(&mu_);
    return last_deadline_;
  }

 private:
  absl::StatusOr<std::unique_ptr<FakeConn>> Open(absl::Time deadline) {
    ++calls_;
    absl::Notification* entered;
    absl::Notification* release;
    absl::Status failure;
    {
      absl::MutexLock lock(&mu_);
      last_deadline_ = deadline;
      entered = entered_;
      release = release_;
      failure = failure_;
    }
    if (release != nullptr) {
      if (entered != nullptr && !entered->HasBeenNotified()) entered->Notify();
      // Like a real connect, give up at the caller's deadline.
      if (!release->WaitForNotificationWithDeadline(deadline)) {
        return absl::DeadlineExceededError("connect timed out");
      }
    }
    if (!failure.ok()) return failure;
    const int id = ++stats_->opened;
    return std::make_unique<FakeConn>(id, stats_);
  }

  ConnStats* const stats_;
  std::atomic<int> calls_{0};
  absl::Mutex mu_;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  absl::Notification* entered_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Notification* release_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Time last_deadline_ ABSL_GUARDED_BY(mu_);
};

PoolOptions Options(int max_size,
                    absl::Duration acquire_timeout = absl::Seconds(30),
                    std::string name = "test-db") {
  PoolOptions options;
  options.name = std::move(name);
  options.max_size = max_size;
  options.acquire_timeout = acquire_timeout;
  return options;
}

absl::Time Later() { return absl::Now() + absl::Seconds(30); }

// Polls until `done` holds: used only to wait for another thread to reach a
// state (e.g. to be queued as a waiter), never as an assertion on time.
template <typename Predicate>
void WaitUntil(Predicate done) {
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!done()) {
    ASSERT_LT(absl::Now(), give_up) << "condition never became true";
    absl::SleepFor(absl::Milliseconds(1));
  }
}

class ConnectionPoolTest : public ::testing::Test {
 protected:
  ConnStats stats_;
  FakeFactory factory_{&stats_};
};

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

TEST_F(ConnectionPoolTest, BrokenConnectionIsDestroyedAndNotReused) {
  Pool pool(Options(4), factory_.AsFactory());
  int broken_id;
  {
    absl::StatusOr<Lease> lease = pool.Acquire(Later());
    ASSERT_TRUE(lease.ok());
    broken_id = (*lease)->id();
    lease->MarkBroken();
  }
  EXPECT_TRUE(stats_.WasDestroyed(broken_id));
  EXPECT_EQ(pool.Stats().size(), 0);

  absl::StatusOr<Lease> next = pool.Acquire(Later());
  ASSERT_TRUE(next.ok());
  EXPECT_NE((*next)->id(), broken_id);
  EXPECT_EQ(factory_.calls(), 2);
}

TEST_F(ConnectionPoolTest, BrokenConnectionFlushesIdleConnections) {
  Pool pool(Options(4), factory_.AsFactory());
  std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> c(pool.Acquire(Later()));
  ASSERT_TRUE(a->ok() && b->ok() && c->ok());
  const int idle_id1 = (**b)->id();
  const int idle_id2 = (**c)->id();
  b.reset();
  c.reset();
  ASSERT_EQ(pool.Stats().idle, 2);

  (*a)->MarkBroken();
  a.reset();
  EXPECT_TRUE(stats_.WasDestroyed(idle_id1));
  EXPECT_TRUE(stats_.WasDestroyed(idle_id2));
  EXPECT_EQ(stats_.live(), 0);
  EXPECT_EQ(pool.Stats().size(), 0);

  absl::StatusOr<Lease> fresh = pool.Acquire(Later());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(factory_.calls(), 4);
}

TEST_F(ConnectionPoolTest, LeaseFromBeforeABreakIsDestroyedOnRelease) {
  Pool pool(Options(4), factory_.AsFactory());
  std::optional<absl::StatusOr<Lease>> old_lease(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> breaking(pool.Acquire(Later()));
  ASSERT_TRUE(old_lease->ok() && breaking->ok());
  const int old_id = (**old_lease)->id();

  (*breaking)->MarkBroken();
  breaking.reset();
  EXPECT_FALSE(stats_.WasDestroyed(old_id));  // still in use

  old_lease.reset();
  EXPECT_TRUE(stats_.WasDestroyed(old_id));
  EXPECT_EQ(pool.Stats().idle, 0);
  EXPECT_EQ(pool.Stats().in_use, 0);

  // Connections opened after the break are pooled normally again.
  FakeConn* fresh;
  {
    absl::StatusOr<Lease> lease = pool.Acquire(Later());
    ASSERT_TRUE(lease.ok());
    fresh = lease->get();
  }
  EXPECT_EQ(pool.Stats().idle, 1);
  absl::StatusOr<Lease> reused = pool.Acquire(Later());
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(reused->get(), fresh);
}

TEST_F(ConnectionPoolTest, DiscardIdleDestroysIdleConnections) {
  Pool pool(Options(4), factory_.AsFactory());
  std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> in_use(pool.Acquire(Later()));
  ASSERT_TRUE(a->ok() && b->ok() && in_use->ok());
  const int in_use_id = (**in_use)->id();
  a.reset();
  b.reset();
  ASSERT_EQ(pool.Stats().idle, 2);

  pool.DiscardIdle();
  EXPECT_EQ(pool.Stats().idle, 0);
  EXPECT_EQ(pool.Stats().in_use, 1);
  EXPECT_EQ(stats_.destroyed.load(), 2);
  EXPECT_FALSE(stats_.WasDestroyed(in_use_id));

  // The connection in use predates the discard and is not pooled again.
  in_use.reset();
  EXPECT_TRUE(stats_.WasDestroyed(in_use_id));
  EXPECT_EQ(pool.Stats().size(), 0);

  absl::StatusOr<Lease> fresh = pool.Acquire(Later());
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(factory_.calls(), 4);
}

TEST_F(ConnectionPoolTest, CloseRefusesNewAcquiresAndDestroysEverything) {
  Pool pool(Options(4, absl::Seconds(30), "replica-1"), factory_.AsFactory());
  std::optional<absl::StatusOr<Lease>> idle(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> in_use(pool.Acquire(Later()));
  ASSERT_TRUE(idle->ok() && in_use->ok());
  const int idle_id = (**idle)->id();
  const int in_use_id = (**in_use)->id();
  idle.reset();

  pool.Close();
  EXPECT_TRUE(stats_.WasDestroyed(idle_id));
  EXPECT_FALSE(stats_.WasDestroyed(in_use_id));

  absl::StatusOr<Lease> refused = pool.Acquire(Later());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("replica-1"));
  EXPECT_EQ(factory_.calls(), 2);

  in_use.reset();
  EXPECT_TRUE(stats_.WasDestroyed(in_use_id));
  EXPECT_EQ(pool.Stats().size(), 0);
  EXPECT_EQ(stats_.live(), 0);
}

TEST_F(ConnectionPoolTest, CloseWakesWaitersWithUnavailable) {
  Pool pool(Options(1), factory_.AsFactory());
  absl::StatusOr<Lease> held = pool.Acquire(Later());
  ASSERT_TRUE(held.ok());

  std::optional<absl::StatusOr<Lease>> waited;
  std::thread waiter([&]() { waited.emplace(pool.Acquire(Later())); });
  WaitUntil([&]() { return pool.Stats().waiters == 1; });
  pool.Close();
  waiter.join();
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(waited->status().code(), absl::StatusCode::kUnavailable);
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

TEST_F(ConnectionPoolTest, StatsCountIdleInUseAndWaiters) {
  Pool pool(Options(2), factory_.AsFactory());
  std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
  ASSERT_TRUE(a->ok() && b->ok());
  PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.in_use, 2);
  EXPECT_EQ(stats.idle, 0);
  EXPECT_EQ(stats.size(), 2);

  std::optional<absl::StatusOr<Lease>> w1;
  std::optional<absl::StatusOr<Lease>> w2;
  std::thread t1([&]() { w1.emplace(pool.Acquire(Later())); });
  std::thread t2([&]() { w2.emplace(pool.Acquire(Later())); });
  WaitUntil([&]() { return pool.Stats().waiters == 2; });

  a.reset();
  b.reset();
  t1.join();
  t2.join();
  ASSERT_TRUE(w1->ok() && w2->ok());
  stats = pool.Stats();
  EXPECT_EQ(stats.waiters, 0);
  EXPECT_EQ(stats.in_use, 2);
  EXPECT_EQ(stats.idle, 0);

  w1.reset();
  stats = pool.Stats();
  EXPECT_EQ(stats.in_use, 1);
  EXPECT_EQ(stats.idle, 1);
  EXPECT_EQ(factory_.calls(), 2);
}

TEST_F(ConnectionPoolTest, StatsCountConnectionsBeingOpened) {
  Pool pool(Options(1), factory_.AsFactory());
  absl::Notification entered;
  absl::Notification release;
  factory_.BlockOn(&entered, &release);

  std::optional<absl::StatusOr<Lease>> opened;
  std::thread opener([&]() { opened.emplace(pool.Acquire(Later())); });
  entered.WaitForNotification();
  PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.opening, 1);
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.idle, 0);
  EXPECT_EQ(stats.size(), 1);

  // The slot being opened counts against max_size.
  absl::StatusOr<Lease> no_room =
      pool.Acquire(absl::Now() + absl::Milliseconds(20));
  EXPECT_EQ(no_room.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(factory_.calls(), 1);

  release.Notify();
  opener.join();
  ASSERT_TRUE(opened->ok()) << opened->status();
  stats = pool.Stats();
  EXPECT_EQ(stats.opening, 0);
  EXPECT_EQ(stats.in_use, 1);
}

TEST_F(ConnectionPoolTest, InUseReturnsToZeroAfterMixedFailures) {
  Pool pool(Options(2, /*acquire_timeout=*/absl::Milliseconds(15)),
            factory_.AsFactory());
  {
    std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
    std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
    ASSERT_TRUE(a->ok() && b->ok());
    // Full: one deadline, one acquire timeout.
    EXPECT_EQ(pool.Acquire(absl::Now() + absl::Milliseconds(5)).status().code(),
              absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(pool.Acquire(Later()).status().code(),
              absl::StatusCode::kResourceExhausted);
    (*b)->MarkBroken();
  }
  factory_.FailWith(absl::UnavailableError("down"));
  EXPECT_EQ(pool.Acquire(Later()).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(pool.Acquire(Later()).status().code(),
            absl::StatusCode::kUnavailable);

  PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.opening, 0);
  EXPECT_EQ(stats.waiters, 0);
  EXPECT_EQ(stats.idle, 0);
  EXPECT_EQ(stats_.live(), 0);

  factory_.FailWith(absl::OkStatus());
  {
    absl::StatusOr<Lease> a = pool.Acquire(Later());
    absl::StatusOr<Lease> b = pool.Acquire(Later());
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(pool.Stats().in_use, 2);
  }
  EXPECT_EQ(pool.Stats().in_use, 0);
  EXPECT_EQ(pool.Stats().idle, 2);
}

}  // namespace
}  // namespace userservice
