#include "server/health/replica_health.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace userservice {

const char* ReplicaStateName(ReplicaState state) {
  switch (state) {
    case ReplicaState::kStarting:
      return "starting";
    case ReplicaState::kHealthy:
      return "healthy";
    case ReplicaState::kEjected:
      return "ejected";
  }
  return "unknown";
}

ReplicaHealth::ReplicaHealth(std::string name, HealthPolicy policy)
    : name_(std::move(name)), policy_(policy) {}

void ReplicaHealth::RecordProbe(const ProbeResult& result, absl::Time now) {
  absl::MutexLock lock(&mu_);
  status_.replication_status_known = result.replication_status_known;
  status_.io_running = result.io_running;
  status_.sql_running = result.sql_running;
  if (!result.reachable) {
    measured_lag_.reset();
    CountFailureLocked(now, result.error);
    return;
  }
  std::optional<absl::Duration> lag = result.lag;
  if (lag.has_value() && result.seconds_behind_master.has_value()) {
    lag = std::max(*lag, absl::Seconds(*result.seconds_behind_master));
  }
  measured_lag_ = lag;
  lag_measured_at_ = now;
  status_.consecutive_failures = 0;
  ++status_.consecutive_successes;
  switch (status_.state) {
    case ReplicaState::kStarting:
      SetStateLocked(ReplicaState::kHealthy, "first check passed");
      break;
    case ReplicaState::kEjected:
      if (status_.consecutive_successes >= policy_.readmit_after_successes) {
        SetStateLocked(ReplicaState::kHealthy,
                       absl::StrCat("passed ", status_.consecutive_successes,
                                    " checks in a row"));
      }
      break;
    case ReplicaState::kHealthy:
      break;
  }
}

void ReplicaHealth::RecordCallFailure(absl::Time now,
                                      const std::string& error) {
  absl::MutexLock lock(&mu_);
  CountFailureLocked(now, error);
}

void ReplicaHealth::CountFailureLocked(absl::Time now,
                                       const std::string& error) {
  status_.consecutive_successes = 0;
  ++status_.consecutive_failures;
  if (status_.state != ReplicaState::kEjected &&
      status_.consecutive_failures >= policy_.eject_after_failures) {
    SetStateLocked(ReplicaState::kEjected,
                   absl::StrCat(status_.consecutive_failures,
                                " consecutive failures, last: ", error));
  }
}

void ReplicaHealth::SetStateLocked(ReplicaState state,
                                   const std::string& reason) {
  if (status_.state == state) return;
  const ReplicaState old = status_.state;
  status_.state = state;
  status_.reason = reason;
  if (state == ReplicaState::kEjected) ++status_.ejections;
  // Each transition is logged once, where it happens.
  log::Write(state == ReplicaState::kEjected ? log::Level::kWarning
                                             : log::Level::kInfo,
             "replica state changed",
             {{"endpoint", name_},
              {"from", ReplicaStateName(old)},
              {"to", ReplicaStateName(state)},
              {"reason", reason}});
}

std::optional<absl::Duration> ReplicaHealth::LagLocked(absl::Time now) const {
  if (!measured_lag_.has_value() ||
      now - lag_measured_at_ > policy_.lag_valid_for) {
    return std::nullopt;
  }
  return *measured_lag_;
}

bool ReplicaHealth::EligibleForEventual(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  switch (status_.state) {
    case ReplicaState::kEjected:
      return false;
    case ReplicaState::kStarting:
      // Until the first check, reads are not held back from a replica that
      // has given no reason for it.
      return true;
    case ReplicaState::kHealthy: {
      std::optional<absl::Duration> lag = LagLocked(now);
      return lag.has_value() && *lag <= policy_.max_eventual_lag;
    }
  }
  return false;
}

bool ReplicaHealth::EligibleForStaleness(absl::Duration max_staleness,
                                         absl::Time now) const {
  absl::MutexLock lock(&mu_);
  if (status_.state != ReplicaState::kHealthy) return false;
  std::optional<absl::Duration> lag = LagLocked(now);
  if (!lag.has_value()) return false;
  const absl::Duration bound =
      *lag + (now - lag_measured_at_) + policy_.heartbeat_interval;
  return bound <= max_staleness;
}

ReplicaStatus ReplicaHealth::Snapshot(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  ReplicaStatus status = status_;
  status.lag = LagLocked(now);
  return status;
}

}  // namespace userservice
