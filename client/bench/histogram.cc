#include "client/bench/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace userbench {
namespace {

// 2^kSubBits linear buckets per power of two: the relative bucket width is
// at most 2^-kSubBits (0.78%), inside the 1% the harness promises.
constexpr int kSubBits = 7;
constexpr int64_t kSubCount = int64_t{1} << kSubBits;

int HighestBit(int64_t v) { return 63 - __builtin_clzll(uint64_t(v)); }

// Values below 2 * kSubCount are their own bucket (shift 0); above, a value
// is kept as its top kSubBits + 1 bits (the mantissa, kSubCount..2*kSubCount-1)
// and the number of bits dropped (the shift).
int ShiftOf(int64_t v) {
  if (v < kSubCount) return 0;
  return std::max(0, HighestBit(v) - kSubBits);
}

int ShiftOfBucket(int bucket) {
  return bucket < 2 * kSubCount ? 0 : (bucket >> kSubBits) - 1;
}

}  // namespace

int LatencyHistogram::BucketOf(int64_t nanos) {
  const int64_t v = std::clamp<int64_t>(nanos, 0, kMaxValue);
  const int shift = ShiftOf(v);
  return static_cast<int>((int64_t{shift} << kSubBits) + (v >> shift));
}

int64_t LatencyHistogram::BucketLowest(int bucket) {
  const int shift = ShiftOfBucket(bucket);
  const int64_t mantissa = bucket - (int64_t{shift} << kSubBits);
  return mantissa << shift;
}

int64_t LatencyHistogram::BucketHighest(int bucket) {
  const int shift = ShiftOfBucket(bucket);
  return BucketLowest(bucket) + (int64_t{1} << shift) - 1;
}

LatencyHistogram::LatencyHistogram() : counts_(BucketOf(kMaxValue) + 1, 0) {}

void LatencyHistogram::Record(int64_t nanos) {
  const int64_t v = std::clamp<int64_t>(nanos, 0, kMaxValue);
  ++counts_[BucketOf(v)];
  if (count_ == 0 || v < min_) min_ = v;
  if (v > max_) max_ = v;
  ++count_;
  sum_ += v;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_;
}

int64_t LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const int64_t rank = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(q * static_cast<double>(count_))));
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::clamp(BucketHighest(static_cast<int>(i)), min_, max_);
    }
  }
  return max_;
}

}  // namespace userbench
