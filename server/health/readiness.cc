#include "server/health/readiness.h"

#include <utility>

#include "absl/time/clock.h"
#include "server/common/log.h"

namespace userservice {

Readiness::Readiness(std::string name, const PrimaryHealth* primary,
                     std::vector<const ReplicaHealth*> replicas,
                     std::function<void(bool ready)> publish)
    : name_(std::move(name)),
      primary_(primary),
      replicas_(std::move(replicas)),
      publish_(std::move(publish)) {}

void Readiness::Update() {
  const absl::Time now = absl::Now();
  bool ready = primary_->writable();
  for (const ReplicaHealth* replica : replicas_) {
    ready = ready || replica->EligibleForEventual(now);
  }
  const bool was = ready_.exchange(ready);
  if (publish_) publish_(ready);
  if (was != ready) {
    log::Write(ready ? log::Level::kInfo : log::Level::kError,
               ready ? "ready: a database path works again"
                     : "not ready: primary unavailable and no replica in "
                       "rotation",
               {{"service", name_}});
  }
}

}  // namespace userservice
