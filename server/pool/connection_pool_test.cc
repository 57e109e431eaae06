#include "server/pool/connection_pool.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
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
#include "server/testing/fake_clock.h"

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
  // Most Open calls ever in progress at once.
  int max_concurrent() const { return max_concurrent_.load(); }
  absl::Time last_deadline() {
    absl::MutexLock lock(&mu_);
    return last_deadline_;
  }

 private:
  absl::StatusOr<std::unique_ptr<FakeConn>> Open(absl::Time deadline) {
    ++calls_;
    const int concurrent = ++concurrent_;
    int seen = max_concurrent_.load();
    while (concurrent > seen &&
           !max_concurrent_.compare_exchange_weak(seen, concurrent)) {
    }
    struct Exit {
      std::atomic<int>* concurrent;
      ~Exit() { --*concurrent; }
    } exit{&concurrent_};
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
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};
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

// Options with lifetime, idle timeout and validation all off, for tests to
// turn on what they exercise (on the fake clock).
PoolOptions BareOptions(int max_size) {
  PoolOptions options = Options(max_size);
  options.max_lifetime = absl::InfiniteDuration();
  options.idle_timeout = absl::InfiniteDuration();
  options.validate_after_idle = absl::InfiniteDuration();
  return options;
}

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
  FakeClock clock_;
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

// Records what the pool tells its observer.
class RecordingObserver : public PoolObserver {
 public:
  void OnAcquire(absl::Duration waited, const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    waits_.push_back(waited);
    codes_.push_back(status.code());
  }
  std::vector<absl::Duration> waits() {
    absl::MutexLock lock(&mu_);
    return waits_;
  }
  std::vector<absl::StatusCode> codes() {
    absl::MutexLock lock(&mu_);
    return codes_;
  }

 private:
  absl::Mutex mu_;
  std::vector<absl::Duration> waits_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::StatusCode> codes_ ABSL_GUARDED_BY(mu_);
};

TEST_F(ConnectionPoolTest, TellsTheObserverAboutEveryAcquireAndItsWait) {
  RecordingObserver observer;
  PoolOptions options = Options(1, /*acquire_timeout=*/absl::Milliseconds(20));
  options.observer = &observer;
  Pool pool(options, factory_.AsFactory());
  absl::StatusOr<Lease> held = pool.Acquire(Later());
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(pool.Acquire(Later()).status().code(),
            absl::StatusCode::kResourceExhausted);
  held = Lease();
  pool.Close();
  EXPECT_EQ(pool.Acquire(Later()).status().code(),
            absl::StatusCode::kUnavailable);

  EXPECT_THAT(observer.codes(),
              ::testing::ElementsAre(absl::StatusCode::kOk,
                                     absl::StatusCode::kResourceExhausted,
                                     absl::StatusCode::kUnavailable));
  ASSERT_EQ(observer.waits().size(), 3u);
  // The refused caller waited out the acquire timeout.
  EXPECT_GE(observer.waits()[1], absl::Milliseconds(20));
  EXPECT_EQ(pool.Stats().closed_shutdown, 1u);
  EXPECT_EQ(pool.Stats().acquire_closed, 1u);
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

// --- Lifetime -------------------------------------------------------------

TEST_F(ConnectionPoolTest, DefaultOptions) {
  const PoolOptions options;
  EXPECT_EQ(options.max_size, 16);
  EXPECT_EQ(options.acquire_timeout, absl::Seconds(2));
  EXPECT_EQ(options.max_lifetime, absl::Minutes(30));
  EXPECT_EQ(options.lifetime_jitter, 0.2);
  EXPECT_EQ(options.idle_timeout, absl::Minutes(5));
  EXPECT_EQ(options.validate_after_idle, absl::Seconds(1));
  EXPECT_EQ(options.max_opening, 4);
}

TEST_F(ConnectionPoolTest, WithoutAClockLifetimesRunOnRealTime) {
  PoolOptions options = Options(1);
  options.max_lifetime = absl::Seconds(100);
  options.lifetime_jitter = 0;
  Pool pool(options, factory_.AsFactory());
  const absl::Time before = absl::Now();
  absl::StatusOr<Lease> lease = pool.Acquire(Later());
  const absl::Time after = absl::Now();
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_GE(lease->expires_at(), before + absl::Seconds(100));
  EXPECT_LE(lease->expires_at(), after + absl::Seconds(100));
}

TEST_F(ConnectionPoolTest, LifetimesAreJitteredAndIdleConnectionsExpireOnTime) {
  constexpr int kConns = 40;
  PoolOptions options = BareOptions(kConns);
  options.max_lifetime = absl::Seconds(100);
  options.lifetime_jitter = 0.2;
  Pool pool(options, factory_.AsFactory(), nullptr, clock_.AsClock());
  const absl::Time t0 = clock_.Now();

  std::map<int, absl::Time> expires;  // by connection id
  {
    std::vector<Lease> leases;
    for (int i = 0; i < kConns; ++i) {
      absl::StatusOr<Lease> lease = pool.Acquire(Later());
      ASSERT_TRUE(lease.ok()) << lease.status();
      expires[(*lease)->id()] = lease->expires_at();
      leases.push_back(*std::move(lease));
    }
  }  // all released at t0, all idle
  ASSERT_EQ(pool.Stats().idle, kConns);

  absl::Time earliest = absl::InfiniteFuture();
  absl::Time latest = absl::InfinitePast();
  for (const auto& [id, at] : expires) {
    EXPECT_GE(at, t0 + absl::Seconds(80)) << id;
    EXPECT_LE(at, t0 + absl::Seconds(100)) << id;
    earliest = std::min(earliest, at);
    latest = std::max(latest, at);
  }
  // Spread over the window, not bunched (40 uniform draws over 20 s all
  // within 5 s of each other has a probability below 1e-20).
  EXPECT_GT(latest - earliest, absl::Seconds(5));

  // Sweep time second by second: each idle connection is closed by the first
  // Maintain() at or after its own expiry, and not before.
  std::map<int, int> closed_at_second;
  for (int second = 0; second <= 101; ++second) {
    clock_.Set(t0 + absl::Seconds(second));
    pool.Maintain();
    for (const auto& [id, at] : expires) {
      const bool expired = at <= clock_.Now();
      ASSERT_EQ(stats_.WasDestroyed(id), expired)
          << "connection " << id << " at second " << second;
      if (expired && closed_at_second.count(id) == 0) {
        closed_at_second[id] = second;
      }
    }
  }
  ASSERT_EQ(closed_at_second.size(), static_cast<size_t>(kConns));
  for (const auto& [id, second] : closed_at_second) {
    EXPECT_GE(second, 80) << id;
    EXPECT_LE(second, 100) << id;
  }
  const PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.closed_lifetime, static_cast<uint64_t>(kConns));
  EXPECT_EQ(stats.closed_idle, 0u);
  EXPECT_EQ(stats.size(), 0);
}

