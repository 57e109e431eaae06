#include "server/health/health_checker.h"

#include <algorithm>
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
               {{"to", status.ok() ? "writable" : "unavailable"},
                {"reason", status.ok() ? "heartbeat written"
                                       : std::string(status.message())}});
  }
}

std::string PrimaryHealth::last_error() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

HealthChecker::HealthChecker(CheckerOptions options, Topology* topology,
                             PrimaryHealth* primary, LagLedger* ledger,
                             std::vector<Endpoint> endpoints,
                             std::function<void()> on_change)
    : options_(options),
      topology_(topology),
      primary_(primary),
      ledger_(ledger),
      endpoints_(std::move(endpoints)),
      on_change_(std::move(on_change)) {}

HealthChecker::~HealthChecker() { Stop(); }

void HealthChecker::Start() {
  threads_.emplace_back([this] { HeartbeatLoop(); });
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    threads_.emplace_back([this, i] { CheckLoop(i); });
  }
}

void HealthChecker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void HealthChecker::RequestRecheck() {
  absl::MutexLock lock(&mu_);
  ++recheck_requests_;
}

uint64_t HealthChecker::WaitUntil(absl::Time until, uint64_t seen) {
  absl::MutexLock lock(&mu_);
  auto woken = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || recheck_requests_ != seen;
  };
  mu_.AwaitWithDeadline(absl::Condition(&woken), until);
  return stopping_ ? ~uint64_t{0} : recheck_requests_;
}

void HealthChecker::HeartbeatLoop() {
  // Fixed-rate ticks, so a slow write does not stretch the interval for
  // the next one; one that overruns its tick starts the next at once.
  absl::Time next = absl::Now();
  uint64_t seen = WaitUntil(absl::InfinitePast(), 0);
  while (seen != ~uint64_t{0}) {
    BeatOnce();
    next = std::max(next + options_.heartbeat_interval, absl::Now());
    // Recheck requests do not concern the heartbeat: wait them out.
    do {
      seen = WaitUntil(next, seen);
    } while (seen != ~uint64_t{0} && absl::Now() < next);
  }
}

void HealthChecker::CheckLoop(size_t endpoint) {
  absl::Time next = absl::Now();
  uint64_t seen = WaitUntil(absl::InfinitePast(), 0);
  bool fresh_session = false;
  while (seen != ~uint64_t{0}) {
    if (fresh_session) endpoints_[endpoint].probe->ResetSession();
    CheckOnce(endpoint);
    const absl::Duration interval =
        topology_->writer() < 0
            ? std::min(options_.check_interval, kWriterlessCheckInterval)
            : options_.check_interval;
    next = std::max(next + interval, absl::Now());
    const uint64_t woken = WaitUntil(next, seen);
    fresh_session = woken != seen;
    // A request during the wait moves the next regular check to now.
    if (fresh_session) next = absl::Now();
    seen = woken;
  }
}

void HealthChecker::BeatOnce() {
  const int writer = topology_->writer();
  const bool was = primary_->writable();
  if (writer < 0) {
    primary_->Record(absl::UnavailableError("no writer is elected"));
  } else {
    // Whole microseconds: what the heartbeat row stores, so the stamp a
    // replica reports back compares equal to the one recorded here.
    const absl::Time stamp =
        absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
    absl::Status status = endpoints_[writer].heartbeat->Write(stamp);
    if (status.ok()) ledger_->RecordWrite(stamp);
    if (absl::IsUnavailable(status)) {
      topology_->WriterFailed(writer, status.message());
    }
    primary_->Record(status);
  }
  if (was != primary_->writable() && on_change_) on_change_();
}

void HealthChecker::CheckOnce(size_t endpoint) {
  const Endpoint& e = endpoints_[endpoint];
  const absl::Time start = absl::Now();
  ProbeResult result = e.probe->Observe();
  const absl::Time end = absl::Now();
  if (result.reachable) {
    // The row was read at some moment during the check: taking the
    // midpoint corrects for the check's own duration to within half of it.
    const absl::Time observed_at = start + (end - start) / 2;
    result.lag = ledger_->LagAt(result.applied_heartbeat, observed_at);
  }
  e.health->RecordProbe(result, end);
  topology_->Record(endpoint, result);
  if (on_change_) on_change_();
}

}  // namespace userservice
