// max_opening: how many connections are opened at once.

#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/pool/connection_pool.h"
#include "server/pool/connection_pool_test_util.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace userservice
