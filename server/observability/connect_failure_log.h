#ifndef USERSERVICE_SERVER_OBSERVABILITY_CONNECT_FAILURE_LOG_H_
#define USERSERVICE_SERVER_OBSERVABILITY_CONNECT_FAILURE_LOG_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/clock.h"

namespace userservice::observability {

// Logs the connection attempts of one endpoint's pool by edges, not by
// attempt: the first failure after a success is an error line, further
// failures are summed into a warning at most every `repeat_every`, and the
// first success after failures says how many there were. A database that
// is down while 20k calls/s arrive gives a few lines, not 20k per second.
class ConnectFailureLog {
 public:
  explicit ConnectFailureLog(std::string endpoint,
                             absl::Duration repeat_every = absl::Seconds(30),
                             Clock clock = absl::Now);

  // The outcome of one attempt to open a connection. A deadline or a
  // cancellation of the caller says nothing about the endpoint and is not
  // counted.
  void Record(const absl::Status& status);

 private:
  const std::string endpoint_;
  const absl::Duration repeat_every_;
  const Clock clock_;

  absl::Mutex mu_;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t failures_ ABSL_GUARDED_BY(mu_) = 0;    // this outage
  uint64_t unreported_ ABSL_GUARDED_BY(mu_) = 0;  // since last line
  absl::Time last_line_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace userservice::observability

#endif  // USERSERVICE_SERVER_OBSERVABILITY_CONNECT_FAILURE_LOG_H_
