#include "client/bench/direct_load.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/bench/db_session.h"
#include "client/bench/load_plan.h"
#include "client/bench/names.h"
#include "mysql_driver.h"

namespace userbench {
namespace {

// The service's default wait for a replica in a session read
// (--session-wait).
constexpr absl::Duration kSessionWait = absl::Milliseconds(100);

}  // namespace

DirectLoad::DirectLoad(const BenchConfig& config, const DbLogin& login,
                       const std::vector<uint64_t>& ids, Recorder* recorder)
    : config_(config),
      login_(login),
      ids_(ids),
      recorder_(recorder),
      mix_(config.seed, config.workload.read_percent, ids.size()),
      names_(config.prefix, WriteNames::RandomRunTag()) {}

DirectLoad::~DirectLoad() = default;

bool DirectLoad::ReadsOnPrimary() const {
  return config_.db.replicas.empty() ||
         config_.consistency.level == ReadConsistency::Level::kStrong;
}

bool DirectLoad::NeedsPrimary() const {
  // Session reads fall back to the primary when the replica lags.
  return config_.writes() || (config_.reads() && ReadsOnPrimary()) ||
         (config_.reads() &&
          config_.consistency.level == ReadConsistency::Level::kSession);
}

absl::Status DirectLoad::Connect() {
  workers_.resize(config_.concurrency);
  for (size_t w = 0; w < workers_.size(); ++w) {
    Worker& worker = workers_[w];
    worker.read_endpoint =
        ReadsOnPrimary() ? config_.db.primary
                         : config_.db.replicas[w % config_.db.replicas.size()];
    if (config_.reads() && !ReadsOnPrimary()) {
      absl::StatusOr<std::unique_ptr<DbSession>> session =
          DbSession::Open(worker.read_endpoint, login_, config_.timeout);
      if (!session.ok()) return session.status();
      worker.reads = *std::move(session);
    }
    if (NeedsPrimary()) {
      absl::StatusOr<std::unique_ptr<DbSession>> session =
          DbSession::Open(config_.db.primary, login_, config_.timeout);
      if (!session.ok()) return session.status();
      worker.primary = *std::move(session);
    }
  }
  return absl::OkStatus();
}

void DirectLoad::Run(const RunWindow& window) {
  window_ = window;
  std::vector<std::thread> threads;
  threads.reserve(workers_.size());
  for (Worker& worker : workers_) {
    threads.emplace_back([this, &worker]() {
      // Connector/C++ wants each thread that uses it registered.
      sql::mysql::MySQL_Driver* driver =
          sql::mysql::get_mysql_driver_instance();
      driver->threadInit();
      Work(worker);
      driver->threadEnd();
    });
  }
  for (std::thread& thread : threads) thread.join();
}

void DirectLoad::Work(Worker& worker) {
  const ArrivalSchedule schedule(window_.start_ns,
                                 config_.open_loop() ? config_.rate : 1);
  while (true) {
    const uint64_t seq = next_seq_.fetch_add(1);
    int64_t intended = NowNanos();
    if (config_.open_loop()) {
      // Calls are handed out in schedule order to whichever worker is
      // free: the workers are the in-flight limit.
      intended = schedule.DueAt(seq);
      if (intended >= window_.end_ns) break;
      const int64_t now = NowNanos();
      if (intended > now) absl::SleepFor(absl::Nanoseconds(intended - now));
    } else if (intended >= window_.end_ns) {
      break;
    }
    const Op op = mix_.ForCall(seq);
    const int64_t sent = NowNanos();
    std::string error = Execute(worker, op, seq);
    const int64_t done = NowNanos();
    // A gRPC call this slow would have hit its deadline.
    if (error.empty() &&
        done - sent > absl::ToInt64Nanoseconds(config_.timeout)) {
      error = "DEADLINE_EXCEEDED";
    }
    if (window_.Measured(intended)) {
      recorder_->Record(op.kind, done - intended, error,
                        config_.open_loop() && sent - intended > kLateAfterNs);
    }
    if (!Repair(worker)) {
      // The database is down: do not spin on failing connects.
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
}

std::string DirectLoad::LatestGtid() {
  absl::MutexLock lock(&gtid_mu_);
  return latest_gtid_;
}

std::string DirectLoad::Execute(Worker& worker, const Op& op, uint64_t seq) {
  if (op.kind == OpKind::kWrite) {
    if (worker.primary == nullptr) return "UNAVAILABLE";
    const std::string username = names_.Username(seq);
    std::string gtid;
    std::string error =
        worker.primary->RunInsertUser(username, BenchEmail(username), &gtid);
    if (error.empty() && !gtid.empty()) {
      absl::MutexLock lock(&gtid_mu_);
      latest_gtid_ = gtid;
    }
    return error;
  }
  if (config_.batch()) {
    mix_.BatchRows(seq, config_.workload.batch_size, &worker.batch_rows);
    worker.batch_ids.clear();
    for (size_t row : worker.batch_rows) worker.batch_ids.push_back(ids_[row]);
    return Read(worker, [&worker](DbSession& session) {
      return session.RunSelectUsers(worker.batch_ids);
    });
  }
  const uint64_t id = ids_[op.row];
  return Read(worker,
              [id](DbSession& session) { return session.RunSelectUser(id); });
}

std::string DirectLoad::Read(
    Worker& worker, absl::FunctionRef<std::string(DbSession&)> select) {
  if (ReadsOnPrimary()) {
    if (worker.primary == nullptr) return "UNAVAILABLE";
    return select(*worker.primary);
  }
  if (worker.reads == nullptr) return "UNAVAILABLE";
  if (config_.consistency.level == ReadConsistency::Level::kSession) {
    // What the service does with a token: wait briefly for the replica,
    // else read from the primary.
    const std::string gtid = LatestGtid();
    if (!gtid.empty()) {
      bool applied = false;
      std::string error =
          worker.reads->RunGtidWait(gtid, kSessionWait, &applied);
      if (!error.empty()) return error;
      if (!applied) {
        if (worker.primary == nullptr) return "UNAVAILABLE";
        return select(*worker.primary);
      }
    }
  }
  return select(*worker.reads);
}

bool DirectLoad::Repair(Worker& worker) {
  bool ok = true;
  auto reopen = [&](std::unique_ptr<DbSession>& session,
                    const HostPort& endpoint) {
    if (session != nullptr && !session->broken()) return;
    session.reset();
    absl::StatusOr<std::unique_ptr<DbSession>> fresh =
        DbSession::Open(endpoint, login_, config_.timeout);
    if (fresh.ok()) {
      session = *std::move(fresh);
    } else {
      ok = false;
    }
  };
  if (config_.reads() && !ReadsOnPrimary()) {
    reopen(worker.reads, worker.read_endpoint);
  }
  if (NeedsPrimary()) reopen(worker.primary, config_.db.primary);
  return ok;
}

}  // namespace userbench
