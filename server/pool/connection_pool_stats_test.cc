// What the pool reports: the observer, Stats() and its counters, and a
// stress run that checks they account for every connection.

#include <atomic>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pool/connection_pool.h"
#include "server/pool/connection_pool_test_util.h"
#include "server/pool/pool_observer.h"
#include "server/testing/fake_connection.h"

namespace userservice {
namespace {

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

TEST_F(ConnectionPoolTest, CountersMoveExactlyAsExpected) {
  PoolOptions options = ValidatingOptions(2);
  options.acquire_timeout = absl::Milliseconds(15);
  options.max_lifetime = absl::Seconds(100);
  options.lifetime_jitter = 0;
  options.idle_timeout = absl::Seconds(60);
  FakeConnValidator validator;
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
