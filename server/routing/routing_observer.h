#ifndef USERSERVICE_SERVER_ROUTING_ROUTING_OBSERVER_H_
#define USERSERVICE_SERVER_ROUTING_ROUTING_OBSERVER_H_

#include <string>

#include "absl/time/time.h"

namespace userservice {

// Why a read attempt went to the endpoint it went to.
enum class ReadReason {
  kReplica,                   // a replica in rotation, first choice
  kRetry,                     // the next replica after one failed to connect
  kPrimaryStrong,             // STRONG: only the primary will do
  kPrimarySessionFallback,    // SESSION: no replica applied the token in time
  kPrimaryStalenessFallback,  // BOUNDED_STALENESS: no replica fresh enough
  kPrimaryNoReplica,          // none configured, none in rotation, or the
                              // replicas tried could not be reached
  kReplicaCaughtUp,           // SESSION: a replica already known to have
                              // applied the tokens, chosen without a wait
};
inline constexpr int kReadReasonCount = 7;

// How a replica's wait for a session token's position (MASTER_GTID_WAIT)
// ended.
enum class PositionWaitOutcome {
  kReached,  // applied within the wait
  kTimeout,  // not applied within the wait
  kError,    // the wait itself failed (e.g. the replica is unreachable)
};
inline constexpr int kPositionWaitOutcomeCount = 3;

// What the ReadRouter decided, for metrics. The router calls it on the
// request's thread at each decision, so implementations must be cheap and
// thread-safe. The default does nothing.
class RoutingObserver {
 public:
  virtual ~RoutingObserver() = default;

  // `reads` reads (several when they share one statement) are about to run
  // on `endpoint` for `reason`. A read that is retried elsewhere is
  // reported once per endpoint it runs on.
  virtual void OnRead(const std::string& endpoint, ReadReason reason,
                      int reads) {}
  // An EVENTUAL/BOUNDED_STALENESS read was refused by the fallback budget.
  virtual void OnFallbackRefused() {}
  // A session read waited `waited` for `endpoint` to apply its token.
  virtual void OnPositionWait(const std::string& endpoint,
                              PositionWaitOutcome outcome,
                              absl::Duration waited) {}
};

const char* ReadReasonName(ReadReason reason);
const char* PositionWaitOutcomeName(PositionWaitOutcome outcome);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_ROUTING_ROUTING_OBSERVER_H_
