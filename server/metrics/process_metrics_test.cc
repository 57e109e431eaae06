#include "server/metrics/process_metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/testing/metric_test_util.h"

namespace userservice::metrics {
namespace {

TEST(ProcessCollectorTest, ReadsThisProcessFromProc) {
  ProcessCollector collector;
  // Burn some CPU so the counter has something to show.
  volatile double sink = 0;
  for (int i = 0; i < 20000000; ++i) sink = sink + i * 0.5;
  EXPECT_GT(*Value(collector, "process_cpu_seconds_total", {}), 0);
  EXPECT_GT(*Value(collector, "process_resident_memory_bytes", {}), 1 << 20);
  EXPECT_GT(*Value(collector, "process_virtual_memory_bytes", {}), 1 << 20);
  EXPECT_GT(*Value(collector, "process_max_fds", {}), 0);
  const double start = *Value(collector, "process_start_time_seconds", {});
  const double now = absl::ToUnixSeconds(absl::Now());
  // Started within the last 10 minutes (clock ticks round it a little).
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 600);
}

TEST(ProcessCollectorTest, CountsOpenDescriptors) {
  ProcessCollector collector;
  const double before = *Value(collector, "process_open_fds", {});
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) fds.push_back(open("/dev/null", O_RDONLY));
  EXPECT_EQ(*Value(collector, "process_open_fds", {}), before + 3);
  for (int fd : fds) close(fd);
  EXPECT_EQ(*Value(collector, "process_open_fds", {}), before);
}

}  // namespace
}  // namespace userservice::metrics
