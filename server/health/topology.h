#ifndef USERSERVICE_SERVER_HEALTH_TOPOLOGY_H_
#define USERSERVICE_SERVER_HEALTH_TOPOLOGY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/common/clock.h"
#include "server/health/replica_health.h"

namespace userservice {

// What an endpoint is in the replication cluster, as its latest check saw
// it. Only kWriter takes writes and only kReplica is in the read rotation.
enum class EndpointRole {
  kUnknown,      // not checked yet, or a failure made its last check void
  kUnreachable,  // its last check could not reach it
  kWriter,       // the elected writer
  kReplica,      // replicates, without a replication error
  kRival,        // writable and replicating from nobody, but not elected:
                 // a split brain, never written to
  kAlias,        // the writer's server under another configured name
  kDetached,     // reachable but neither: read-only and not replicating, or
                 // its replication stopped with an error (it may have
                 // diverged), or it follows a rival
};
inline constexpr int kEndpointRoleCount = 7;
const char* EndpointRoleName(EndpointRole role);

// The facts of one endpoint the election uses, from its latest check.
struct RoleFacts {
  bool checked = false;
  bool reachable = false;
  int64_t server_id = 0;
  bool read_only = true;
  // Replication is configured and its threads run (or the IO thread is
  // retrying an unreachable source).
  bool replicating = false;
  // Replication is configured and a thread stopped with an error.
  bool replication_broken = false;
  int64_t source_server_id = 0;

  static RoleFacts Of(const ProbeResult& result);
};

struct Election {
  int writer = -1;  // index of the writer endpoint; -1: none
  std::vector<EndpointRole> roles;
  // Indices of writable endpoints that replicate from nobody, one per
  // server, the writer included: more than one is a split brain.
  std::vector<int> claimants;
  // Why there is no writer (empty when there is one).
  std::string no_writer_reason;
};

// The writer is the reachable endpoint that is writable and replicates from
// nobody (without a replication error: a stopped, broken replication may
// have left it diverged). When several servers claim it, the one the most replicas follow
// wins; on a tie, the current writer stays while it still claims it;
// otherwise there is none. Nobody is elected while an endpoint's role is
// still unknown, so one slow first check cannot elect the wrong server.
// `current` is the writer so far (-1: none).
Election ElectWriter(absl::Span<const RoleFacts> endpoints, int current);

struct TopologyOptions {
  // Longest a call that needs the writer waits for one to be elected.
  absl::Duration write_hold = absl::Seconds(2);
  // Calls that may wait at once; more are refused at once.
  int max_held_calls = 256;
};

// Counters of the topology since startup, for metrics.
struct TopologyStats {
  int64_t writer_changes = 0;  // elections that changed the writer
  int64_t role_changes = 0;    // endpoint role changes
  int held_now = 0;            // calls waiting for a writer now
  int64_t holds_ended_with_writer = 0;
  int64_t holds_timed_out = 0;
  int64_t holds_refused = 0;  // over max_held_calls
  absl::Duration hold_time_total;
  int writable_servers = 0;  // claimants in the latest election
};

// The roles of every configured endpoint, re-elected after each check, and
// the place where calls that need the writer wait for one. Thread-safe;
// writer() and role() are lock-free for the request path.
class Topology {
 public:
  // `names` are the endpoints' configured names, in configuration order.
  // `recheck` (may be empty) is called, without locks held, when every
  // endpoint should be checked at once (a write failed on the writer).
  Topology(std::vector<std::string> names, TopologyOptions options,
           std::function<void()> recheck, Clock clock = absl::Now);

  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  size_t size() const { return names_.size(); }
  const std::string& name(size_t endpoint) const { return names_[endpoint]; }

  // The latest check of `endpoint`; re-elects.
  void Record(size_t endpoint, const ProbeResult& result);
  // A call found the writer `endpoint` refusing writes or unreachable: its
  // role is void until its next check, which is requested now.
  void WriterFailed(size_t endpoint, absl::string_view reason);

  // The writer's index, or -1.
  int writer() const { return writer_.load(std::memory_order_acquire); }
  EndpointRole role(size_t endpoint) const {
    return static_cast<EndpointRole>(
        roles_[endpoint].load(std::memory_order_acquire));
  }
  std::string gtid_position(size_t endpoint) const;
  int64_t server_id(size_t endpoint) const;

  // The writer, waiting while there is none: at most write_hold from now
  // and never past `deadline`. UNAVAILABLE (saying why) when none came or
  // too many calls wait already.
  absl::StatusOr<size_t> AwaitWriter(absl::Time deadline);

  TopologyStats stats() const;

 private:
  void ElectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LogChangesLocked(const Election& next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LogRoleChangesLocked(const Election& next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LogWriterChangeLocked(const Election& next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LogSplitBrainLocked(const Election& next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasWriterLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<std::string> names_;
  const TopologyOptions options_;
  const std::function<void()> recheck_;
  const Clock clock_;

  // Published copies of the election, read without the lock.
  std::atomic<int> writer_{-1};
  std::unique_ptr<std::atomic<int>[]> roles_;

  mutable absl::Mutex mu_;
  std::vector<RoleFacts> facts_ ABSL_GUARDED_BY(mu_);
  std::vector<ProbeResult> latest_ ABSL_GUARDED_BY(mu_);
  Election election_ ABSL_GUARDED_BY(mu_);
  // The split brain last logged (sorted claimant names), so it is logged
  // once, not on every check.
  std::string logged_split_ ABSL_GUARDED_BY(mu_);
  absl::Time writerless_since_ ABSL_GUARDED_BY(mu_);
  TopologyStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_HEALTH_TOPOLOGY_H_
