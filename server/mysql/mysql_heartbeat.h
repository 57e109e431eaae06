#ifndef USERSERVICE_SERVER_MYSQL_MYSQL_HEARTBEAT_H_
#define USERSERVICE_SERVER_MYSQL_MYSQL_HEARTBEAT_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/health/health_checker.h"
#include "server/mysql/dedicated_connection.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/primary_demotion.h"

namespace userservice::mysql {

// Writes this server's row of the `heartbeat` table (migration 2) on the
// primary; replicas' copies of the row measure their lag (see
// server/health/lag_ledger.h).
//
// Uses its own session, not one from the primary's pool, so a pool
// saturated by slow calls never stops the heartbeats. Thread-safe (writes
// are serialized).
class MysqlHeartbeatSink final : public HeartbeatSink {
 public:
  // `writer_id` names this server process's row: 1 to 64 bytes (ASCII),
  // unique among the servers sharing the database. Each Write is bounded
  // by `timeout`. A write the primary refused because it is read-only (it
  // was demoted) is reported to `demotion` (on the writing thread), if
  // given; it must outlive the sink.
  MysqlHeartbeatSink(Endpoint primary, ConnectionSettings settings,
                     std::string writer_id, absl::Duration timeout,
                     PrimaryDemotion* demotion);

  // Stores `stamp` (microseconds since the Unix epoch, this server's clock)
  // in the row. OK once committed; UNAVAILABLE when the primary cannot be
  // reached in time or is read-only; INVALID_ARGUMENT for a writer id the
  // column cannot hold. About once an hour it also deletes the rows of
  // writers silent for a day (servers that are gone).
  absl::Status Write(absl::Time stamp) override;

 private:
  // Whether the primary says it is read-only; false if it cannot tell.
  bool PrimaryIsReadOnly(absl::Time deadline);
  void PruneIfDue();

  const std::string writer_id_;
  const absl::Duration timeout_;
  PrimaryDemotion* const demotion_;
  DedicatedConnection conn_;

  absl::Mutex prune_mu_;
  absl::Time next_prune_ ABSL_GUARDED_BY(prune_mu_) = absl::InfinitePast();
};

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_MYSQL_HEARTBEAT_H_
