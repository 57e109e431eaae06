#include "server/health/health_checker.h"

#include <utility>

#include "absl/time/clock.h"
#include "server/common/log.h"

namespace userservice {

void PrimaryHealth::Record(const absl::Status& status) {
  const bool was = writable_.exchange(status.ok());
  absl::MutexLock lock(&mu_);
  last_error_ = std::string(status.message());
  if (was != status.ok()) {
    log::Write(status.ok() ? log::Level::kInfo : log::Level::kWarning,
               "primary state changed",
               {{"endpoint", "primary"},
                {"to", status.ok() ? "writable" : "unavailable"},
                {"reason", status.ok() ? "heartbeat written"
                                       : std::string(status.message())}});
  }
}

std::string PrimaryHealth::last_error() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

HealthChecker::HealthChecker(CheckerOptions options, HeartbeatSink* heartbeat,
                             PrimaryHealth* primary, LagLedger* ledger,
                             std::vector<Replica> replicas,
                             std::function<void()> on_change)
    : options_(options),
      heartbeat_(heartbeat),
      primary_(primary),
      ledger_(ledger),
      replicas_(std::move(replicas)),
      on_change_(std::move(on_change)) {}

HealthChecker::~HealthChecker() { Stop(); }

void HealthChecker::Start() {
  threads_.emplace_back(
      [this] { Loop(options_.heartbeat_interval, [this] { BeatOnce(); }); });
  for (size_t i = 0; i < replicas_.size(); ++i) {
    threads_.emplace_back([this, i] {
      Loop(options_.check_interval, [this, i] { CheckOnce(i); });
    });
  }
}

void HealthChecker::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void HealthChecker::Loop(absl::Duration interval,
                         const std::function<void()>& step) {
  // Fixed-rate ticks, so a slow check does not stretch the interval for
  // the next one; a check that overruns its tick starts the next at once.
  absl::Time next = absl::Now();
  while (!stop_.HasBeenNotified()) {
    step();
    next += interval;
    const absl::Time now = absl::Now();
    if (next < now) next = now;
    stop_.WaitForNotificationWithTimeout(next - now);
  }
}

void HealthChecker::BeatOnce() {
  // Whole microseconds: what the heartbeat row stores, so the stamp a
  // replica reports back compares equal to the one recorded here.
  const absl::Time stamp =
      absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  absl::Status status = heartbeat_->Write(stamp);
  if (status.ok()) ledger_->RecordWrite(stamp);
  const bool was = primary_->writable();
  primary_->Record(status);
  if (was != status.ok() && on_change_) on_change_();
}

void HealthChecker::CheckOnce(size_t replica_index) {
  const Replica& replica = replicas_[replica_index];
  const absl::Time start = absl::Now();
  ProbeResult result = replica.probe->Observe();
  const absl::Time end = absl::Now();
  if (result.reachable) {
    // The row was read at some moment during the check: taking the
    // midpoint corrects for the check's own duration to within half of it.
    const absl::Time observed_at = start + (end - start) / 2;
    result.lag = ledger_->LagAt(result.applied_heartbeat, observed_at);
  }
  const ReplicaState before = replica.health->Snapshot(end).state;
  replica.health->RecordProbe(result, end);
  if (replica.health->Snapshot(end).state != before && on_change_) {
    on_change_();
  }
}

}  // namespace userservice
