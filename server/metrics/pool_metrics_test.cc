#include "server/metrics/pool_metrics.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/testing/metric_test_util.h"

namespace userservice::metrics {
namespace {

TEST(PoolWaitMetricsTest, ObservesEveryAcquirePerEndpoint) {
  prometheus::Registry registry;
  PoolWaitMetrics metrics(registry, {"primary", "replica-0"});
  ASSERT_NE(metrics.ObserverFor("primary"), nullptr);
  EXPECT_EQ(metrics.ObserverFor("other"), nullptr);
  metrics.ObserverFor("primary")->OnAcquire(absl::Milliseconds(2),
                                            absl::OkStatus());
  metrics.ObserverFor("primary")->OnAcquire(
      absl::Seconds(2), absl::ResourceExhaustedError("full"));
  EXPECT_EQ(HistogramCount(registry, "userservice_pool_acquire_wait_seconds",
                           {{"endpoint", "primary"}}),
            2u);
  EXPECT_EQ(HistogramCount(registry, "userservice_pool_acquire_wait_seconds",
                           {{"endpoint", "replica-0"}}),
            0u);
}

TEST(PoolStatsCollectorTest, ExportsEachPoolsStats) {
  PoolStats stats;
  stats.idle = 3;
  stats.in_use = 2;
  stats.waiters = 4;
  stats.max_size = 16;
  stats.opened = 40;
  stats.open_failures = 5;
  stats.closed_broken = 1;
  stats.closed_validation = 2;
  stats.closed_discarded = 4;
  stats.closed_lifetime = 8;
  stats.closed_idle = 16;
  stats.closed_shutdown = 32;
  stats.acquire_resource_exhausted = 6;
  stats.acquire_deadline_exceeded = 7;
  stats.acquire_closed = 9;
  PoolStatsCollector collector({{"primary", [&]() { return stats; }},
                                {"replica-0", []() { return PoolStats(); }}});
  auto value = [&](const std::string& name,
                   const std::map<std::string, std::string>& labels) {
    return Value(collector, name, labels).value_or(-1);
  };
  const std::map<std::string, std::string> primary = {{"endpoint", "primary"}};
  EXPECT_EQ(value("userservice_pool_max_connections", primary), 16);
  EXPECT_EQ(value("userservice_pool_connections",
                  {{"endpoint", "primary"}, {"state", "in_use"}}),
            2);
  EXPECT_EQ(value("userservice_pool_connections",
                  {{"endpoint", "primary"}, {"state", "idle"}}),
            3);
  EXPECT_EQ(value("userservice_pool_waiters", primary), 4);
  EXPECT_EQ(value("userservice_pool_connections_opened_total", primary), 40);
  auto closed = [&](const std::string& reason) {
    return value("userservice_pool_connections_closed_total",
                 {{"endpoint", "primary"}, {"reason", reason}});
  };
  EXPECT_EQ(closed("error"), 1 + 2 + 4);
  EXPECT_EQ(closed("lifetime"), 8);
  EXPECT_EQ(closed("idle"), 16);
  EXPECT_EQ(closed("shutdown"), 32);
  auto failures = [&](const std::string& reason) {
    return value("userservice_pool_acquire_failures_total",
                 {{"endpoint", "primary"}, {"reason", reason}});
  };
  EXPECT_EQ(failures("timeout"), 6 + 7);
  EXPECT_EQ(failures("connect_error"), 5);
  EXPECT_EQ(failures("closed"), 9);
  // Read again at each scrape.
  stats.opened = 41;
  EXPECT_EQ(value("userservice_pool_connections_opened_total", primary), 41);
  EXPECT_EQ(value("userservice_pool_connections_opened_total",
                  {{"endpoint", "replica-0"}}),
            0);
}

}  // namespace
}  // namespace userservice::metrics
