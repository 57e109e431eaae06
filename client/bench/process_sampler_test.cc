#include "client/bench/process_sampler.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace userbench {
namespace {

TEST(ProcessSamplerTest, ParsesStatWithSpacesInTheCommand) {
  // Fields 14 and 15 (utime, stime) are 250 and 50 ticks.
  const char stat[] =
      "1234 (user server) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 "
      "20 0 12 0 5000 100000 2000 18446744073709551615";
  absl::StatusOr<int64_t> cpu = ParseCpuMicros(stat, 100);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(*cpu, 3'000'000);
  EXPECT_FALSE(ParseCpuMicros("garbage", 100).ok());
}

TEST(ProcessSamplerTest, ParsesVmHwm) {
  absl::StatusOr<int64_t> kib = ParsePeakRssKib(
      "Name:\tuser_server\nVmPeak:\t  99 kB\nVmHWM:\t   "
      "51200 kB\nVmRSS:\t 100 kB\n");
  ASSERT_TRUE(kib.ok()) << kib.status();
  EXPECT_EQ(*kib, 51200);
  EXPECT_FALSE(ParsePeakRssKib("Name:\tx\n").ok());
}

TEST(ProcessSamplerTest, SamplesThisProcess) {
  absl::StatusOr<ProcessSample> sample = SampleProcess(getpid());
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_GT(sample->peak_rss_kib, 0);
  EXPECT_GE(sample->cpu_us, 0);
}

}  // namespace
}  // namespace userbench
