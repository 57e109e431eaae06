#include "server/health/readiness.h"

#include <utility>

#include "absl/time/clock.h"
#include "server/common/log.h"

namespace userservice {

Readiness::Readiness(std::string name, const PrimaryHealth* primary,
                     const Topology* topology,
                     std::vector<const ReplicaHealth*> healths,
                     std::function<void(bool ready)> publish)
    : name_(std::move(name)),
      primary_(primary),
      topology_(topology),
      healths_(std::move(healths)),
      publish_(std::move(publish)) {}

void Readiness::Update() {
  const absl::Time now = absl::Now();
  bool ready = primary_->writable();
  for (size_t i = 0; i < healths_.size() && !ready; ++i) {
    ready = topology_->role(i) == EndpointRole::kReplica &&
            healths_[i]->EligibleForEventual(now);
  }
  const bool was = ready_.exchange(ready);
  const bool starting = !ever_ready_.load();
  if (ready) ever_ready_.store(true);
  if (publish_) publish_(ready);
  if (was == ready) return;
  if (ready) {
    log::Info(starting ? "ready" : "ready: a database path works again",
              {{"service", name_}});
  } else {
    // An error once a path has worked: it is an outage then.
    log::Write(starting ? log::Level::kInfo : log::Level::kError,
               starting ? "not ready yet: waiting for a writer's heartbeat "
                          "or a replica in rotation"
                        : "not ready: no writer took a heartbeat and no "
                          "replica is in rotation",
               {{"service", name_}});
  }
}

}  // namespace userservice
