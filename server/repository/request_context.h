#ifndef USERSERVICE_SERVER_REPOSITORY_REQUEST_CONTEXT_H_
#define USERSERVICE_SERVER_REPOSITORY_REQUEST_CONTEXT_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace userservice {

// What every data-access call carries down from the RPC: the point in time by
// which the whole call must be answered. Pool waits, replica waits and query
// timeouts are all cut to it, so nothing outlives the caller's interest.
struct RequestContext {
  absl::Time deadline = absl::InfiniteFuture();
  // True once the caller gave up (cancelled the RPC); may be polled from
  // another thread while a query runs, so the query can be killed. Empty:
  // never cancelled.
  std::function<bool()> cancelled;

  absl::Duration Remaining() const { return deadline - absl::Now(); }
  bool Expired() const { return absl::Now() >= deadline; }
  bool Cancelled() const { return cancelled && cancelled(); }
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_REPOSITORY_REQUEST_CONTEXT_H_
