#include "server/routing/read_router.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace userservice {
namespace {

// Only a failure to reach the endpoint is worth another endpoint: any other
// answer (NOT_FOUND, a deadline) would be the same anywhere.
bool ShouldTryElsewhere(const absl::Status& status, const RequestContext& ctx) {
  return absl::IsUnavailable(status) && !ctx.Expired();
}

// Stands in when no observer is configured, so decision points need no check.
RoutingObserver* NoopObserver() {
  static RoutingObserver* const noop = new RoutingObserver();
  return noop;
}

bool Eligible(const NamedReader& replica, const ReadPolicy& policy,
              absl::Time now) {
  if (policy.consistency == ReadConsistency::kBoundedStaleness) {
    return replica.health != nullptr &&
           replica.health->EligibleForStaleness(policy.max_staleness, now);
  }
  return replica.health == nullptr || replica.health->EligibleForEventual(now);
}

}  // namespace

ReadRouter::ReadRouter(NamedReader primary, std::vector<NamedReader> replicas,
                       RouterOptions options)
    : primary_(std::move(primary)),
      replicas_(std::move(replicas)),
      options_(options),
      observer_(options.observer != nullptr ? options.observer
                                            : NoopObserver()) {}

FallbackStats ReadRouter::fallback_stats() const {
  return FallbackStats{fallback_in_flight_.load(), options_.max_fallback_reads,
                       fallback_refused_.load()};
}

std::vector<const NamedReader*> ReadRouter::Candidates(
    const ReadPolicy& policy, size_t max) {
  const absl::Time now = absl::Now();
  std::vector<const NamedReader*> eligible;
  eligible.reserve(replicas_.size());
  for (const NamedReader& replica : replicas_) {
    if (Eligible(replica, policy, now)) eligible.push_back(&replica);
  }
  if (eligible.empty()) return eligible;
  // The turn counts over the replicas in rotation, not over all of them:
  // skipping an ejected replica must not hand its share to its neighbour.
  const size_t first =
      next_replica_.fetch_add(1, std::memory_order_relaxed) % eligible.size();
  std::vector<const NamedReader*> candidates;
  for (size_t i = 0; i < eligible.size() && candidates.size() < max; ++i) {
    candidates.push_back(eligible[(first + i) % eligible.size()]);
  }
  return candidates;
}

absl::Status ReadRouter::Read(const ReadPolicy& policy,
                              const RequestContext& ctx,
                              absl::FunctionRef<absl::Status(UserReader&)> read,
                              std::string* served_by, int reads) {
  served_by->clear();
  if (replicas_.empty()) {
    observer_->OnRead(primary_.name,
                      policy.consistency == ReadConsistency::kStrong
                          ? ReadReason::kPrimaryStrong
                          : ReadReason::kPrimaryNoReplica,
                      reads);
    return ReadAt(primary_, read, served_by);
  }
  switch (policy.consistency) {
    case ReadConsistency::kStrong:
      observer_->OnRead(primary_.name, ReadReason::kPrimaryStrong, reads);
      return ReadAt(primary_, read, served_by);
    case ReadConsistency::kSession:
      if (policy.min_position.has_value()) {
        return ReadSession(*policy.min_position, ctx, read, served_by);
      }
      return ReadFromReplicas(policy, ctx, read, served_by, reads);
    case ReadConsistency::kEventual:
    case ReadConsistency::kBoundedStaleness:
      return ReadFromReplicas(policy, ctx, read, served_by, reads);
  }
  return ReadAt(primary_, read, served_by);
}

absl::Status ReadRouter::ReadFromReplicas(
    const ReadPolicy& policy, const RequestContext& ctx,
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by,
    int reads) {
  // The chosen replica and, after a connection failure, one more.
  absl::Status last;
  bool tried = false;
  for (const NamedReader* replica : Candidates(policy, 2)) {
    observer_->OnRead(replica->name,
                      tried ? ReadReason::kRetry : ReadReason::kReplica, reads);
    last = ReadAt(*replica, read, served_by);
    tried = true;
    if (!ShouldTryElsewhere(last, ctx)) return last;
  }
  if (tried && ctx.Expired()) return last;
  return ReadFallback(
      read, served_by,
      !tried && policy.consistency == ReadConsistency::kBoundedStaleness
          ? ReadReason::kPrimaryStalenessFallback
          : ReadReason::kPrimaryNoReplica,
      reads);
}

absl::Status ReadRouter::ReadFallback(
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by,
    ReadReason reason, int reads) {
  if (fallback_in_flight_.fetch_add(1) >= options_.max_fallback_reads) {
    fallback_in_flight_.fetch_sub(1);
    fallback_refused_.fetch_add(1);
    observer_->OnFallbackRefused();
    served_by->clear();
    return absl::UnavailableError(absl::StrCat(
        "no replica can serve this read (unreachable, ejected or lagging) "
        "and the primary is already serving its limit of ",
        options_.max_fallback_reads,
        " fallback reads; retry with backoff, or use CONSISTENCY_STRONG if "
        "the read must not fail"));
  }
  observer_->OnRead(primary_.name, reason, reads);
  absl::Status status = ReadAt(primary_, read, served_by);
  fallback_in_flight_.fetch_sub(1);
  return status;
}

absl::Status ReadRouter::ReadSession(
    const ReplicationPosition& position, const RequestContext& ctx,
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by) {
  ReadPolicy eventual;
  std::vector<const NamedReader*> candidates = Candidates(eventual, 1);
  if (!candidates.empty()) {
    const NamedReader& replica = *candidates.front();
    const absl::Duration wait =
        std::max(absl::ZeroDuration(),
                 std::min(options_.session_wait, ctx.Remaining() / 2));
    const absl::Time wait_start = absl::Now();
    absl::StatusOr<bool> applied =
        replica.reader->WaitForPosition(position, wait, ctx);
    observer_->OnPositionWait(replica.name,
                              !applied.ok() ? PositionWaitOutcome::kError
                              : *applied    ? PositionWaitOutcome::kReached
                                            : PositionWaitOutcome::kTimeout,
                              absl::Now() - wait_start);
    if (absl::IsInvalidArgument(applied.status())) return applied.status();
    if (absl::IsUnavailable(applied.status()) && replica.health != nullptr) {
      replica.health->RecordCallFailure(
          absl::Now(), std::string(applied.status().message()));
    }
    if (applied.ok() && *applied) {
      observer_->OnRead(replica.name, ReadReason::kReplica, 1);
      absl::Status status = ReadAt(replica, read, served_by);
      if (!ShouldTryElsewhere(status, ctx)) return status;
    }
  }
  // The replica is behind or unreachable: only the primary is sure to have
  // the caller's write.
  observer_->OnRead(primary_.name, ReadReason::kPrimarySessionFallback, 1);
  return ReadAt(primary_, read, served_by);
}

absl::Status ReadRouter::ReadAt(
    const NamedReader& endpoint,
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by) {
  absl::Status status = read(*endpoint.reader);
  if (status.ok() || absl::IsNotFound(status)) {
    *served_by = endpoint.name;
  } else {
    served_by->clear();
    if (absl::IsUnavailable(status) && endpoint.health != nullptr) {
      endpoint.health->RecordCallFailure(absl::Now(),
                                         std::string(status.message()));
    }
  }
  return status;
}

}  // namespace userservice
