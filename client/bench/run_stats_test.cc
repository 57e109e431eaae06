#include "client/bench/run_stats.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace userbench {
namespace {

TEST(RecorderTest, MergesEveryThreadsCalls) {
  Recorder recorder;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&recorder, t]() {
      for (int i = 0; i < 1000; ++i) {
        recorder.Record(t % 2 ? OpKind::kWrite : OpKind::kRead, 1000 * (i + 1),
                        i % 100 == 0 ? "NOT_FOUND" : "", i % 10 == 0);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const RunStats stats = recorder.Collect();
  EXPECT_EQ(stats.read.calls(), 4000);
  EXPECT_EQ(stats.write.calls(), 4000);
  EXPECT_EQ(stats.read.ok, 3960);
  EXPECT_EQ(stats.read.errors.at("NOT_FOUND"), 40);
  EXPECT_EQ(stats.write.late, 400);
  const OpStats total = stats.Total();
  EXPECT_EQ(total.calls(), 8000);
  EXPECT_EQ(total.failed(), 80);
  EXPECT_EQ(total.latency.max(), 1'000'000);
}

}  // namespace
}  // namespace userbench
