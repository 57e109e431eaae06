#ifndef USERSERVICE_SERVER_MYSQL_ENDPOINT_LIVENESS_H_
#define USERSERVICE_SERVER_MYSQL_ENDPOINT_LIVENESS_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>

#include "absl/time/time.h"

namespace userservice::mysql {

// When one endpoint last answered anything: a statement that completed (with
// or without a server error) or a health check. A statement that has waited
// a while is only taken for hung while the whole endpoint is silent, so a
// slow statement on a server that still answers others is left alone.
// Thread-safe and lock-free: recorded on every statement.
class EndpointLiveness {
 public:
  // Keeps the latest of the times recorded, whatever the order of calls.
  void RecordAnswer(absl::Time when) {
    const int64_t ns = absl::ToUnixNanos(when);
    int64_t seen = last_ns_.load(std::memory_order_relaxed);
    while (seen < ns && !last_ns_.compare_exchange_weak(
                            seen, ns, std::memory_order_relaxed)) {
    }
  }

  // InfinitePast until the first answer.
  absl::Time last_answer() const {
    const int64_t ns = last_ns_.load(std::memory_order_relaxed);
    if (ns == kNever) return absl::InfinitePast();
    return absl::FromUnixNanos(ns);
  }

 private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
  std::atomic<int64_t> last_ns_{kNever};
};

// The earliest time at which a statement that may stay silent for `silence`
// and was due no earlier than `earliest` counts as hung, given the
// endpoint's last answer (null: nothing else is known about the endpoint).
inline absl::Time HungAt(absl::Time earliest, absl::Duration silence,
                         const EndpointLiveness* liveness) {
  if (liveness == nullptr) return earliest;
  return std::max(earliest, liveness->last_answer() + silence);
}

// How long a read may go without an answer before it is abandoned: the
// endpoint's `hung_timeout`, but at most a third of the call's `remaining`
// time, so the call can still be retried on another endpoint; never below
// kMinReadSilence (or `hung_timeout`, if that is shorter), since a healthy
// server's pauses must not read as a hang.
inline constexpr absl::Duration kMinReadSilence = absl::Milliseconds(200);
inline absl::Duration ReadSilenceLimit(absl::Duration hung_timeout,
                                       absl::Duration remaining) {
  const absl::Duration floor = std::min(kMinReadSilence, hung_timeout);
  return std::max(floor, std::min(hung_timeout, remaining / 3));
}

// Whether an endpoint that has answered before has now been silent for
// `hung_timeout` (zero or less: never): it is hung, not merely idle, since
// its health checks answer far more often. Opening a connection to it would
// only wait out the whole connect timeout, which no watchdog can cut.
inline bool SilentFor(const EndpointLiveness& liveness,
                      absl::Duration hung_timeout, absl::Time now) {
  const absl::Time last = liveness.last_answer();
  return hung_timeout > absl::ZeroDuration() && last != absl::InfinitePast() &&
         now - last >= hung_timeout;
}

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_ENDPOINT_LIVENESS_H_
