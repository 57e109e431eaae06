#ifndef USERSERVICE_SERVER_ROUTING_WRITE_ROUTER_H_
#define USERSERVICE_SERVER_ROUTING_WRITE_ROUTER_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "server/health/topology.h"
#include "server/repository/request_context.h"
#include "server/repository/user_repository.h"

namespace userservice {

// Sends every write to the elected writer, and only to it. While none is
// elected a write waits for one (Topology::AwaitWriter, the write hold).
// A write that fails UNAVAILABLE on the writer makes every endpoint be
// checked at once, and is sent again to the writer elected next only when
// it certainly did not run there (WasNotExecuted: no connection, or refused
// as read-only) or when it is a create with a request_id (idempotent by
// design); otherwise the caller gets the UNAVAILABLE and decides.
class WriteRouter final : public UserWriter {
 public:
  // How many times one write is sent at most.
  static constexpr int kMaxAttempts = 3;

  // `writers[i]` writes to endpoint i of `topology`. All must outlive the
  // router.
  WriteRouter(std::vector<UserWriter*> writers, Topology* topology);

  absl::StatusOr<Positioned<User>> CreateUser(
      const NewUser& user, const RequestContext& ctx) override;
  absl::StatusOr<std::vector<Positioned<User>>> CreateUsers(
      absl::Span<const NewUser> users, const RequestContext& ctx) override;
  absl::StatusOr<Positioned<User>> UpdateUser(
      const UserUpdate& update, const RequestContext& ctx) override;
  absl::StatusOr<ReplicationPosition> DeleteUser(
      uint64_t id, int64_t expected_version,
      const RequestContext& ctx) override;

  // Writes sent again to a new writer since startup.
  int64_t resends() const { return resends_.load(); }

 private:
  template <typename T>
  absl::StatusOr<T> Send(
      const RequestContext& ctx, bool idempotent,
      absl::FunctionRef<absl::StatusOr<T>(UserWriter&)> write);

  const std::vector<UserWriter*> writers_;
  Topology* const topology_;
  std::atomic<int64_t> resends_{0};
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_ROUTING_WRITE_ROUTER_H_
