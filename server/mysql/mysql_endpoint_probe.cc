#include "server/mysql/mysql_endpoint_probe.h"

#include <memory>
#include <utility>

#include "absl/time/clock.h"
#include "cppconn/prepared_statement.h"
#include "cppconn/resultset.h"
#include "server/common/log.h"

namespace userservice::mysql {
namespace {

constexpr char kSelectStamp[] =
    "SELECT stamp_us FROM heartbeat WHERE writer = ?";
constexpr char kSlaveStatus[] = "SHOW SLAVE STATUS";
constexpr char kIdentity[] =
    "SELECT @@server_id, @@global.read_only, @@global.gtid_current_pos, "
    "@@global.gtid_slave_pos";

// A refused SHOW SLAVE STATUS is a missing grant, which does not fix itself
// within seconds; retrying it on every check would only repeat the error
// (and its log line).
constexpr absl::Duration kStatusRetryAfterRefusal = absl::Seconds(60);

// The row keeps whole microseconds, but the stamp the ledger remembers may
// carry nanoseconds: the stamp written was somewhere in that microsecond.
// Its last nanosecond compares equal-or-later to it and earlier than the
// next heartbeat (milliseconds later), so the ledger finds the heartbeat
// applied; the first nanosecond would read as one heartbeat behind.
absl::Time AppliedStamp(int64_t stamp_us) {
  return absl::FromUnixMicros(stamp_us) + absl::Microseconds(1) -
         absl::Nanoseconds(1);
}

}  // namespace

MysqlEndpointProbe::MysqlEndpointProbe(Endpoint endpoint,
                                       ConnectionSettings settings,
                                       std::string writer_id,
                                       absl::Duration timeout,
                                       EndpointLiveness* liveness,
                                       AppliedPosition* applied)
    : writer_id_(std::move(writer_id)),
      liveness_(liveness),
      applied_(applied),
      timeout_(timeout),
      conn_(std::move(endpoint), std::move(settings), timeout) {}

ProbeResult MysqlEndpointProbe::Observe() {
  const absl::Time deadline = absl::Now() + timeout_;
  ProbeResult seen;
  if (!ReadIdentity(deadline, &seen)) {
    if (applied_ != nullptr) applied_->Forget();
    return seen;
  }
  if (liveness_ != nullptr) liveness_->RecordAnswer(absl::Now());
  if (!ReadHeartbeat(deadline, &seen)) return seen;
  seen.reachable = true;
  if (!ReadReplicationStatus(deadline, &seen)) {
    seen.reachable = false;
    seen.applied_heartbeat.reset();
  }
  return seen;
}

void MysqlEndpointProbe::ResetSession() { conn_.Reset(); }

void MysqlEndpointProbe::RecordApplied(sql::ResultSet& identity,
                                       int64_t server_id) {
  absl::StatusOr<ReplicationPosition> applied =
      identity.isNull(4)
          ? ReplicationPosition()
          : ReplicationPosition::Parse(std::string(identity.getString(4)));
  if (applied.ok() && server_id != 0) {
    applied_->Observe(server_id, *std::move(applied));
  } else {
    applied_->Forget();
  }
}

bool MysqlEndpointProbe::ReadIdentity(absl::Time deadline, ProbeResult* seen) {
  absl::Status status = conn_.Run(deadline, [&](MysqlConnection& conn) {
    std::unique_ptr<sql::ResultSet> rs(conn.Prepare(kIdentity).executeQuery());
    if (rs->next()) {
      seen->server_id = rs->isNull(1) ? 0 : rs->getInt64(1);
      seen->read_only = rs->isNull(2) || rs->getInt(2) != 0;
      seen->gtid_position = rs->isNull(3) ? "" : std::string(rs->getString(3));
      if (applied_ != nullptr) RecordApplied(*rs, seen->server_id);
    }
    return absl::OkStatus();
  });
  if (status.ok()) return true;
  seen->error = std::string(status.message());
  return false;
}

bool MysqlEndpointProbe::ReadHeartbeat(absl::Time deadline, ProbeResult* seen) {
  absl::Status status = conn_.Run(deadline, [&](MysqlConnection& conn) {
    sql::PreparedStatement& select = conn.Prepare(kSelectStamp);
    select.setString(1, writer_id_);
    std::unique_ptr<sql::ResultSet> rs(select.executeQuery());
    if (rs->next() && !rs->isNull(1)) {
      seen->applied_heartbeat = AppliedStamp(rs->getInt64(1));
    }
    return absl::OkStatus();
  });
  if (status.ok()) return true;
  // A replica that has not applied migration 2 yet has no heartbeat table:
  // it answers, and it has applied none of our heartbeats.
  if (conn_.connected() && absl::IsFailedPrecondition(status)) return true;
  seen->error = std::string(status.message());
  return false;
}

bool MysqlEndpointProbe::ReadReplicationStatus(absl::Time deadline,
                                               ProbeResult* seen) {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    if (now < status_retry_at_) return true;
  }
  absl::Status status = conn_.Run(deadline, [&](MysqlConnection& conn) {
    std::unique_ptr<sql::ResultSet> rs(
        conn.Prepare(kSlaveStatus).executeQuery());
    seen->replication_status_known = true;
    // No row: replication is not configured here (not a replica).
    if (!rs->next()) return absl::OkStatus();
    seen->replication_configured = true;
    const std::string io = rs->getString("Slave_IO_Running");
    seen->io_running = io == "Yes";
    seen->io_connecting = io == "Connecting";
    seen->sql_running = rs->getString("Slave_SQL_Running") == "Yes";
    seen->source_server_id = rs->getInt64("Master_Server_Id");
    seen->last_io_errno = rs->getInt("Last_IO_Errno");
    seen->last_sql_errno = rs->getInt("Last_SQL_Errno");
    // NULL while a thread is stopped: unknown, which is not "0 behind".
    if (!rs->isNull("Seconds_Behind_Master")) {
      seen->seconds_behind_master = rs->getInt64("Seconds_Behind_Master");
    }
    seen->replication_status_known = true;
    return absl::OkStatus();
  });
  if (status.ok()) return true;
  seen->replication_status_known = false;
  seen->replication_configured = false;
  seen->io_connecting = false;
  seen->io_running = false;
  seen->sql_running = false;
  seen->seconds_behind_master.reset();
  if (!conn_.connected()) {
    seen->error = std::string(status.message());
    return false;
  }
  // A statement stopped at the check's deadline says nothing about the
  // grant; anything else on a live session is a refusal (no SLAVE MONITOR
  // privilege) or an equally lasting condition.
  if (!absl::IsDeadlineExceeded(status)) {
    {
      absl::MutexLock lock(&mu_);
      status_retry_at_ = now + kStatusRetryAfterRefusal;
    }
    log::Warning(
        "SHOW SLAVE STATUS failed; replication thread state unknown (grant "
        "the service's user SLAVE MONITOR); retrying in a minute",
        {{"endpoint", conn_.endpoint().name},
         {"reason", std::string(status.message())}});
  }
  return true;
}

}  // namespace userservice::mysql
