#include "server/metrics/routing_metrics.h"

#include <string>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/testing/metric_test_util.h"

namespace userservice::metrics {
namespace {

class RoutingMetricsTest : public ::testing::Test {
 protected:
  double Reads(const std::string& endpoint, const std::string& reason) {
    return Value(registry_, "userservice_reads_total",
                 {{"endpoint", endpoint}, {"reason", reason}})
        .value_or(-1);
  }

  prometheus::Registry registry_;
  RoutingMetrics metrics_{registry_, {"primary", "replica-0", "replica-1"}};
};

TEST_F(RoutingMetricsTest, EveryEndpointStartsAtZeroForEveryReason) {
  // Roles change with switchovers: any endpoint may serve any read.
  for (const char* endpoint : {"primary", "replica-0", "replica-1"}) {
    for (const char* reason :
         {"replica", "retry", "primary_strong", "primary_session_fallback",
          "primary_staleness_fallback", "primary_no_replica",
          "replica_caught_up"}) {
      EXPECT_EQ(Reads(endpoint, reason), 0) << endpoint << " " << reason;
    }
    for (const char* outcome : {"reached", "timeout", "error"}) {
      EXPECT_EQ(Value(registry_, "userservice_gtid_wait_total",
                      {{"endpoint", endpoint}, {"outcome", outcome}}),
                0);
    }
  }
  EXPECT_EQ(Reads("replica-9", "replica"), -1);
  EXPECT_EQ(Value(registry_, "userservice_read_fallback_refused_total", {}), 0);
}

TEST_F(RoutingMetricsTest, CountsReadsByEndpointAndReason) {
  metrics_.OnRead("primary", ReadReason::kPrimaryStrong, 1);
  metrics_.OnRead("primary", ReadReason::kPrimaryStrong, 1);
  metrics_.OnRead("replica-1", ReadReason::kRetry, 1);
  metrics_.OnRead("primary", ReadReason::kPrimaryNoReplica, 1);
  metrics_.OnRead("unknown-endpoint", ReadReason::kReplica, 1);  // ignored
  EXPECT_EQ(Reads("primary", "primary_strong"), 2);
  EXPECT_EQ(Reads("replica-1", "retry"), 1);
  EXPECT_EQ(Reads("replica-1", "replica"), 0);
  EXPECT_EQ(Reads("primary", "primary_no_replica"), 1);
}

TEST_F(RoutingMetricsTest, CountsWaitsAndRefusals) {
  metrics_.OnPositionWait("replica-0", PositionWaitOutcome::kReached,
                          absl::Milliseconds(3));
  metrics_.OnPositionWait("replica-0", PositionWaitOutcome::kTimeout,
                          absl::Milliseconds(100));
  metrics_.OnFallbackRefused();
  EXPECT_EQ(Value(registry_, "userservice_gtid_wait_total",
                  {{"endpoint", "replica-0"}, {"outcome", "reached"}}),
            1);
  EXPECT_EQ(Value(registry_, "userservice_gtid_wait_total",
                  {{"endpoint", "replica-0"}, {"outcome", "timeout"}}),
            1);
  EXPECT_EQ(HistogramCount(registry_, "userservice_gtid_wait_seconds",
                           {{"endpoint", "replica-0"}}),
            2u);
  const auto families = registry_.Collect();
  const prometheus::ClientMetric* wait = FindSample(
      families, "userservice_gtid_wait_seconds", {{"endpoint", "replica-0"}});
  ASSERT_NE(wait, nullptr);
  EXPECT_NEAR(wait->histogram.sample_sum, 0.103, 1e-9);
  EXPECT_EQ(Value(registry_, "userservice_read_fallback_refused_total", {}), 1);
}

}  // namespace
}  // namespace userservice::metrics