TEST_F(ConnectionPoolTest,
       ExpiredConnectionsCloseOnReleaseAndTheRestAreReused) {
  constexpr int kConns = 40;
  PoolOptions options = BareOptions(kConns + 1);
  options.max_lifetime = absl::Seconds(100);
  options.lifetime_jitter = 0.2;
  Pool pool(options, factory_.AsFactory(), nullptr, clock_.AsClock());
  const absl::Time t0 = clock_.Now();

  std::vector<Lease> leases;
  std::map<int, absl::Time> expires;
  for (int i = 0; i < kConns; ++i) {
    absl::StatusOr<Lease> lease = pool.Acquire(Later());
    ASSERT_TRUE(lease.ok()) << lease.status();
    expires[(*lease)->id()] = lease->expires_at();
    leases.push_back(*std::move(lease));
  }

  // A lease in use is never interrupted, however old.
  clock_.Set(t0 + absl::Hours(1));
  pool.Maintain();
  EXPECT_EQ(stats_.destroyed.load(), 0);
  EXPECT_EQ(pool.Stats().in_use, kConns);

  // Released half-way through the jitter window: the expired ones close.
  const absl::Time release_at = t0 + absl::Seconds(90);
  clock_.Set(release_at);
  leases.clear();
  std::set<int> survivors;
  for (const auto& [id, at] : expires) {
    const bool expired = at <= release_at;
    EXPECT_EQ(stats_.WasDestroyed(id), expired) << id;
    if (!expired) survivors.insert(id);
  }
  ASSERT_GT(survivors.size(), 0u);  // P(not) = 2 * 2^-40
  ASSERT_LT(survivors.size(), static_cast<size_t>(kConns));
  PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.closed_lifetime, kConns - survivors.size());
  EXPECT_EQ(stats.idle, static_cast<int>(survivors.size()));
  EXPECT_EQ(stats.in_use, 0);

  // The survivors are handed out again, with their original expiry.
  for (size_t i = 0; i < survivors.size(); ++i) {
    absl::StatusOr<Lease> lease = pool.Acquire(Later());
    ASSERT_TRUE(lease.ok()) << lease.status();
    const int id = (*lease)->id();
    EXPECT_EQ(survivors.count(id), 1u) << id;
    EXPECT_EQ(lease->expires_at(), expires[id]);
    leases.push_back(*std::move(lease));
  }
  EXPECT_EQ(factory_.calls(), kConns);

  // A new connection's lifetime starts when it is opened.
  absl::StatusOr<Lease> fresh = pool.Acquire(Later());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(factory_.calls(), kConns + 1);
  EXPECT_GE(fresh->expires_at(), release_at + absl::Seconds(80));
  EXPECT_LE(fresh->expires_at(), release_at + absl::Seconds(100));
}

