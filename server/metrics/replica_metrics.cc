#include "server/metrics/replica_metrics.h"

#include <limits>
#include <utility>

#include "server/metrics/samples.h"

namespace userservice::metrics {

ReplicaCollector::ReplicaCollector(std::vector<Replica> replicas, Clock clock)
    : replicas_(std::move(replicas)), clock_(std::move(clock)) {}

std::vector<prometheus::MetricFamily> ReplicaCollector::Collect() const {
  using prometheus::MetricType;
  auto state = MakeFamily("userservice_replica_state",
                          "1 for the replica's current health state "
                          "(starting, healthy, ejected), 0 for the others.",
                          MetricType::Gauge);
  auto lag = MakeFamily(
      "userservice_replica_lag_seconds",
      "Replication lag measured by heartbeats (raised to "
      "Seconds_Behind_Master when that is larger); NaN while unknown.",
      MetricType::Gauge);
  auto ejections = MakeFamily("userservice_replica_ejections_total",
                              "Times the replica was taken out of the read "
                              "rotation after repeated failures.",
                              MetricType::Counter);
  const absl::Time now = clock_();
  for (const Replica& replica : replicas_) {
    const ReplicaStatus status = replica.health->Snapshot(now);
    const std::string& e = replica.endpoint;
    for (ReplicaState s : {ReplicaState::kStarting, ReplicaState::kHealthy,
                           ReplicaState::kEjected}) {
      AddSample(&state, {{"endpoint", e}, {"state", ReplicaStateName(s)}},
                status.state == s ? 1 : 0);
    }
    AddSample(&lag, {{"endpoint", e}},
              status.lag.has_value()
                  ? absl::ToDoubleSeconds(*status.lag)
                  : std::numeric_limits<double>::quiet_NaN());
    AddSample(&ejections, {{"endpoint", e}},
              static_cast<double>(status.ejections));
  }
  return {std::move(state), std::move(lag), std::move(ejections)};
}

}  // namespace userservice::metrics
