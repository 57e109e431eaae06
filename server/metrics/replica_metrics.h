#ifndef USERSERVICE_SERVER_METRICS_REPLICA_METRICS_H_
#define USERSERVICE_SERVER_METRICS_REPLICA_METRICS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "server/common/clock.h"
#include "server/health/replica_health.h"

namespace userservice::metrics {

// Each replica's health as the router sees it, read at scrape time:
//   userservice_replica_state{endpoint, state}  1 for the current state
//   userservice_replica_lag_seconds{endpoint}   NaN while lag is unknown
//   userservice_replica_ejections_total{endpoint}
class ReplicaCollector : public prometheus::Collectable {
 public:
  struct Replica {
    std::string endpoint;
    const ReplicaHealth* health;  // must outlive the collector
  };

  explicit ReplicaCollector(std::vector<Replica> replicas,
                            Clock clock = absl::Now);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::vector<Replica> replicas_;
  const Clock clock_;
};

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_REPLICA_METRICS_H_