TEST_F(ConnectionPoolTest,
       WithoutJitterEveryConnectionLivesExactlyMaxLifetime) {
  PoolOptions options = BareOptions(4);
  options.max_lifetime = absl::Seconds(100);
  options.lifetime_jitter = 0;
  Pool pool(options, factory_.AsFactory(), nullptr, clock_.AsClock());
  const absl::Time t0 = clock_.Now();

  std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
  ASSERT_TRUE(a->ok() && b->ok());
  EXPECT_EQ((*a)->expires_at(), t0 + absl::Seconds(100));
  EXPECT_EQ((*b)->expires_at(), t0 + absl::Seconds(100));
  const int a_id = (**a)->id();
  const int b_id = (**b)->id();

  clock_.Set(t0 + absl::Seconds(100) - absl::Nanoseconds(1));
  a.reset();
  EXPECT_FALSE(stats_.WasDestroyed(a_id));
  clock_.Set(t0 + absl::Seconds(100));
  b.reset();
  EXPECT_TRUE(stats_.WasDestroyed(b_id));
  // a is found expired when idle.
  absl::StatusOr<Lease> next = pool.Acquire(Later());
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(stats_.WasDestroyed(a_id));
  EXPECT_EQ(pool.Stats().closed_lifetime, 2u);
  EXPECT_EQ(factory_.calls(), 3);
}

TEST_F(ConnectionPoolTest, InfiniteLifetimeNeverExpires) {
  PoolOptions options = BareOptions(2);
  options.max_lifetime = absl::InfiniteDuration();
  Pool pool(options, factory_.AsFactory(), nullptr, clock_.AsClock());
  FakeConn* conn;
  {
    absl::StatusOr<Lease> lease = pool.Acquire(Later());
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ(lease->expires_at(), absl::InfiniteFuture());
    conn = lease->get();
    clock_.Advance(absl::Hours(24 * 365 * 100));
  }
  pool.Maintain();
  absl::StatusOr<Lease> again = pool.Acquire(Later());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), conn);
  EXPECT_EQ(pool.Stats().closed_lifetime, 0u);
  EXPECT_EQ(stats_.destroyed.load(), 0);
}

// --- Idle timeout -----------------------------------------------------------

TEST_F(ConnectionPoolTest, MaintainClosesConnectionsIdleLongerThanTheTimeout) {
  PoolOptions options = BareOptions(4);
  options.idle_timeout = absl::Seconds(60);
  Pool pool(options, factory_.AsFactory(), nullptr, clock_.AsClock());
  const absl::Time t0 = clock_.Now();

  std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> c(pool.Acquire(Later()));
  ASSERT_TRUE(a->ok() && b->ok() && c->ok());
  const int a_id = (**a)->id();
  const int b_id = (**b)->id();
  const int c_id = (**c)->id();
  a.reset();  // idle since t0
  clock_.Set(t0 + absl::Seconds(30));
  b.reset();  // idle since t0 + 30 s; c stays in use

  clock_.Set(t0 + absl::Seconds(60));  // a idle exactly the timeout: kept
  pool.Maintain();
  EXPECT_EQ(stats_.destroyed.load(), 0);

  clock_.Set(t0 + absl::Seconds(61));
  pool.Maintain();
  EXPECT_TRUE(stats_.WasDestroyed(a_id));
  EXPECT_FALSE(stats_.WasDestroyed(b_id));
  EXPECT_EQ(pool.Stats().closed_idle, 1u);
  EXPECT_EQ(pool.Stats().idle, 1);

  clock_.Set(t0 + absl::Seconds(91));
  pool.Maintain();
  EXPECT_TRUE(stats_.WasDestroyed(b_id));
  EXPECT_FALSE(stats_.WasDestroyed(c_id));  // in use, however long
  EXPECT_EQ(pool.Stats().closed_idle, 2u);

  c.reset();  // idle from now (t0 + 91 s), not from when it was opened
  clock_.Set(t0 + absl::Seconds(151));
  pool.Maintain();
  EXPECT_FALSE(stats_.WasDestroyed(c_id));
  clock_.Set(t0 + absl::Seconds(152));
  pool.Maintain();
  EXPECT_TRUE(stats_.WasDestroyed(c_id));
  const PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.closed_idle, 3u);
  EXPECT_EQ(stats.size(), 0);
  EXPECT_EQ(factory_.calls(), 3);
}

