#ifndef USERSERVICE_SERVER_MYSQL_MYSQL_ENDPOINT_PROBE_H_
#define USERSERVICE_SERVER_MYSQL_MYSQL_ENDPOINT_PROBE_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cppconn/resultset.h"
#include "server/health/applied_position.h"
#include "server/health/health_checker.h"
#include "server/mysql/dedicated_connection.h"
#include "server/mysql/endpoint_liveness.h"
#include "server/mysql/mysql_connection.h"

namespace userservice::mysql {

// Checks one endpoint over its own session (not the endpoint's pool, so a
// saturated pool does not read as a failed endpoint): its server id,
// read_only and GTID position, which of this server's heartbeats it has
// applied, and what SHOW SLAVE STATUS says about its replication (the
// writer election's facts, see server/health/topology.h). Thread-safe
// (checks are serialized).
class MysqlEndpointProbe final : public EndpointProbe {
 public:
  // `writer_id` is the heartbeat row this server writes on the writer
  // (see MysqlHeartbeatSink). Each Observe is bounded by `timeout`.
  // Every check the endpoint answers is recorded in `liveness`, so its
  // slow statements are not taken for hung ones, and the replicated
  // position it has applied (@@gtid_slave_pos) in `applied`. Either may be
  // null; both must outlive the probe.
  MysqlEndpointProbe(Endpoint endpoint, ConnectionSettings settings,
                     std::string writer_id, absl::Duration timeout,
                     EndpointLiveness* liveness = nullptr,
                     AppliedPosition* applied = nullptr);

  // Unreachable (with a short reason that holds no SQL or credentials)
  // when the session fails. SHOW SLAVE STATUS needs the SLAVE MONITOR
  // privilege; without it the replication fields stay unknown (and
  // replication_status_known false), and after a refusal it is retried
  // only every minute. The heartbeat row keeps whole microseconds;
  // applied_heartbeat is the last nanosecond of that microsecond, so it
  // matches the full-precision stamp the LagLedger recorded.
  ProbeResult Observe() override;
  void ResetSession() override;

 private:
  // Fills server_id, read_only and gtid_position; false with `seen->error`
  // set if the endpoint could not be asked.
  bool ReadIdentity(absl::Time deadline, ProbeResult* seen);
  // Tells `applied_` the position in column 4 of the identity row.
  void RecordApplied(sql::ResultSet& identity, int64_t server_id);
  // Fills the heartbeat field; false with `seen->error` set if the replica
  // could not be asked.
  bool ReadHeartbeat(absl::Time deadline, ProbeResult* seen);
  // Fills the replication fields; false with `seen->error` set if the
  // session failed.
  bool ReadReplicationStatus(absl::Time deadline, ProbeResult* seen);

  const std::string writer_id_;
  EndpointLiveness* const liveness_;
  AppliedPosition* const applied_;
  const absl::Duration timeout_;
  DedicatedConnection conn_;

  absl::Mutex mu_;
  // When SHOW SLAVE STATUS may be tried again after a refusal.
  absl::Time status_retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_MYSQL_ENDPOINT_PROBE_H_
