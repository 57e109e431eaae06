#ifndef CLIENT_BENCH_HISTOGRAM_H_
#define CLIENT_BENCH_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace userbench {

// A log-bucketed latency histogram in the style of HdrHistogram, for values
// in nanoseconds. Each power-of-two range is split into 128 linear buckets,
// so a bucket is never wider than 1/128 of its lower bound: any quantile is
// reported within 0.8% of the exact value, with O(1) recording and a fixed
// 35 KiB of counters, whatever the number of values. Histograms of
// different threads merge exactly. Not thread-safe.
class LatencyHistogram {
 public:
  // Values above this (about 18 minutes) are recorded as this.
  static constexpr int64_t kMaxValue = (int64_t{1} << 40) - 1;

  LatencyHistogram();

  // Negative values are recorded as 0.
  void Record(int64_t nanos);
  void Merge(const LatencyHistogram& other);

  int64_t count() const { return count_; }
  // 0 when empty.
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return max_; }
  double mean() const;

  // The value below or at which a fraction q (0..1) of the values lie: the
  // upper end of the bucket holding the ceil(q * count)-th smallest value,
  // clamped to [min(), max()], so it never understates a tail. 0 when
  // empty.
  int64_t Quantile(double q) const;

  // Bucket arithmetic, exposed for tests.
  static int BucketOf(int64_t nanos);
  static int64_t BucketLowest(int bucket);
  static int64_t BucketHighest(int bucket);

 private:
  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  // Exact, for the mean; int64 holds 290 years of nanoseconds.
  int64_t sum_ = 0;
};

}  // namespace userbench

#endif  // CLIENT_BENCH_HISTOGRAM_H_
