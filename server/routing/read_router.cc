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

bool NeedsPosition(const ReadPolicy& policy) {
  return policy.consistency == ReadConsistency::kSession &&
         !policy.min_position.empty();
}

// Whether `replica` (in rotation) may serve `policy` without a wait.
bool Eligible(const NamedReader& replica, const ReadPolicy& policy,
              absl::Time now) {
  if (policy.consistency == ReadConsistency::kBoundedStaleness) {
    return replica.health != nullptr &&
           replica.health->EligibleForStaleness(policy.max_staleness, now);
  }
  if (replica.health != nullptr && !replica.health->EligibleForEventual(now)) {
    return false;
  }
  return !NeedsPosition(policy) ||
         (replica.applied != nullptr &&
          replica.applied->Covers(policy.min_position));
}

}  // namespace

ReadRouter::ReadRouter(std::vector<NamedReader> endpoints, Topology* topology,
                       RouterOptions options)
    : endpoints_(std::move(endpoints)),
      topology_(topology),
      options_(options),
      observer_(options.observer != nullptr ? options.observer
                                            : NoopObserver()) {}

FallbackStats ReadRouter::fallback_stats() const {
  return FallbackStats{fallback_in_flight_.load(), options_.max_fallback_reads,
                       fallback_refused_.load()};
}

bool ReadRouter::KnowsReplicaAt(const ReplicationPosition& position) const {
  ReadPolicy session;
  session.consistency = ReadConsistency::kSession;
  session.min_position = position;
  const absl::Time now = absl::Now();
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (topology_->role(i) == EndpointRole::kReplica &&
        Eligible(endpoints_[i], session, now)) {
      return true;
    }
  }
  return false;
}

std::vector<size_t> ReadRouter::Candidates(const ReadPolicy& policy,
                                           size_t max) {
  const absl::Time now = absl::Now();
  size_t eligible[64];
  size_t count = 0;
  for (size_t i = 0; i < endpoints_.size() && count < 64; ++i) {
    if (topology_->role(i) == EndpointRole::kReplica &&
        Eligible(endpoints_[i], policy, now)) {
      eligible[count++] = i;
    }
  }
  std::vector<size_t> candidates;
  if (count == 0) return candidates;
  // The turn counts over the replicas in rotation, not over all of them:
  // skipping an ejected replica must not hand its share to its neighbour.
  const size_t first =
      next_replica_.fetch_add(1, std::memory_order_relaxed) % count;
  for (size_t i = 0; i < count && candidates.size() < max; ++i) {
    candidates.push_back(eligible[(first + i) % count]);
  }
  return candidates;
}

absl::Status ReadRouter::Read(const ReadPolicy& policy,
                              const RequestContext& ctx,
                              absl::FunctionRef<absl::Status(UserReader&)> read,
                              std::string* served_by, int reads) {
  served_by->clear();
  if (endpoints_.size() == 1) {
    observer_->OnRead(endpoints_[0].name,
                      policy.consistency == ReadConsistency::kStrong
                          ? ReadReason::kPrimaryStrong
                          : ReadReason::kPrimaryNoReplica,
                      reads);
    return ReadAt(0, read, served_by);
  }
  switch (policy.consistency) {
    case ReadConsistency::kStrong:
      return ReadAtWriter(ctx, read, served_by, ReadReason::kPrimaryStrong,
                          reads);
    case ReadConsistency::kSession:
      if (NeedsPosition(policy)) {
        return ReadSession(policy, ctx, read, served_by, reads);
      }
      return ReadFromReplicas(policy, ctx, read, served_by, reads);
    case ReadConsistency::kEventual:
    case ReadConsistency::kBoundedStaleness:
      return ReadFromReplicas(policy, ctx, read, served_by, reads);
  }
  return ReadAtWriter(ctx, read, served_by, ReadReason::kPrimaryStrong, reads);
}

absl::Status ReadRouter::ReadFromReplicas(
    const ReadPolicy& policy, const RequestContext& ctx,
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by,
    int reads) {
  bool tried = false;
  if (std::optional<absl::Status> answer = ReadAtReplicas(
          policy, ReadReason::kReplica, ctx, read, served_by, reads, &tried)) {
    return *answer;
  }
  return ReadFallback(
      ctx, read, served_by,
      !tried && policy.consistency == ReadConsistency::kBoundedStaleness
          ? ReadReason::kPrimaryStalenessFallback
          : ReadReason::kPrimaryNoReplica,
      reads);
}

std::optional<absl::Status> ReadRouter::ReadAtReplicas(
    const ReadPolicy& policy, ReadReason reason, const RequestContext& ctx,
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by,
    int reads, bool* tried) {
  absl::Status last;
  *tried = false;
  for (size_t replica : Candidates(policy, 2)) {
    observer_->OnRead(endpoints_[replica].name,
                      *tried ? ReadReason::kRetry : reason, reads);
    last = ReadAt(replica, read, served_by);
    *tried = true;
    if (!ShouldTryElsewhere(last, ctx)) return last;
  }
  if (*tried && ctx.Expired()) return last;
  return std::nullopt;
}

absl::Status ReadRouter::ReadFallback(
    const RequestContext& ctx,
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
  absl::Status status = ReadAtWriter(ctx, read, served_by, reason, reads);
  fallback_in_flight_.fetch_sub(1);
  return status;
}

absl::Status ReadRouter::ReadSession(
    const ReadPolicy& policy, const RequestContext& ctx,
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by,
    int reads) {
  bool tried = false;
  if (std::optional<absl::Status> answer =
          ReadAtReplicas(policy, ReadReason::kReplicaCaughtUp, ctx, read,
                         served_by, reads, &tried)) {
    return *answer;
  }
  absl::Status status;
  if (policy.wait_for_replica && ReadAfterWait(policy.min_position, ctx, read,
                                               served_by, reads, &status)) {
    return status;
  }
  // No replica has the caller's writes: only the writer is sure to.
  return ReadAtWriter(ctx, read, served_by, ReadReason::kPrimarySessionFallback,
                      reads);
}

bool ReadRouter::ReadAfterWait(
    const ReplicationPosition& position, const RequestContext& ctx,
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by,
    int reads, absl::Status* status) {
  std::vector<size_t> candidates = Candidates(ReadPolicy(), 1);
  if (candidates.empty()) return false;
  const size_t index = candidates.front();
  const NamedReader& replica = endpoints_[index];
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
  if (absl::IsUnavailable(applied.status()) && replica.health != nullptr) {
    replica.health->RecordCallFailure(absl::Now(),
                                      std::string(applied.status().message()));
  }
  if (!applied.ok() || !*applied) return false;
  observer_->OnRead(replica.name, ReadReason::kReplica, reads);
  *status = ReadAt(index, read, served_by);
  return !ShouldTryElsewhere(*status, ctx);
}

absl::Status ReadRouter::ReadAtWriter(
    const RequestContext& ctx,
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by,
    ReadReason reason, int reads) {
  absl::StatusOr<size_t> writer = topology_->AwaitWriter(ctx.deadline);
  if (!writer.ok()) {
    served_by->clear();
    return writer.status();
  }
  observer_->OnRead(endpoints_[*writer].name, reason, reads);
  absl::Status status = ReadAt(*writer, read, served_by);
  if (absl::IsUnavailable(status) && !ctx.Expired()) {
    topology_->WriterFailed(*writer, status.message());
  }
  return status;
}

absl::Status ReadRouter::ReadAt(
    size_t index, absl::FunctionRef<absl::Status(UserReader&)> read,
    std::string* served_by) {
  const NamedReader& endpoint = endpoints_[index];
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
