#ifndef USERSERVICE_SERVER_POOL_POOL_OBSERVER_H_
#define USERSERVICE_SERVER_POOL_POOL_OBSERVER_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace userservice {

// Told about events that PoolStats cannot express as counts, such as how
// long each Acquire waited. Lets metrics watch a pool without the pool
// depending on a metrics library. Called outside the pool's mutex, on the
// acquiring thread, so it must be cheap and thread-safe.
class PoolObserver {
 public:
  virtual ~PoolObserver() = default;

  // One Acquire call finished after `waited`, with `status` (OK when it got
  // a connection, including the time to open or validate one).
  virtual void OnAcquire(absl::Duration waited, const absl::Status& status) = 0;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_POOL_POOL_OBSERVER_H_
