// Connections closed before their time: broken leases, the flushes they
// cause, DiscardIdle() and Close().

#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pool/connection_pool.h"
#include "server/pool/connection_pool_test_util.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace userservice
