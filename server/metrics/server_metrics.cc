#include "server/metrics/server_metrics.h"

#include <utility>

#include "server/metrics/process_metrics.h"

namespace userservice::metrics {
namespace {

std::vector<std::string> AllEndpoints(
    const std::string& primary, const std::vector<std::string>& replicas) {
  std::vector<std::string> all = {primary};
  all.insert(all.end(), replicas.begin(), replicas.end());
  return all;
}

}  // namespace

ServerMetrics::ServerMetrics(const std::string& primary,
                             const std::vector<std::string>& replicas,
                             const std::vector<std::string>& rpc_methods)
    : registry_(std::make_shared<prometheus::Registry>()),
      rpcs_(*registry_, rpc_methods),
      routing_(*registry_, primary, replicas),
      creates_(*registry_),
      pool_waits_(*registry_, AllEndpoints(primary, replicas)) {}

absl::StatusOr<std::unique_ptr<MetricsServer>> ServerMetrics::Serve(
    const std::string& address, std::vector<PoolStatsCollector::Pool> pools,
    std::vector<ReplicaCollector::Replica> replicas) {
  return MetricsServer::Start(
      address,
      {registry_, std::make_shared<PoolStatsCollector>(std::move(pools)),
       std::make_shared<ReplicaCollector>(std::move(replicas)),
       std::make_shared<ProcessCollector>()});
}

}  // namespace userservice::metrics