TEST_F(ConnectionPoolTest, AcquireClosesConnectionsIdleLongerThanTheTimeout) {
  PoolOptions options = BareOptions(4);
  options.idle_timeout = absl::Seconds(60);
  Pool pool(options, factory_.AsFactory(), nullptr, clock_.AsClock());
  const absl::Time t0 = clock_.Now();

  std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
  ASSERT_TRUE(a->ok() && b->ok());
  const int a_id = (**a)->id();
  const int b_id = (**b)->id();
  b.reset();  // idle since t0
  clock_.Set(t0 + absl::Seconds(30));
  a.reset();  // idle since t0 + 30 s, handed out first anyway (LIFO)

  clock_.Set(t0 + absl::Seconds(61));
  {
    absl::StatusOr<Lease> lease = pool.Acquire(Later());
    ASSERT_TRUE(lease.ok());
    EXPECT_EQ((*lease)->id(), a_id);
    // b was closed on the way, without a Maintain().
    EXPECT_TRUE(stats_.WasDestroyed(b_id));
    EXPECT_EQ(pool.Stats().closed_idle, 1u);
    EXPECT_EQ(pool.Stats().idle, 0);
  }  // a idle since t0 + 61 s

  // The only idle connection timed out: it is closed and a new one opened.
  clock_.Set(t0 + absl::Seconds(122));
  absl::StatusOr<Lease> lease = pool.Acquire(Later());
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE(stats_.WasDestroyed(a_id));
  EXPECT_NE((*lease)->id(), a_id);
  EXPECT_EQ(factory_.calls(), 3);
  EXPECT_EQ(pool.Stats().closed_idle, 2u);
}

// --- Validation -------------------------------------------------------------

// Records the connections it was called on and fails those it is told to.
class FakeValidator {
 public:
  Pool::Validator AsValidator() {
    return [this](FakeConn& conn, absl::Time deadline) {
      absl::MutexLock lock(&mu_);
      calls_.push_back(conn.id());
      last_deadline_ = deadline;
      return failing_.count(conn.id()) == 0 && !fail_all_;
    };
  }
  void Fail(int id) {
    absl::MutexLock lock(&mu_);
    failing_.insert(id);
  }
  void FailAll() {
    absl::MutexLock lock(&mu_);
    fail_all_ = true;
  }
  std::vector<int> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  absl::Time last_deadline() {
    absl::MutexLock lock(&mu_);
    return last_deadline_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int> calls_ ABSL_GUARDED_BY(mu_);
  std::set<int> failing_ ABSL_GUARDED_BY(mu_);
  bool fail_all_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_deadline_ ABSL_GUARDED_BY(mu_);
};

PoolOptions ValidatingOptions(int max_size) {
  PoolOptions options = BareOptions(max_size);
  options.validate_after_idle = absl::Seconds(1);
  return options;
}

TEST_F(ConnectionPoolTest, ValidatesOnlyConnectionsIdleLongerThanThreshold) {
  FakeValidator validator;
  Pool pool(ValidatingOptions(4), factory_.AsFactory(), validator.AsValidator(),
            clock_.AsClock());

  // A new connection is not validated.
  { ASSERT_TRUE(pool.Acquire(Later()).ok()); }
  EXPECT_TRUE(validator.calls().empty());

  // Idle for less than, and for exactly, the threshold: not validated.
  clock_.Advance(absl::Milliseconds(500));
  { ASSERT_TRUE(pool.Acquire(Later()).ok()); }
  clock_.Advance(absl::Seconds(1));
  { ASSERT_TRUE(pool.Acquire(Later()).ok()); }
  EXPECT_TRUE(validator.calls().empty());

  // Idle for longer: validated once, with the caller's deadline, and handed
  // out when it passes.
  clock_.Advance(absl::Seconds(1) + absl::Nanoseconds(1));
  const absl::Time deadline = absl::Now() + absl::Seconds(9);
  absl::StatusOr<Lease> lease = pool.Acquire(deadline);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)->id(), 1);
  EXPECT_THAT(validator.calls(), ::testing::ElementsAre(1));
  EXPECT_EQ(validator.last_deadline(), deadline);
  EXPECT_EQ(factory_.calls(), 1);
  EXPECT_EQ(pool.Stats().closed_validation, 0u);
}

TEST_F(ConnectionPoolTest, NoValidatorMeansNoValidation) {
  Pool pool(ValidatingOptions(4), factory_.AsFactory(), nullptr,
            clock_.AsClock());
  { ASSERT_TRUE(pool.Acquire(Later()).ok()); }
  clock_.Advance(absl::Hours(1));
  absl::StatusOr<Lease> lease = pool.Acquire(Later());
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)->id(), 1);
}

TEST_F(ConnectionPoolTest, FailedValidationClosesItAndAcquireTakesTheNext) {
  FakeValidator validator;
  Pool pool(ValidatingOptions(4), factory_.AsFactory(), validator.AsValidator(),
            clock_.AsClock());
  {
    std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
    std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
    ASSERT_TRUE(a->ok() && b->ok());
    a.reset();
    b.reset();  // released last: 2 is handed out first
  }
  clock_.Advance(absl::Seconds(2));
  validator.Fail(2);

  absl::StatusOr<Lease> lease = pool.Acquire(Later());
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)->id(), 1);
  EXPECT_THAT(validator.calls(), ::testing::ElementsAre(2, 1));
  EXPECT_TRUE(stats_.WasDestroyed(2));
  const PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.closed_validation, 1u);
  EXPECT_EQ(stats.closed_broken, 0u);  // one bad connection flushes nothing
  EXPECT_EQ(stats.in_use, 1);
  EXPECT_EQ(stats.idle, 0);
  EXPECT_EQ(factory_.calls(), 2);
}

