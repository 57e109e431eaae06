#ifndef CLIENT_BENCH_RUN_STATS_H_
#define CLIENT_BENCH_RUN_STATS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "client/bench/histogram.h"

namespace userbench {

enum class OpKind { kRead, kWrite };

// What the measured calls of one kind did.
struct OpStats {
  // Every measured call, failed ones included: a fast failure must not hide
  // a slow tail, nor a timeout be left out of it.
  LatencyHistogram latency;
  int64_t ok = 0;
  // Open loop only: calls sent more than kLateAfter after their scheduled
  // time (no free in-flight slot, or the client fell behind).
  int64_t late = 0;
  // Failed calls by error name ("NOT_FOUND", "MYSQL_1062", ...), sorted.
  std::map<std::string, int64_t> errors;

  int64_t calls() const { return latency.count(); }
  int64_t failed() const { return calls() - ok; }
  void Merge(const OpStats& other);
};

struct RunStats {
  OpStats read;
  OpStats write;

  OpStats& Of(OpKind kind) { return kind == OpKind::kRead ? read : write; }
  // Reads and writes together.
  OpStats Total() const;
  void Merge(const RunStats& other);
};

// Collects calls from any number of threads. Threads record into a few
// separately locked shards, so completions on different threads seldom
// contend; Collect() merges them.
class Recorder {
 public:
  // `error` is empty for a successful call.
  void Record(OpKind kind, int64_t latency_ns, absl::string_view error,
              bool late);
  RunStats Collect() const;

 private:
  struct Shard {
    mutable absl::Mutex mu;
    RunStats stats ABSL_GUARDED_BY(mu);
  };
  std::array<Shard, 16> shards_;
};

}  // namespace userbench

#endif  // CLIENT_BENCH_RUN_STATS_H_
