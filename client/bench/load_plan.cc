#include "client/bench/load_plan.h"

#include <chrono>
#include <cstdint>

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

Op OpMix::ForCall(uint64_t seq) const {
  const uint64_t h = Mix64(seed_ ^ Mix64(seq));
  Op op;
  op.kind = static_cast<int>(h % 100) < read_percent_ ? OpKind::kRead
                                                      : OpKind::kWrite;
  if (op.kind == OpKind::kRead && rows_ > 0) op.row = Mix64(h) % rows_;
  return op;
}

}  // namespace userbench
