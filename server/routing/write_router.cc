#include "server/routing/write_router.h"

#include <utility>

#include "server/repository/write_outcome.h"

namespace userservice {

WriteRouter::WriteRouter(std::vector<UserWriter*> writers, Topology* topology)
    : writers_(std::move(writers)), topology_(topology) {}

template <typename T>
absl::StatusOr<T> WriteRouter::Send(
    const RequestContext& ctx, bool idempotent,
    absl::FunctionRef<absl::StatusOr<T>(UserWriter&)> write) {
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<size_t> writer = topology_->AwaitWriter(ctx.deadline);
    if (!writer.ok()) return writer.status();
    absl::StatusOr<T> result = write(*writers_[*writer]);
    if (result.ok() || !absl::IsUnavailable(result.status()) || ctx.Expired()) {
      return result;
    }
    topology_->WriterFailed(*writer, result.status().message());
    const bool safe = idempotent || WasNotExecuted(result.status());
    if (!safe || attempt >= kMaxAttempts) return result;
    resends_.fetch_add(1, std::memory_order_relaxed);
  }
}

absl::StatusOr<Positioned<User>> WriteRouter::CreateUser(
    const NewUser& user, const RequestContext& ctx) {
  return Send<Positioned<User>>(
      ctx, !user.request_id.empty(),
      [&](UserWriter& writer) { return writer.CreateUser(user, ctx); });
}

absl::StatusOr<std::vector<Positioned<User>>> WriteRouter::CreateUsers(
    absl::Span<const NewUser> users, const RequestContext& ctx) {
  return Send<std::vector<Positioned<User>>>(
      ctx, /*idempotent=*/false,
      [&](UserWriter& writer) { return writer.CreateUsers(users, ctx); });
}

absl::StatusOr<Positioned<User>> WriteRouter::UpdateUser(
    const UserUpdate& update, const RequestContext& ctx) {
  return Send<Positioned<User>>(
      ctx, /*idempotent=*/false,
      [&](UserWriter& writer) { return writer.UpdateUser(update, ctx); });
}

absl::StatusOr<ReplicationPosition> WriteRouter::DeleteUser(
    uint64_t id, int64_t expected_version, const RequestContext& ctx) {
  return Send<ReplicationPosition>(
      ctx, /*idempotent=*/false, [&](UserWriter& writer) {
        return writer.DeleteUser(id, expected_version, ctx);
      });
}

}  // namespace userservice