TEST_F(ConnectionPoolTest, WhenEveryIdleConnectionFailsValidationOneIsOpened) {
  FakeValidator validator;
  Pool pool(ValidatingOptions(4), factory_.AsFactory(), validator.AsValidator(),
            clock_.AsClock());
  {
    std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
    std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
    ASSERT_TRUE(a->ok() && b->ok());
    a.reset();
    b.reset();  // released last: 2 is validated first
  }
  clock_.Advance(absl::Seconds(2));
  validator.FailAll();

  absl::StatusOr<Lease> lease = pool.Acquire(Later());
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)->id(), 3);
  // The new connection is not validated.
  EXPECT_THAT(validator.calls(), ::testing::ElementsAre(2, 1));
  EXPECT_EQ(stats_.live(), 1);
  const PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.closed_validation, 2u);
  EXPECT_EQ(stats.opened, 3u);
  EXPECT_EQ(stats.in_use, 1);
}

TEST_F(ConnectionPoolTest, FailedValidationInAFullPoolOpensAReplacement) {
  FakeValidator validator;
  Pool pool(ValidatingOptions(1), factory_.AsFactory(), validator.AsValidator(),
            clock_.AsClock());
  { ASSERT_TRUE(pool.Acquire(Later()).ok()); }
  clock_.Advance(absl::Seconds(2));
  validator.Fail(1);
  // The failed connection's slot is free again for the replacement.
  absl::StatusOr<Lease> lease = pool.Acquire(Later());
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ((*lease)->id(), 2);
  EXPECT_EQ(pool.Stats().size(), 1);
}

TEST_F(ConnectionPoolTest, ValidatorRunsOutsideThePoolMutex) {
  Pool* pool_ptr = nullptr;
  std::vector<PoolStats> seen;
  // Stats() takes the pool's mutex: called under it, this would deadlock.
  auto validator = [&](FakeConn&, absl::Time) {
    seen.push_back(pool_ptr->Stats());
    return true;
  };
  Pool pool(ValidatingOptions(4), factory_.AsFactory(), validator,
            clock_.AsClock());
  pool_ptr = &pool;
  { ASSERT_TRUE(pool.Acquire(Later()).ok()); }
  clock_.Advance(absl::Seconds(2));
  absl::StatusOr<Lease> lease = pool.Acquire(Later());
  ASSERT_TRUE(lease.ok());
  ASSERT_EQ(seen.size(), 1u);
  // The connection being validated counts as in use, not idle.
  EXPECT_EQ(seen[0].in_use, 1);
  EXPECT_EQ(seen[0].idle, 0);
}

TEST_F(ConnectionPoolTest, NoValidationOnceTheDeadlineHasPassed) {
  FakeValidator validator;
  Pool pool(ValidatingOptions(4), factory_.AsFactory(), validator.AsValidator(),
            clock_.AsClock());
  { ASSERT_TRUE(pool.Acquire(Later()).ok()); }
  clock_.Advance(absl::Seconds(2));

  // A validator given no time would fail a good connection.
  absl::StatusOr<Lease> late = pool.Acquire(absl::InfinitePast());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded)
      << late.status();
  EXPECT_TRUE(validator.calls().empty());
  PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.idle, 1);
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.acquire_deadline_exceeded, 1u);

  absl::StatusOr<Lease> lease = pool.Acquire(Later());
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)->id(), 1);
  EXPECT_THAT(validator.calls(), ::testing::ElementsAre(1));
}

TEST_F(ConnectionPoolTest, AThrowingValidatorClosesTheConnection) {
  auto validator = [](FakeConn&, absl::Time) -> bool {
    throw std::runtime_error("validator blew up");
  };
  Pool pool(ValidatingOptions(4), factory_.AsFactory(), validator,
            clock_.AsClock());
  { ASSERT_TRUE(pool.Acquire(Later()).ok()); }
  clock_.Advance(absl::Seconds(2));
  EXPECT_THROW(pool.Acquire(Later()).IgnoreError(), std::runtime_error);
  EXPECT_TRUE(stats_.WasDestroyed(1));
  const PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.size(), 0);
  EXPECT_EQ(stats.closed_validation, 1u);
}

// --- max_opening ------------------------------------------------------------

