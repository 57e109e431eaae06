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
#include "server/health/applied_position.h"
#include "server/health/replica_health.h"
#include "server/health/topology.h"
#include "server/repository/request_context.h"
#include "server/repository/user.h"
#include "server/repository/user_repository.h"
#include "server/routing/routing_observer.h"

namespace userservice {

enum class ReadConsistency { kEventual, kBoundedStaleness, kSession, kStrong };

// What a read requires of the endpoint that serves it.
struct ReadPolicy {
  ReadConsistency consistency = ReadConsistency::kEventual;
  // The caller's consistency tokens, merged. kSession: the serving
  // endpoint must have applied it (empty: none, an eventual read). The
  // other levels route without it.
  ReplicationPosition min_position;
  // kBoundedStaleness: the oldest acceptable data.
  absl::Duration max_staleness = absl::ZeroDuration();
  // kSession with a position, when no replica is known to have applied it:
  // whether the next replica may be waited for before the writer serves
  // the read. Reads that share a statement do not wait: all would.
  bool wait_for_replica = true;
};

struct NamedReader {
  std::string name;  // reported to clients in x-served-by
  UserReader* reader;
  // Its health as the checker and past calls saw it. Null means no health
  // checking: in rotation whenever its role is replica, lag unknown.
  ReplicaHealth* health = nullptr;
  // How far it is known to have applied the replication stream; null:
  // never known, session reads always wait for it.
  const AppliedPosition* applied = nullptr;
};

struct RouterOptions {
  // Longest a session read waits for a replica to apply the caller's write
  // before it goes to the primary instead. Also capped at half the call's
  // remaining time, so the primary read still fits in the deadline.
  absl::Duration session_wait = absl::Milliseconds(100);
  // Most EVENTUAL/BOUNDED_STALENESS reads (Read calls: one may answer
  // several callers with one statement) that may run on the primary at
  // once because no replica could take them. Beyond it they fail with
  // UNAVAILABLE: when every replica is gone, the primary keeps its capacity
  // for writes and for the reads that need it (STRONG, SESSION), which are
  // never refused.
  int max_fallback_reads = 8;
  // Told every routing decision (for metrics); null: nobody. Must outlive
  // the router.
  RoutingObserver* observer = nullptr;
};

struct FallbackStats {
  int in_flight = 0;
  int limit = 0;
  int64_t refused = 0;
};

// Decides which endpoint serves each read. Which endpoint is the writer and
// which are replicas is the Topology's current election; replicas are
// taken round-robin, skipping those not eligible for the read:
//   kStrong                 the writer.
//   kEventual, kSession     the next replica in rotation (not ejected, lag
//     without a position    within the server's maximum). A replica that
//                           fails with a connection error (UNAVAILABLE) is
//                           reported to its health and followed by the next
//                           eligible replica, then the writer.
//   kBoundedStaleness       the next replica provably within max_staleness,
//                           then as above. Unknown lag is never eligible.
//   kSession with position  the next replica in rotation already known to
//                           have applied the position (AppliedPosition),
//                           without a wait; if none is, the next replica
//                           if it applies the position within the session
//                           wait; else the writer. The caller always sees
//                           its own write.
// Eventual and bounded reads that end up on the writer count against the
// fallback budget; STRONG and SESSION reads never do. A read that needs the
// writer while none is elected waits for one like a write (the write hold).
// With a single endpoint configured every read goes to it, unbudgeted:
// that is the configuration, not a failure.
class ReadRouter {
 public:
  // `endpoints` in the topology's order. Readers and the topology must
  // outlive the router.
  ReadRouter(std::vector<NamedReader> endpoints, Topology* topology,
             RouterOptions options);

  ReadRouter(const ReadRouter&) = delete;
  ReadRouter& operator=(const ReadRouter&) = delete;

  // Runs `read` where `policy` allows and returns its status. `*served_by`
  // names the endpoint whose answer is returned (also when that answer is
  // NOT_FOUND); it is left empty when no endpoint answered.
  // `reads` is how many callers' reads `read` answers at once (one
  // statement for several point reads); it only matters to the observer.
  absl::Status Read(const ReadPolicy& policy, const RequestContext& ctx,
                    absl::FunctionRef<absl::Status(UserReader&)> read,
                    std::string* served_by, int reads = 1);

  // True when a replica in rotation is known to have applied `position`:
  // a session read for it needs no wait (unless that changes first).
  bool KnowsReplicaAt(const ReplicationPosition& position) const;

  size_t endpoint_count() const { return endpoints_.size(); }
  FallbackStats fallback_stats() const;

 private:
  // Up to `max` replicas eligible for `policy`, starting with the one whose
  // turn it is.
  std::vector<size_t> Candidates(const ReadPolicy& policy, size_t max);

  // The next replica eligible for `policy` without a wait (the reads there
  // count for `reason`) and, after a connection failure, one more. Nullopt
  // when none answered and there is time left for another endpoint;
  // `*tried` says whether any replica was tried.
  std::optional<absl::Status> ReadAtReplicas(
      const ReadPolicy& policy, ReadReason reason, const RequestContext& ctx,
      absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by,
      int reads, bool* tried);
  absl::Status ReadFromReplicas(
      const ReadPolicy& policy, const RequestContext& ctx,
      absl::FunctionRef<absl::Status(UserReader&)> read, std::string* served_by,
      int reads);
  // The writer within the fallback budget, or UNAVAILABLE.
  absl::Status ReadFallback(const RequestContext& ctx,
                            absl::FunctionRef<absl::Status(UserReader&)> read,
                            std::string* served_by, ReadReason reason,
                            int reads);
  absl::Status ReadSession(const ReadPolicy& policy, const RequestContext& ctx,
                           absl::FunctionRef<absl::Status(UserReader&)> read,
                           std::string* served_by, int reads);
  // The next replica if it applies `position` within the session wait;
  // false when it did not (or could not) serve the read.
  bool ReadAfterWait(const ReplicationPosition& position,
                     const RequestContext& ctx,
                     absl::FunctionRef<absl::Status(UserReader&)> read,
                     std::string* served_by, int reads, absl::Status* status);
  // The writer (waiting for one while none is elected) on behalf of a read
  // for `reason`.
  absl::Status ReadAtWriter(const RequestContext& ctx,
                            absl::FunctionRef<absl::Status(UserReader&)> read,
                            std::string* served_by, ReadReason reason,
                            int reads);
  absl::Status ReadAt(size_t endpoint,
                      absl::FunctionRef<absl::Status(UserReader&)> read,
                      std::string* served_by);

  const std::vector<NamedReader> endpoints_;
  Topology* const topology_;
  const RouterOptions options_;
  RoutingObserver* const observer_;
  std::atomic<uint64_t> next_replica_{0};
  std::atomic<int> fallback_in_flight_{0};
  std::atomic<int64_t> fallback_refused_{0};
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_ROUTING_READ_ROUTER_H_
