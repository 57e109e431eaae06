#ifndef USERSERVICE_SERVER_ROUTING_READ_ROUTER_H_
#define USERSERVICE_SERVER_ROUTING_READ_ROUTER_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/repository/request_context.h"
#include "server/repository/user.h"
#include "server/repository/user_repository.h"

namespace userservice {

enum class ReadConsistency { kEventual, kBoundedStaleness, kSession, kStrong };

// What a read requires of the endpoint that serves it.
struct ReadPolicy {
  ReadConsistency consistency = ReadConsistency::kEventual;
  // kSession: the position the serving endpoint must have applied; nullopt
  // when the caller passed no token (then it is an eventual read).
  std::optional<ReplicationPosition> min_position;
  // kBoundedStaleness: the oldest acceptable data.
  absl::Duration max_staleness = absl::ZeroDuration();
};

struct NamedReader {
  std::string name;  // reported to clients in x-served-by
  UserReader* reader;
};

struct RouterOptions {
  // Longest a session read waits for a replica to apply the caller's write
  // before it goes to the primary instead. Also capped at half the call's
  // remaining time, so the primary read still fits in the deadline.
  absl::Duration session_wait = absl::Milliseconds(100);
};

// Decides which endpoint serves each read:
//   kStrong                 the primary.
//   kBoundedStaleness       the primary (until replica lag is measured, the
//                           only endpoint whose staleness is known: zero).
//   kEventual, kSession     the next replica, round-robin. A replica that
//     without a position    fails with a connection error (UNAVAILABLE) is
//                           followed by the next replica, then the primary.
//   kSession with position  the next replica if it applies the position
//                           within the session wait, else the primary. The
//                           caller always sees its own write.
// With no replicas configured every read goes to the primary.
class ReadRouter {
 public:
  // Readers must outlive the router.
  ReadRouter(NamedReader primary, std::vector<NamedReader> replicas,
             RouterOptions options);

  ReadRouter(const ReadRouter&) = delete;
  ReadRouter& operator=(const ReadRouter&) = delete;

  // Runs `read` where `policy` allows and returns its status. `*served_by`
  // names the endpoint whose answer is returned (also when that answer is
  // NOT_FOUND); it is left empty when no endpoint answered.
  absl::Status Read(const ReadPolicy& policy, const RequestContext& ctx,
                    absl::FunctionRef<absl::Status(UserReader&)> read,
                    std::string* served_by);

  size_t replica_count() const { return replicas_.size(); }

 private:
  // Index of the replica whose turn it is.
  size_t NextReplica();

  absl::Status ReadEventual(const RequestContext& ctx,
                            absl::FunctionRef<absl::Status(UserReader&)> read,
                            std::string* served_by);
  absl::Status ReadSession(const ReplicationPosition& position,
                           const RequestContext& ctx,
                           absl::FunctionRef<absl::Status(UserReader&)> read,
                           std::string* served_by);
  absl::Status ReadAt(const NamedReader& endpoint,
                      absl::FunctionRef<absl::Status(UserReader&)> read,
                      std::string* served_by);

  const NamedReader primary_;
  const std::vector<NamedReader> replicas_;
  const RouterOptions options_;
  std::atomic<uint64_t> next_replica_{0};
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_ROUTING_READ_ROUTER_H_
