// Validating connections that sat idle for longer than validate_after_idle.

#include <optional>
#include <stdexcept>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pool/connection_pool.h"
#include "server/pool/connection_pool_test_util.h"
#include "server/testing/fake_connection.h"

namespace userservice {
namespace {

TEST_F(ConnectionPoolTest, ValidatesOnlyConnectionsIdleLongerThanThreshold) {
  FakeConnValidator validator;
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
  FakeConnValidator validator;
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
  FakeConnValidator validator;
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
  FakeConnValidator validator;
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
  FakeConnValidator validator;
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

}  // namespace
}  // namespace userservice
