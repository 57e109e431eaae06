#include "server/metrics/create_metrics.h"

#include <vector>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/testing/metric_test_util.h"

namespace userservice::metrics {
namespace {

TEST(CreateMetricsTest, CountsInsertsTheirUsersAndClashes) {
  prometheus::Registry registry;
  CreateMetrics metrics(registry);
  EXPECT_EQ(HistogramCount(registry, "userservice_create_insert_users", {}), 0);
  EXPECT_EQ(Value(registry, "userservice_create_insert_clashes_total", {}), 0);

  metrics.OnInsert(1);
  metrics.OnInsert(5);
  metrics.OnInsert(64);
  metrics.OnSharedInsertClash();
  EXPECT_EQ(HistogramCount(registry, "userservice_create_insert_users", {}), 3);
  const std::vector<prometheus::MetricFamily> families = registry.Collect();
  const prometheus::ClientMetric* users =
      FindSample(families, "userservice_create_insert_users", {});
  ASSERT_NE(users, nullptr);
  EXPECT_EQ(users->histogram.sample_sum, 70);
  // Cumulative buckets: <=1, <=2, <=4, <=8, ...
  ASSERT_GE(users->histogram.bucket.size(), 4u);
  EXPECT_EQ(users->histogram.bucket[0].upper_bound, 1);
  EXPECT_EQ(users->histogram.bucket[0].cumulative_count, 1u);
  EXPECT_EQ(users->histogram.bucket[3].upper_bound, 8);
  EXPECT_EQ(users->histogram.bucket[3].cumulative_count, 2u);
  EXPECT_EQ(Value(registry, "userservice_create_insert_clashes_total", {}), 1);
}

}  // namespace
}  // namespace userservice::metrics
