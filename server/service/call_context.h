#ifndef USERSERVICE_SERVER_SERVICE_CALL_CONTEXT_H_
#define USERSERVICE_SERVER_SERVICE_CALL_CONTEXT_H_

// The RequestContexts of calls answered in batches: one per call, taken on
// the dispatcher's thread, and one for a statement a whole batch shares.

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/repository/request_context.h"

namespace userservice {

// The context of a call answered off its gRPC thread: cancellation as the
// completion queue reported it (UnaryCall::Cancelled).
template <typename Call>
RequestContext CallContext(Call* call, absl::Time deadline) {
  RequestContext ctx;
  ctx.deadline = deadline;
  ctx.cancelled = [call] { return call->Cancelled(); };
  return ctx;
}

// One context for a statement that a batch of calls shares: it may run as
// long as the most patient caller waits (each call still ends at its own
// deadline), and is killed only when every caller in it has gone. `Parsed`
// is a validated call with its own context in `ctx`.
template <typename Parsed>
RequestContext SharedContext(absl::Span<Parsed* const> batch) {
  RequestContext ctx;
  ctx.deadline = absl::InfinitePast();
  std::vector<std::function<bool()>> cancelled;
  cancelled.reserve(batch.size());
  for (const Parsed* parsed : batch) {
    ctx.deadline = std::max(ctx.deadline, parsed->ctx.deadline);
    if (parsed->ctx.cancelled) cancelled.push_back(parsed->ctx.cancelled);
  }
  if (cancelled.size() == batch.size()) {
    ctx.cancelled = [cancelled = std::move(cancelled)] {
      for (const std::function<bool()>& gone : cancelled) {
        if (!gone()) return false;
      }
      return true;
    };
  }
  return ctx;
}

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_CALL_CONTEXT_H_
