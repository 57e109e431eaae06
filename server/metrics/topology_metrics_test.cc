#include "server/metrics/topology_metrics.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/testing/fixed_topology.h"
#include "server/testing/metric_test_util.h"

namespace userservice::metrics {
namespace {

TEST(TopologyCollectorTest, ExportsRolesTheWriterAndSplitBrain) {
  std::unique_ptr<Topology> topology =
      PrimaryWithReplicas({"primary", "replica-0", "replica-1"});
  WriteRouter writes({nullptr, nullptr, nullptr}, topology.get());
  TopologyCollector collector(topology.get(), &writes);
  auto role = [&](const std::string& endpoint, const std::string& r) {
    return Value(collector, "userservice_endpoint_role",
                 {{"endpoint", endpoint}, {"role", r}})
        .value_or(-1);
  };
  EXPECT_EQ(role("primary", "writer"), 1);
  EXPECT_EQ(role("primary", "replica"), 0);
  EXPECT_EQ(role("replica-1", "replica"), 1);
  EXPECT_EQ(role("replica-1", "unknown"), 0);
  EXPECT_EQ(Value(collector, "userservice_writer_elected", {}), 1);
  EXPECT_EQ(Value(collector, "userservice_writable_databases", {}), 1);

  // The old primary comes back writable beside a promoted replica-0.
  topology->Record(1, WriterProbe(2));
  topology->Record(2, ReplicaProbe(3, 2));
  EXPECT_EQ(role("primary", "rival"), 1);
  EXPECT_EQ(role("replica-0", "writer"), 1);
  EXPECT_EQ(Value(collector, "userservice_writable_databases", {}), 2);
  EXPECT_EQ(Value(collector, "userservice_writer_changes_total", {}), 2);
}

TEST(TopologyCollectorTest, CountsHeldCallsByOutcome) {
  TopologyOptions options;
  options.write_hold = absl::Milliseconds(10);
  Topology topology({"primary"}, options, nullptr);
  WriteRouter writes({nullptr}, &topology);
  TopologyCollector collector(&topology, &writes);
  EXPECT_FALSE(topology.AwaitWriter(absl::Now() + absl::Seconds(5)).ok());
  EXPECT_EQ(Value(collector, "userservice_writer_elected", {}), 0);
  EXPECT_EQ(Value(collector, "userservice_write_holds_total",
                  {{"outcome", "timed_out"}}),
            1);
  EXPECT_EQ(Value(collector, "userservice_write_holds_total",
                  {{"outcome", "writer_elected"}}),
            0);
  EXPECT_GT(*Value(collector, "userservice_write_hold_seconds_total", {}),
            0.009);
  EXPECT_EQ(Value(collector, "userservice_held_writes", {}), 0);
}

}  // namespace
}  // namespace userservice::metrics
