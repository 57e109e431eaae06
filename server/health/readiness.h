#ifndef USERSERVICE_SERVER_HEALTH_READINESS_H_
#define USERSERVICE_SERVER_HEALTH_READINESS_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "server/health/health_checker.h"
#include "server/health/replica_health.h"
#include "server/health/topology.h"

namespace userservice {

// Whether the server is useful: writes can succeed (the elected writer took
// the latest heartbeat) or at least one replica can serve eventual reads. A
// server that is neither should get no traffic, but stays alive: the
// database may come back.
class Readiness {
 public:
  // `publish` is told the result of every Update (e.g. to set the gRPC
  // health status); `name` is logged when readiness changes. The health
  // objects must outlive this one.
  // `healths` has one entry per endpoint of `topology`, in its order.
  Readiness(std::string name, const PrimaryHealth* primary,
            const Topology* topology, std::vector<const ReplicaHealth*> healths,
            std::function<void(bool ready)> publish);

  // Recomputes readiness from the health objects (the health checker calls
  // it after every round).
  void Update();
  bool ready() const { return ready_.load(); }

 private:
  const std::string name_;
  const PrimaryHealth* const primary_;
  const Topology* const topology_;
  const std::vector<const ReplicaHealth*> healths_;
  const std::function<void(bool)> publish_;
  // Ready until a check says otherwise, so a starting server is not turned
  // away before its first round.
  std::atomic<bool> ready_{true};
  // Whether a check has found a working path since the start: until then,
  // not being ready is the start-up, not an outage.
  std::atomic<bool> ever_ready_{false};
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_HEALTH_READINESS_H_
