#include "server/observability/line_limiter.h"

#include <utility>

namespace userservice::observability {

LineLimiter::LineLimiter(int per_second, Clock clock)
    : per_second_(per_second), clock_(std::move(clock)) {}

std::optional<int64_t> LineLimiter::Admit(absl::string_view key) {
  if (per_second_ <= 0) return 0;
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  // Keys are method and status code pairs: a small, bounded set.
  Window& window = windows_[key];
  if (now - window.start >= absl::Seconds(1)) {
    window.start = now;
    window.written = 0;
  }
  if (window.written >= per_second_) {
    ++window.left_out;
    return std::nullopt;
  }
  ++window.written;
  return std::exchange(window.left_out, 0);
}

void AddLeftOut(int64_t left_out, std::vector<log::Field>& fields) {
  if (left_out > 0) {
    fields.emplace_back("similar_left_out",
                        log::Number(static_cast<double>(left_out)));
  }
}

}  // namespace userservice::observability
