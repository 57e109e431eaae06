#include "server/mysql/mysql_heartbeat.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cppconn/prepared_statement.h"
#include "cppconn/resultset.h"
#include "server/common/log.h"

namespace userservice::mysql {
namespace {

// The width of heartbeat.writer (migration 2).
constexpr size_t kMaxWriterIdLength = 64;

constexpr char kUpsert[] =
    "INSERT INTO heartbeat (writer, stamp_us, updated_at) "
    "VALUES (?, ?, NOW(6)) "
    "ON DUPLICATE KEY UPDATE stamp_us = VALUES(stamp_us), "
    "updated_at = VALUES(updated_at)";
constexpr char kReadOnly[] = "SELECT @@global.read_only";
// updated_at is the primary's clock, like NOW(6): no skew involved.
constexpr char kPrune[] =
    "DELETE FROM heartbeat WHERE updated_at < NOW(6) - INTERVAL 1 DAY";

constexpr absl::Duration kPruneEvery = absl::Hours(1);

}  // namespace

MysqlHeartbeatSink::MysqlHeartbeatSink(Endpoint primary,
                                       ConnectionSettings settings,
                                       std::string writer_id,
                                       absl::Duration timeout,
                                       PrimaryDemotion* demotion)
    : writer_id_(std::move(writer_id)),
      timeout_(timeout),
      demotion_(demotion),
      conn_(std::move(primary), std::move(settings), timeout) {}

absl::Status MysqlHeartbeatSink::Write(absl::Time stamp) {
  if (writer_id_.empty() || writer_id_.size() > kMaxWriterIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("heartbeat writer id must be 1 to ", kMaxWriterIdLength,
                     " bytes long, not ", writer_id_.size()));
  }
  const absl::Time deadline = absl::Now() + timeout_;
  absl::Status status = conn_.Run(deadline, [&](MysqlConnection& conn) {
    sql::PreparedStatement& upsert = conn.Prepare(kUpsert);
    upsert.setString(1, writer_id_);
    upsert.setInt64(2, absl::ToUnixMicros(stamp));
    upsert.executeUpdate();
    return absl::OkStatus();
  });
  if (status.ok()) {
    PruneIfDue();
    return status;
  }
  // RunSql reports a read-only server and a lost one alike as UNAVAILABLE;
  // asking the server tells a demotion apart.
  if (conn_.connected() && PrimaryIsReadOnly(deadline)) {
    // Our own session goes too: it may point at the demoted server by a
    // host name that now resolves to the new primary.
    conn_.Reset();
    if (demotion_ != nullptr) demotion_->WriteRefused();
    return absl::UnavailableError(absl::StrCat(
        "primary is read-only, heartbeat not written: ", status.message()));
  }
  if (!conn_.connected() || absl::IsDeadlineExceeded(status) ||
      absl::IsUnavailable(status)) {
    return absl::UnavailableError(absl::StrCat(
        "primary unreachable, heartbeat not written: ", status.message()));
  }
  return absl::Status(
      status.code(), absl::StrCat("heartbeat not written: ", status.message()));
}

bool MysqlHeartbeatSink::PrimaryIsReadOnly(absl::Time deadline) {
  bool read_only = false;
  conn_
      .Run(deadline,
           [&](MysqlConnection& conn) {
             std::unique_ptr<sql::ResultSet> rs(
                 conn.Prepare(kReadOnly).executeQuery());
             read_only = rs->next() && !rs->isNull(1) && rs->getInt(1) != 0;
             return absl::OkStatus();
           })
      .IgnoreError();  // unknown: the caller reports the write's own error
  return read_only;
}

void MysqlHeartbeatSink::PruneIfDue() {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&prune_mu_);
    if (now < next_prune_) return;
    // Also after a failed attempt: a failing prune is retried in an hour,
    // not on every heartbeat.
    next_prune_ = now + kPruneEvery;
  }
  int deleted = 0;
  absl::Status status = conn_.Run(now + timeout_, [&](MysqlConnection& conn) {
    deleted = conn.Prepare(kPrune).executeUpdate();
    return absl::OkStatus();
  });
  if (!status.ok()) {
    log::Warning("could not delete stale heartbeat rows",
                 {{"endpoint", conn_.endpoint().name},
                  {"reason", std::string(status.message())}});
  } else if (deleted > 0) {
    log::Info(
        "deleted heartbeat rows of writers silent for a day",
        {{"endpoint", conn_.endpoint().name}, {"rows", absl::StrCat(deleted)}});
  }
}

}  // namespace userservice::mysql
