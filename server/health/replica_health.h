#ifndef USERSERVICE_SERVER_HEALTH_REPLICA_HEALTH_H_
#define USERSERVICE_SERVER_HEALTH_REPLICA_HEALTH_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace userservice {

struct HealthPolicy {
  // Consecutive failed checks or calls after which a replica leaves the
  // rotation.
  int eject_after_failures = 3;
  // Consecutive passed checks after which an ejected replica returns.
  int readmit_after_successes = 2;
  // EVENTUAL reads skip replicas further behind than this (or whose lag is
  // unknown once checks have run).
  absl::Duration max_eventual_lag = absl::Seconds(30);
  // A lag measurement older than this is no measurement: the replica's lag
  // is unknown.
  absl::Duration lag_valid_for = absl::Seconds(3);
  // How often heartbeats are written: the granularity of lag measurement.
  absl::Duration heartbeat_interval = absl::Milliseconds(100);
};

// What one health check of a replica found. The probe fills in everything
// but `lag`, which the HealthChecker works out from `applied_heartbeat`.
struct ProbeResult {
  bool reachable = false;
  // Short, loggable reason when not reachable (no SQL, no credentials).
  std::string error;
  // From SHOW SLAVE STATUS, when the service's user may run it.
  bool replication_status_known = false;
  bool io_running = false;
  bool sql_running = false;
  // Seconds_Behind_Master; nullopt when NULL (SQL thread stopped) or unknown.
  std::optional<int64_t> seconds_behind_master;
  // The stamp in this server's heartbeat row on the replica; nullopt when
  // the row has not arrived there yet.
  std::optional<absl::Time> applied_heartbeat;
  // Heartbeat lag (see LagLedger); nullopt when unknown.
  std::optional<absl::Duration> lag;

  // What the writer election needs (see server/health/topology.h).
  int64_t server_id = 0;  // @@server_id; 0 when unknown
  bool read_only = true;  // @@read_only; true when unknown
  // A SHOW SLAVE STATUS row exists: replication is configured here.
  bool replication_configured = false;
  // Slave_IO_Running is "Connecting": the source cannot be reached now.
  bool io_connecting = false;
  // Master_Server_Id: the server this one replicates from (0: unknown).
  int64_t source_server_id = 0;
  // Last_IO_Errno / Last_SQL_Errno: why a replication thread stopped.
  int last_io_errno = 0;
  int last_sql_errno = 0;
  // @@gtid_current_pos: every transaction this server has, its own and
  // replicated ones.
  std::string gtid_position;
};

enum class ReplicaState {
  kStarting,  // no check has finished yet
  kHealthy,   // in rotation
  kEjected,   // out of rotation until it passes enough checks
};

const char* ReplicaStateName(ReplicaState state);

struct ReplicaStatus {
  ReplicaState state = ReplicaState::kStarting;
  std::optional<absl::Duration> lag;  // nullopt: unknown
  bool io_running = false;
  bool sql_running = false;
  bool replication_status_known = false;
  int consecutive_failures = 0;
  int consecutive_successes = 0;
  std::string reason;  // why the state is what it is
  int64_t ejections = 0;  // times it left the rotation since startup
};

// The health of one replica, fed by its checker and by the calls routed to
// it, read by the router on every call. Thread-safe.
//
// Lag is taken conservatively: the heartbeat lag, raised to
// Seconds_Behind_Master when that is larger, and unknown (never zero) when
// neither could be measured recently.
class ReplicaHealth {
 public:
  ReplicaHealth(std::string name, HealthPolicy policy);

  void RecordProbe(const ProbeResult& result, absl::Time now);
  // A call failed to reach the replica (connection error).
  void RecordCallFailure(absl::Time now, const std::string& error);

  // In rotation for EVENTUAL reads: not ejected, and (once checked) lag
  // known and within max_eventual_lag.
  bool EligibleForEventual(absl::Time now) const;
  // In rotation and provably at most `max_staleness` behind: the measured
  // lag, plus the time since it was measured (the replica may have stalled
  // since), plus the heartbeat interval (writes between two heartbeats are
  // invisible to the measurement) must fit.
  bool EligibleForStaleness(absl::Duration max_staleness, absl::Time now) const;

  ReplicaStatus Snapshot(absl::Time now) const;
  const std::string& name() const { return name_; }

 private:
  void CountFailureLocked(absl::Time now, const std::string& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetStateLocked(ReplicaState state, const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<absl::Duration> LagLocked(absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string name_;
  const HealthPolicy policy_;

  mutable absl::Mutex mu_;
  ReplicaStatus status_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Duration> measured_lag_ ABSL_GUARDED_BY(mu_);
  absl::Time lag_measured_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_HEALTH_REPLICA_HEALTH_H_
