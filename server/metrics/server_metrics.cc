#include "server/metrics/server_metrics.h"

#include <utility>

#include "server/metrics/process_metrics.h"
#include "server/metrics/topology_metrics.h"

namespace userservice::metrics {
ServerMetrics::ServerMetrics(const std::vector<std::string>& endpoints,
                             const std::vector<std::string>& rpc_methods)
    : registry_(std::make_shared<prometheus::Registry>()),
      rpcs_(*registry_, rpc_methods),
      routing_(*registry_, endpoints),
      creates_(*registry_),
      pool_waits_(*registry_, endpoints) {}

absl::StatusOr<std::unique_ptr<MetricsServer>> ServerMetrics::Serve(
    const std::string& address, std::vector<PoolStatsCollector::Pool> pools,
    std::vector<ReplicaCollector::Replica> replicas, const Topology* topology,
    const WriteRouter* writes) {
  return MetricsServer::Start(
      address,
      {registry_, std::make_shared<PoolStatsCollector>(std::move(pools)),
       std::make_shared<ReplicaCollector>(std::move(replicas)),
       std::make_shared<TopologyCollector>(topology, writes),
       std::make_shared<ProcessCollector>()});
}

}  // namespace userservice::metrics
