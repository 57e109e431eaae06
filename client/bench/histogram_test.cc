#include "client/bench/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace userbench {
namespace {

// The exact q-quantile of `values` by the same rank rule (ceil(q * n)).
int64_t ExactQuantile(std::vector<int64_t> values, double q) {
  std::sort(values.begin(), values.end());
  const size_t rank = std::max<size_t>(
      1,
      static_cast<size_t>(std::ceil(q * static_cast<double>(values.size()))));
  return values[rank - 1];
}

TEST(LatencyHistogramTest, BucketsTileTheRangeWithinOnePercent) {
  int64_t expected_lowest = 0;
  const int last = LatencyHistogram::BucketOf(LatencyHistogram::kMaxValue);
  for (int b = 0; b <= last; ++b) {
    const int64_t lowest = LatencyHistogram::BucketLowest(b);
    const int64_t highest = LatencyHistogram::BucketHighest(b);
    ASSERT_EQ(lowest, expected_lowest) << "bucket " << b;
    ASSERT_LE(lowest, highest);
    ASSERT_EQ(LatencyHistogram::BucketOf(lowest), b);
    ASSERT_EQ(LatencyHistogram::BucketOf(highest), b);
    if (lowest > 0) {
      ASSERT_LT(static_cast<double>(highest - lowest) / lowest, 0.01)
          << "bucket " << b;
    }
    expected_lowest = highest + 1;
  }
  EXPECT_EQ(expected_lowest, LatencyHistogram::kMaxValue + 1);
}

TEST(LatencyHistogramTest, EmptyReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.Quantile(0.99), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0);
}

TEST(LatencyHistogramTest, QuantilesWithinOnePercentOfExact) {
  // Log-normal latencies from ~20 us to seconds, like a real run's.
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(400'000.0), 1.2);
  std::vector<int64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 200'000; ++i) {
    const int64_t v = static_cast<int64_t>(dist(rng));
    values.push_back(v);
    h.Record(v);
  }
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const int64_t exact = ExactQuantile(values, q);
    const int64_t got = h.Quantile(q);
    EXPECT_GE(got, exact) << "q=" << q;  // Never understates.
    EXPECT_LE(static_cast<double>(got - exact), 0.01 * exact) << "q=" << q;
  }
  EXPECT_EQ(h.min(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a, b, all;
  for (int64_t v = 1; v < 1'000'000; v = v * 3 / 2 + 1) {
    (v % 2 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (double q : {0.1, 0.5, 0.99}) EXPECT_EQ(a.Quantile(q), all.Quantile(q));
}

TEST(LatencyHistogramTest, ClampsOutOfRangeValues) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(LatencyHistogram::kMaxValue * 4);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), LatencyHistogram::kMaxValue);
  EXPECT_EQ(h.Quantile(1.0), LatencyHistogram::kMaxValue);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int64_t v = 0; v < 256; ++v) h.Record(v);
  EXPECT_EQ(h.Quantile(0.5), 127);
  EXPECT_EQ(h.Quantile(1.0), 255);
}

}  // namespace
}  // namespace userbench
