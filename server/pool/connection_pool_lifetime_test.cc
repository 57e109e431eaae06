// Retiring connections by age (max_lifetime, jittered) and by idleness
// (idle_timeout), on the fake clock.

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/pool/connection_pool.h"
#include "server/pool/connection_pool_test_util.h"

namespace userservice {
namespace {

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

}  // namespace
}  // namespace userservice
