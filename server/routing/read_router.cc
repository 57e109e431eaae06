#include "server/routing/read_router.h"

#include <algorithm>
#include <utility>

namespace userservice {
namespace {

// Only a failure to reach the endpoint is worth another endpoint: any other
// answer (NOT_FOUND, a deadline) would be the same anywhere.
bool ShouldTryElsewhere(const absl::Status& status, const RequestContext& ctx) {
  return absl::IsUnavailable(status) && !ctx.Expired();
}

}  // namespace

ReadRouter::ReadRouter(NamedReader primary, std::vector<NamedReader> replicas,
                       RouterOptions options)
    : primary_(std::move(primary)),
      replicas_(std::move(replicas)),
      options_(options) {}

size_t ReadRouter::NextReplica() {
  return next_replica_.fetch_add(1, std::memory_order_relaxed) %
         replicas_.size();
}

absl::Status ReadRouter::Read(const ReadPolicy& policy,
                              const RequestContext& ctx,
                              absl::FunctionRef<absl::Status(UserReader&)> read,
                              std::string* served_by) {
  served_by->clear();
  if (replicas_.empty()) return ReadAt(primary_, read, served_by);
  switch (policy.consistency) {
    case ReadConsistency::kStrong:
    case ReadConsistency::kBoundedStaleness:
      return ReadAt(primary_, read, served_by);
    case ReadConsistency::kSession:
      if (policy.min_position.has_value()) {
        return ReadSession(*policy.min_position, ctx, read, served_by);
      }
      return ReadEventual(ctx, read, served_by);
    case ReadConsistency::kEventual:
      return ReadEventual(ctx, read, served_by);
  }
  return ReadAt(primary_, read, served_by);
}

absl::Status ReadRouter::ReadEventual(
    const RequestContext& ctx,
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by) {
  const size_t first = NextReplica();
  absl::Status status = ReadAt(replicas_[first], read, served_by);
  if (!ShouldTryElsewhere(status, ctx)) return status;
  if (replicas_.size() > 1) {
    status = ReadAt(replicas_[(first + 1) % replicas_.size()], read, served_by);
    if (!ShouldTryElsewhere(status, ctx)) return status;
  }
  return ReadAt(primary_, read, served_by);
}

absl::Status ReadRouter::ReadSession(
    const ReplicationPosition& position, const RequestContext& ctx,
    absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by) {
  const NamedReader& replica = replicas_[NextReplica()];
  const absl::Duration wait =
      std::max(absl::ZeroDuration(),
               std::min(options_.session_wait, ctx.Remaining() / 2));
  absl::StatusOr<bool> applied =
      replica.reader->WaitForPosition(position, wait, ctx);
  if (absl::IsInvalidArgument(applied.status())) return applied.status();
  if (applied.ok() && *applied) {
    absl::Status status = ReadAt(replica, read, served_by);
    if (!ShouldTryElsewhere(status, ctx)) return status;
  }
  // The replica is behind or unreachable: only the primary is sure to have
  // the caller's write.
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
  }
  return status;
}

}  // namespace userservice
