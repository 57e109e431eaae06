#include "client/bench/load_plan.h"

#include <chrono>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace userbench {

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

RunWindow RunWindow::StartingAt(int64_t now_ns, absl::Duration warmup,
                                absl::Duration duration) {
  RunWindow window;
  window.start_ns = now_ns;
  window.measure_from_ns = now_ns + absl::ToInt64Nanoseconds(warmup);
  window.end_ns = window.measure_from_ns + absl::ToInt64Nanoseconds(duration);
  return window;
}

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

namespace {

uint64_t CallHash(uint64_t seed, uint64_t seq) {
  return Mix64(seed ^ Mix64(seq));
}

}  // namespace

Op OpMix::ForCall(uint64_t seq) const {
  const uint64_t h = CallHash(seed_, seq);
  Op op;
  op.kind = static_cast<int>(h % 100) < read_percent_ ? OpKind::kRead
                                                      : OpKind::kWrite;
  if (op.kind == OpKind::kRead && rows_ > 0) op.row = Mix64(h) % rows_;
  return op;
}

void OpMix::BatchRows(uint64_t seq, int n, std::vector<size_t>* rows) const {
  rows->clear();
  if (rows_ == 0) return;
  const uint64_t h = CallHash(seed_, seq);
  // Row i hashes h + i, so row 0 is the one ForCall picks.
  for (int i = 0; i < n; ++i) {
    rows->push_back(Mix64(h + static_cast<uint64_t>(i)) % rows_);
  }
}

}  // namespace userbench