TEST_F(ConnectionPoolTest, AtMostMaxOpeningConnectionsAreOpenedAtOnce) {
  constexpr int kCallers = 6;
  PoolOptions options = Options(10);
  options.max_opening = 2;
  Pool pool(options, factory_.AsFactory());
  absl::Notification entered;
  absl::Notification release;
  factory_.BlockOn(&entered, &release);

  std::vector<std::optional<absl::StatusOr<Lease>>> results(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back(
        [&, i]() { results[i].emplace(pool.Acquire(Later())); });
  }
  // Two opens in flight; the other callers queue rather than connect.
  WaitUntil([&]() {
    const PoolStats stats = pool.Stats();
    return stats.opening == 2 && stats.waiters == kCallers - 2;
  });
  EXPECT_EQ(factory_.calls(), 2);
  EXPECT_EQ(factory_.max_concurrent(), 2);

  release.Notify();
  for (std::thread& caller : callers) caller.join();
  std::set<FakeConn*> conns;
  for (const auto& result : results) {
    ASSERT_TRUE(result.has_value());
    ASSERT_TRUE(result->ok()) << result->status();
    conns.insert((*result)->get());
  }
  EXPECT_EQ(conns.size(), static_cast<size_t>(kCallers));
  EXPECT_LE(factory_.max_concurrent(), 2);
  EXPECT_EQ(factory_.calls(), kCallers);
  const PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.opened, static_cast<uint64_t>(kCallers));
  EXPECT_EQ(stats.in_use, kCallers);
  EXPECT_EQ(stats.opening, 0);
  EXPECT_EQ(stats.waiters, 0);
}

TEST_F(ConnectionPoolTest, ACallerHeldBackByMaxOpeningTakesAReleasedLease) {
  PoolOptions options = Options(4);
  options.max_opening = 1;
  Pool pool(options, factory_.AsFactory());
  std::optional<absl::StatusOr<Lease>> held(pool.Acquire(Later()));
  ASSERT_TRUE(held->ok());
  FakeConn* held_conn = (*held)->get();

  absl::Notification entered;
  absl::Notification release;
  factory_.BlockOn(&entered, &release);
  std::optional<absl::StatusOr<Lease>> opened;
  std::thread opener([&]() { opened.emplace(pool.Acquire(Later())); });
  entered.WaitForNotification();
  std::optional<absl::StatusOr<Lease>> waited;
  std::thread waiter([&]() { waited.emplace(pool.Acquire(Later())); });
  WaitUntil([&]() { return pool.Stats().waiters == 1; });

  held.reset();
  waiter.join();
  ASSERT_TRUE(waited->ok()) << waited->status();
  EXPECT_EQ((*waited)->get(), held_conn);
  EXPECT_EQ(factory_.calls(), 2);

  release.Notify();
  opener.join();
  ASSERT_TRUE(opened->ok()) << opened->status();
  EXPECT_EQ(pool.Stats().in_use, 2);
}

TEST_F(ConnectionPoolTest, WaitingOnMaxOpeningPastTheAcquireTimeout) {
  PoolOptions options =
      Options(4, /*acquire_timeout=*/absl::Milliseconds(20), "replica-2");
  options.max_opening = 1;
  Pool pool(options, factory_.AsFactory());
  absl::Notification entered;
  absl::Notification release;
  factory_.BlockOn(&entered, &release);
  std::optional<absl::StatusOr<Lease>> opened;
  std::thread opener([&]() { opened.emplace(pool.Acquire(Later())); });
  entered.WaitForNotification();

  absl::StatusOr<Lease> refused = pool.Acquire(Later());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted)
      << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("replica-2"));
  EXPECT_THAT(refused.status().message(), HasSubstr("being opened"));
  EXPECT_EQ(factory_.calls(), 1);
  EXPECT_EQ(pool.Stats().acquire_resource_exhausted, 1u);

  release.Notify();
  opener.join();
  ASSERT_TRUE(opened->ok()) << opened->status();
}

TEST_F(ConnectionPoolTest, MaxOpeningBelowOneMeansNoLimit) {
  constexpr int kCallers = 4;
  PoolOptions options = Options(kCallers);
  options.max_opening = 0;
  Pool pool(options, factory_.AsFactory());
  absl::Notification entered;
  absl::Notification release;
  factory_.BlockOn(&entered, &release);
  std::vector<std::optional<absl::StatusOr<Lease>>> results(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back(
        [&, i]() { results[i].emplace(pool.Acquire(Later())); });
  }
  WaitUntil([&]() { return pool.Stats().opening == kCallers; });
  release.Notify();
  for (std::thread& caller : callers) caller.join();
  for (const auto& result : results) ASSERT_TRUE(result->ok());
  EXPECT_EQ(factory_.max_concurrent(), kCallers);
}

// --- Counters ---------------------------------------------------------------

void ExpectCounters(const PoolStats& got, const PoolStats& want) {
  EXPECT_EQ(got.idle, want.idle);
  EXPECT_EQ(got.in_use, want.in_use);
  EXPECT_EQ(got.max_size, want.max_size);
  EXPECT_EQ(got.opened, want.opened);
  EXPECT_EQ(got.open_failures, want.open_failures);
  EXPECT_EQ(got.closed_broken, want.closed_broken);
  EXPECT_EQ(got.closed_lifetime, want.closed_lifetime);
  EXPECT_EQ(got.closed_idle, want.closed_idle);
  EXPECT_EQ(got.closed_validation, want.closed_validation);
  EXPECT_EQ(got.closed_discarded, want.closed_discarded);
  EXPECT_EQ(got.closed_shutdown, want.closed_shutdown);
  EXPECT_EQ(got.acquire_resource_exhausted, want.acquire_resource_exhausted);
  EXPECT_EQ(got.acquire_deadline_exceeded, want.acquire_deadline_exceeded);
  EXPECT_EQ(got.acquire_closed, want.acquire_closed);
  // Every connection opened is idle, in use or counted as closed.
  EXPECT_EQ(got.opened, got.closed() + static_cast<uint64_t>(got.idle) +
                            static_cast<uint64_t>(got.in_use));
}

