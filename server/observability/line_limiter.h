#ifndef USERSERVICE_SERVER_OBSERVABILITY_LINE_LIMITER_H_
#define USERSERVICE_SERVER_OBSERVABILITY_LINE_LIMITER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/clock.h"
#include "server/common/log.h"

namespace userservice::observability {

// Caps how many log lines of one kind are written per second. During an
// outage every call fails the same way: thousands of identical lines per
// second would bury the first ones and cost the CPU the service needs to
// recover, while a handful per second, each saying how many were left out,
// tells the same story.
class LineLimiter {
 public:
  // At most `per_second` lines per key in each one-second window; 0 or less
  // means no limit.
  explicit LineLimiter(int per_second, Clock clock = absl::Now);

  // Whether a line for `key` may be written now: nullopt if not (it is
  // counted as left out), else how many lines of this key were left out
  // since the last one written.
  std::optional<int64_t> Admit(absl::string_view key);

 private:
  struct Window {
    absl::Time start;
    int written = 0;
    int64_t left_out = 0;
  };

  const int per_second_;
  const Clock clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
};

// Adds "similar_left_out" to the fields of a line written after
// `left_out` lines of its kind were left out (nothing if none were).
void AddLeftOut(int64_t left_out, std::vector<log::Field>& fields);

}  // namespace userservice::observability

#endif  // USERSERVICE_SERVER_OBSERVABILITY_LINE_LIMITER_H_
