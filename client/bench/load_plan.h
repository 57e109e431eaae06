#ifndef CLIENT_BENCH_LOAD_PLAN_H_
#define CLIENT_BENCH_LOAD_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "client/bench/run_stats.h"

namespace userbench {

// Nanoseconds on the monotonic clock; every time in a run is one of these.
int64_t NowNanos();

// A call sent later than this after its scheduled time counts as late.
inline constexpr int64_t kLateAfterNs = 1'000'000;

// The phases of one run: [start, measure_from) is warmup, whose calls are
// made but not recorded; calls scheduled in [measure_from, end) are
// measured; nothing is sent from end on.
struct RunWindow {
  int64_t start_ns = 0;
  int64_t measure_from_ns = 0;
  int64_t end_ns = 0;

  static RunWindow StartingAt(int64_t now_ns, absl::Duration warmup,
                              absl::Duration duration);
  bool Measured(int64_t intended_ns) const {
    return intended_ns >= measure_from_ns && intended_ns < end_ns;
  }
  double measured_seconds() const {
    return static_cast<double>(end_ns - measure_from_ns) / 1e9;
  }
};

// Open loop: call i is due at start + i / rate, whatever happened to the
// calls before it, so a slow server cannot slow the schedule down
// (no coordinated omission).
class ArrivalSchedule {
 public:
  ArrivalSchedule(int64_t start_ns, double calls_per_second)
      : start_ns_(start_ns), interval_ns_(1e9 / calls_per_second) {}
  int64_t DueAt(uint64_t call) const {
    return start_ns_ +
           static_cast<int64_t>(static_cast<double>(call) * interval_ns_);
  }

 private:
  int64_t start_ns_;
  double interval_ns_;
};

// SplitMix64's finalizer: a well-mixed 64-bit hash.
uint64_t Mix64(uint64_t x);

// What call number `seq` of a run does. A pure function of the seed and
// the number, so --seed reproduces the sequence of reads, writes and rows
// whatever thread makes the call.
struct Op {
  OpKind kind = OpKind::kRead;
  // For reads: index into the dataset.
  size_t row = 0;
};
class OpMix {
 public:
  OpMix(uint64_t seed, int read_percent, size_t rows)
      : seed_(seed), read_percent_(read_percent), rows_(rows) {}
  Op ForCall(uint64_t seq) const;
  // The `n` dataset rows of batch read `seq`, each at random over the
  // dataset as a single read's row is (the first is ForCall(seq).row).
  void BatchRows(uint64_t seq, int n, std::vector<size_t>* rows) const;

 private:
  uint64_t seed_;
  int read_percent_;
  size_t rows_;
};

}  // namespace userbench

#endif  // CLIENT_BENCH_LOAD_PLAN_H_