TEST_F(ConnectionPoolTest, CountersMoveExactlyAsExpected) {
  PoolOptions options = ValidatingOptions(2);
  options.acquire_timeout = absl::Milliseconds(15);
  options.max_lifetime = absl::Seconds(100);
  options.lifetime_jitter = 0;
  options.idle_timeout = absl::Seconds(60);
  FakeValidator validator;
  Pool pool(options, factory_.AsFactory(), validator.AsValidator(),
            clock_.AsClock());

  PoolStats want;  // updated step by step: only what should move
  want.max_size = 2;
  {
    SCOPED_TRACE("new pool");
    ExpectCounters(pool.Stats(), want);
  }

  std::optional<absl::StatusOr<Lease>> a(pool.Acquire(Later()));
  std::optional<absl::StatusOr<Lease>> b(pool.Acquire(Later()));
  ASSERT_TRUE(a->ok() && b->ok());
  want.opened = 2;
  want.in_use = 2;
  {
    SCOPED_TRACE("two opened");
    ExpectCounters(pool.Stats(), want);
  }

  EXPECT_EQ(pool.Acquire(absl::InfinitePast()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  want.acquire_deadline_exceeded = 1;
  EXPECT_EQ(pool.Acquire(Later()).status().code(),
            absl::StatusCode::kResourceExhausted);
  want.acquire_resource_exhausted = 1;
  {
    SCOPED_TRACE("full pool");
    ExpectCounters(pool.Stats(), want);
  }

  (*b)->MarkBroken();
  b.reset();
  want.closed_broken = 1;
  want.in_use = 1;
  a.reset();  // handed out before the break: discarded
  want.closed_discarded = 1;
  want.in_use = 0;
  {
    SCOPED_TRACE("broken");
    ExpectCounters(pool.Stats(), want);
  }

  factory_.FailWith(absl::UnavailableError("down"));
  EXPECT_EQ(pool.Acquire(Later()).status().code(),
            absl::StatusCode::kUnavailable);
  want.open_failures = 1;
  factory_.FailWith(absl::OkStatus());
  {
    SCOPED_TRACE("open failure");
    ExpectCounters(pool.Stats(), want);
  }

  {
    absl::StatusOr<Lease> c = pool.Acquire(Later());  // 3
    absl::StatusOr<Lease> d = pool.Acquire(Later());  // 4
    ASSERT_TRUE(c.ok() && d.ok());
  }
  want.opened = 4;
  want.idle = 2;
  clock_.Advance(absl::Seconds(61));
  pool.Maintain();
  want.closed_idle = 2;
  want.idle = 0;
  {
    SCOPED_TRACE("idle timeout");
    ExpectCounters(pool.Stats(), want);
  }

  const absl::Time opened_at = clock_.Now();
  {
    std::optional<absl::StatusOr<Lease>> e(pool.Acquire(Later()));  // 5
    std::optional<absl::StatusOr<Lease>> f(pool.Acquire(Later()));  // 6
    ASSERT_TRUE(e->ok() && f->ok());
    e.reset();
    f.reset();  // released last: 6 is validated first
  }
  want.opened = 6;
  clock_.Advance(absl::Seconds(2));
  validator.Fail(6);
  absl::StatusOr<Lease> e = pool.Acquire(Later());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->id(), 5);
  want.closed_validation = 1;
  want.in_use = 1;
  {
    SCOPED_TRACE("failed validation");
    ExpectCounters(pool.Stats(), want);
  }

  clock_.Set(opened_at + absl::Seconds(100));
  e = absl::UnavailableError("released");
  want.closed_lifetime = 1;
  want.in_use = 0;
  {
    SCOPED_TRACE("lifetime");
    ExpectCounters(pool.Stats(), want);
  }

  { ASSERT_TRUE(pool.Acquire(Later()).ok()); }  // 7
  want.opened = 7;
  pool.DiscardIdle();
  want.closed_discarded = 2;
  { ASSERT_TRUE(pool.Acquire(Later()).ok()); }  // 8
  want.opened = 8;
  pool.Close();
  want.closed_shutdown = 1;
  {
    SCOPED_TRACE("discard and close");
    ExpectCounters(pool.Stats(), want);
  }
  EXPECT_EQ(pool.Acquire(Later()).status().code(),
            absl::StatusCode::kUnavailable);
  want.acquire_closed = 1;
  {
    SCOPED_TRACE("closed");
    ExpectCounters(pool.Stats(), want);
  }
  EXPECT_EQ(stats_.live(), 0);
  EXPECT_EQ(factory_.calls(), 9);
}

// --- Stress -----------------------------------------------------------------

TEST_F(ConnectionPoolTest, StressNeverLeaksOrExceedsMaxSize) {
  constexpr int kMaxSize = 4;
  constexpr int kMaxOpening = 2;
  constexpr int kThreads = 8;
  constexpr int kIterations = 400;

  std::atomic<int> max_size_seen{0};
  std::atomic<int> max_opening_seen{0};
  std::atomic<bool> done{false};
  auto note_max = [](std::atomic<int>& max, int value) {
    int seen = max.load();
    while (value > seen && !max.compare_exchange_weak(seen, value)) {
    }
  };
  // Shared by all threads (and the factory and validator, which run on them).
  absl::Mutex rng_mu;
  std::mt19937 rng(std::random_device{}());
  auto chance = [&](double p) {
    absl::MutexLock lock(&rng_mu);
    return std::uniform_real_distribution<double>(0, 1)(rng) < p;
  };
  auto uniform = [&](int low, int high) {
    absl::MutexLock lock(&rng_mu);
    return std::uniform_int_distribution<int>(low, high)(rng);
  };

  Pool* pool_ptr = nullptr;
  std::atomic<int> opening_now{0};
  auto factory =
      [&](absl::Time deadline) -> absl::StatusOr<std::unique_ptr<FakeConn>> {
    note_max(max_opening_seen, ++opening_now);
    note_max(max_size_seen, pool_ptr->Stats().size());
    std::this_thread::yield();
    --opening_now;
    if (chance(0.1)) return absl::UnavailableError("connection refused");
    return std::make_unique<FakeConn>(++stats_.opened, &stats_);
  };
  auto validator = [&](FakeConn&, absl::Time) {
    note_max(max_size_seen, pool_ptr->Stats().size());
    return !chance(0.2);
  };

  PoolOptions options = Options(kMaxSize, absl::Milliseconds(500));
  options.max_opening = kMaxOpening;
  options.max_lifetime = absl::Seconds(60);
  options.lifetime_jitter = 0.2;
  options.idle_timeout = absl::Seconds(10);
  options.validate_after_idle = absl::Seconds(1);
  Pool pool(options, factory, validator, clock_.AsClock());
  pool_ptr = &pool;

  std::thread monitor([&]() {
    while (!done.load()) {
      const PoolStats stats = pool.Stats();
      note_max(max_size_seen, stats.size());
      note_max(max_opening_seen, stats.opening);
      std::this_thread::yield();
    }
  });
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&]() {
      for (int i = 0; i < kIterations; ++i) {
        const absl::Time deadline =
            chance(0.2) ? absl::Now() + absl::Microseconds(uniform(0, 2000))
                        : Later();
        {
          absl::StatusOr<Lease> lease = pool.Acquire(deadline);
          if (lease.ok()) {
            ++successes;
            ASSERT_NE(lease->get(), nullptr);
            note_max(max_size_seen, pool.Stats().size());
            if (chance(0.02)) lease->MarkBroken();
            // Sometimes time passes while the lease is held: in use, it is
            // never closed, however old.
            if (chance(0.1)) clock_.Advance(absl::Seconds(uniform(0, 30)));
            std::this_thread::yield();
          }
        }
        // Mostly time passes between uses: some idle connections need
        // validation, some time out, some reach their lifetime.
        if (chance(0.3)) clock_.Advance(absl::Milliseconds(uniform(0, 4000)));
        if (chance(0.05)) pool.Maintain();
        if (chance(0.005)) pool.DiscardIdle();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  done = true;
  monitor.join();

  EXPECT_GT(successes.load(), 0);
  EXPECT_LE(max_size_seen.load(), kMaxSize);
  EXPECT_GE(max_size_seen.load(), 1);
  EXPECT_LE(max_opening_seen.load(), kMaxOpening);
  PoolStats stats = pool.Stats();
  EXPECT_EQ(stats.in_use, 0);
  EXPECT_EQ(stats.opening, 0);
  EXPECT_EQ(stats.waiters, 0);
  EXPECT_EQ(stats.idle, stats_.live());
  EXPECT_EQ(stats.opened, static_cast<uint64_t>(stats_.opened.load()));
  EXPECT_EQ(stats.opened, stats.closed() + static_cast<uint64_t>(stats.idle));
  EXPECT_EQ(stats.closed(), static_cast<uint64_t>(stats_.destroyed.load()));
  // The paths under test were taken (each typically dozens to hundreds of
  // times per run).
  EXPECT_GT(stats.open_failures, 0u);
  EXPECT_GT(stats.closed_broken, 0u);
  EXPECT_GT(stats.closed_lifetime, 0u);
  EXPECT_GT(stats.closed_validation, 0u);

  pool.Close();
  EXPECT_EQ(stats_.live(), 0);
}

}  // namespace
}  // namespace userservice
