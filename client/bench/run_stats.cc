#include "client/bench/run_stats.h"

#include <atomic>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace userbench {
namespace {

// Each thread keeps the shard it got on its first record.
size_t ThreadShard(size_t shards) {
  static std::atomic<size_t> next{0};
  thread_local const size_t mine = next.fetch_add(1);
  return mine % shards;
}

}  // namespace

void OpStats::Merge(const OpStats& other) {
  latency.Merge(other.latency);
  ok += other.ok;
  late += other.late;
  for (const auto& [name, n] : other.errors) errors[name] += n;
}

OpStats RunStats::Total() const {
  OpStats total = read;
  total.Merge(write);
  return total;
}

void RunStats::Merge(const RunStats& other) {
  read.Merge(other.read);
  write.Merge(other.write);
}

void Recorder::Record(OpKind kind, int64_t latency_ns, absl::string_view error,
                      bool late) {
  Shard& shard = shards_[ThreadShard(shards_.size())];
  absl::MutexLock lock(&shard.mu);
  OpStats& stats = shard.stats.Of(kind);
  stats.latency.Record(latency_ns);
  if (error.empty()) {
    ++stats.ok;
  } else {
    ++stats.errors[std::string(error)];
  }
  if (late) ++stats.late;
}

RunStats Recorder::Collect() const {
  RunStats all;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    all.Merge(shard.stats);
  }
  return all;
}

}  // namespace userbench
