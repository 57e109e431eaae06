#include "server/health/lag_ledger.h"

#include <algorithm>

namespace userservice {

LagLedger::LagLedger(absl::Duration memory) : memory_(memory) {}

void LagLedger::RecordWrite(absl::Time stamp) {
  absl::MutexLock lock(&mu_);
  if (!written_.empty() && stamp <= written_.back()) return;  // clock step
  written_.push_back(stamp);
  while (written_.size() > 1 && written_.front() < stamp - memory_) {
    written_.pop_front();
  }
}

std::optional<absl::Duration> LagLedger::LagAt(
    std::optional<absl::Time> applied_stamp, absl::Time observed_at) const {
  absl::MutexLock lock(&mu_);
  if (written_.empty()) return std::nullopt;
  // The first stamp written after the applied one is the oldest write the
  // replica is missing.
  auto first_missing = written_.begin();
  if (applied_stamp.has_value()) {
    first_missing =
        std::upper_bound(written_.begin(), written_.end(), *applied_stamp);
  }
  if (first_missing == written_.end()) return absl::ZeroDuration();
  return std::max(absl::ZeroDuration(), observed_at - *first_missing);
}

std::optional<absl::Time> LagLedger::Newest() const {
  absl::MutexLock lock(&mu_);
  if (written_.empty()) return std::nullopt;
  return written_.back();
}

}  // namespace userservice
