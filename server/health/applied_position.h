#ifndef USERSERVICE_SERVER_HEALTH_APPLIED_POSITION_H_
#define USERSERVICE_SERVER_HEALTH_APPLIED_POSITION_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/repository/replication_position.h"

namespace userservice {

// How far one endpoint is known to have applied the replication stream:
// what lets a session read go to a replica already past its tokens, with no
// wait. It is fed by the endpoint's health checks, which replace what is
// known (a server restored from an older copy goes back), and by the reads
// and position waits it serves, which only add to it while the same server
// answers. It is forgotten when the endpoint cannot be reached: what
// answers next may be another copy. Thread-safe.
class AppliedPosition {
 public:
  // A health check found `applied` on the server with `server_id`.
  void Observe(int64_t server_id, ReplicationPosition applied);
  // A read or a wait found `applied` reached on the server with
  // `server_id`; a different server than before replaces what was known.
  void Reached(int64_t server_id, const ReplicationPosition& applied);
  // The endpoint could not be reached.
  void Forget();

  // True when the endpoint is known to have applied `position`.
  bool Covers(const ReplicationPosition& position) const;
  ReplicationPosition Known() const;

 private:
  mutable absl::Mutex mu_;
  int64_t server_id_ ABSL_GUARDED_BY(mu_) = 0;
  ReplicationPosition applied_ ABSL_GUARDED_BY(mu_);
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_HEALTH_APPLIED_POSITION_H_
