#include "server/metrics/replica_metrics.h"

#include <cmath>
#include <string>

#include "gtest/gtest.h"
#include "server/testing/metric_test_util.h"

namespace userservice::metrics {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

ProbeResult Probe(bool reachable, std::optional<absl::Duration> lag) {
  ProbeResult result;
  result.reachable = reachable;
  result.error = reachable ? "" : "connection refused";
  result.lag = lag;
  return result;
}

TEST(ReplicaCollectorTest, ExportsStateLagAndEjections) {
  HealthPolicy policy;
  policy.eject_after_failures = 1;
  policy.readmit_after_successes = 1;
  ReplicaHealth healthy("replica-0", policy);
  ReplicaHealth flaky("replica-1", policy);
  healthy.RecordProbe(Probe(true, absl::Milliseconds(250)), kT0);
  flaky.RecordProbe(Probe(false, std::nullopt), kT0);
  flaky.RecordProbe(Probe(true, absl::ZeroDuration()), kT0);
  flaky.RecordProbe(Probe(false, std::nullopt), kT0);
  ReplicaCollector collector({{"replica-0", &healthy}, {"replica-1", &flaky}},
                             [] { return kT0; });

  auto state = [&](const std::string& endpoint, const std::string& s) {
    return Value(collector, "userservice_replica_state",
                 {{"endpoint", endpoint}, {"state", s}})
        .value_or(-1);
  };
  EXPECT_EQ(state("replica-0", "healthy"), 1);
  EXPECT_EQ(state("replica-0", "starting"), 0);
  EXPECT_EQ(state("replica-0", "ejected"), 0);
  EXPECT_EQ(state("replica-1", "ejected"), 1);
  EXPECT_EQ(state("replica-1", "healthy"), 0);

  EXPECT_DOUBLE_EQ(*Value(collector, "userservice_replica_lag_seconds",
                          {{"endpoint", "replica-0"}}),
                   0.25);
  // A replica never measured has unknown (NaN) lag, never 0.
  ReplicaHealth fresh("replica-2", policy);
  ReplicaCollector unknown({{"replica-2", &fresh}}, [] { return kT0; });
  EXPECT_TRUE(std::isnan(*Value(unknown, "userservice_replica_lag_seconds",
                                {{"endpoint", "replica-2"}})));
  EXPECT_EQ(Value(unknown, "userservice_replica_state",
                  {{"endpoint", "replica-2"}, {"state", "starting"}}),
            1);

  EXPECT_EQ(Value(collector, "userservice_replica_ejections_total",
                  {{"endpoint", "replica-1"}}),
            2);
  EXPECT_EQ(Value(collector, "userservice_replica_ejections_total",
                  {{"endpoint", "replica-0"}}),
            0);
}

}  // namespace
}  // namespace userservice::metrics
