#include "server/routing/routing_observer.h"

namespace userservice {

// These are metric label values: changing one breaks dashboards and alerts.
const char* ReadReasonName(ReadReason reason) {
  switch (reason) {
    case ReadReason::kReplica:
      return "replica";
    case ReadReason::kRetry:
      return "retry";
    case ReadReason::kPrimaryStrong:
      return "primary_strong";
    case ReadReason::kPrimarySessionFallback:
      return "primary_session_fallback";
    case ReadReason::kPrimaryStalenessFallback:
      return "primary_staleness_fallback";
    case ReadReason::kPrimaryNoReplica:
      return "primary_no_replica";
    case ReadReason::kReplicaCaughtUp:
      return "replica_caught_up";
  }
  return "unknown";
}

const char* PositionWaitOutcomeName(PositionWaitOutcome outcome) {
  switch (outcome) {
    case PositionWaitOutcome::kReached:
      return "reached";
    case PositionWaitOutcome::kTimeout:
      return "timeout";
    case PositionWaitOutcome::kError:
      return "error";
  }
  return "unknown";
}

}  // namespace userservice
