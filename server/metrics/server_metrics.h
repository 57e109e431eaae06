#ifndef USERSERVICE_SERVER_METRICS_SERVER_METRICS_H_
#define USERSERVICE_SERVER_METRICS_SERVER_METRICS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/registry.h"
#include "server/metrics/create_metrics.h"
#include "server/metrics/grpc_server_metrics.h"
#include "server/metrics/metrics_server.h"
#include "server/metrics/pool_metrics.h"
#include "server/metrics/replica_metrics.h"
#include "server/metrics/routing_metrics.h"
#include "server/metrics/topology_metrics.h"
#include "server/pool/pool_observer.h"
#include "server/routing/routing_observer.h"

namespace userservice::metrics {

// Every metric of one user_server, and the hooks that feed them: hand
// routing() to the ReadRouter, creates() to the UserServiceImpl,
// pool_observer() to each pool and InterceptorFactory() to the gRPC server,
// then Serve(). Must outlive all of them.
class ServerMetrics {
 public:
  // Endpoint names as in x-served-by; `rpc_methods` as "/pkg.Service/Method".
  ServerMetrics(const std::vector<std::string>& endpoints,
                const std::vector<std::string>& rpc_methods);

  RoutingObserver* routing() { return &routing_; }
  CreateObserver* creates() { return &creates_; }
  PoolObserver* pool_observer(const std::string& endpoint) {
    return pool_waits_.ObserverFor(endpoint);
  }
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory() {
    return rpcs_.InterceptorFactory();
  }
  // For the service's UnparseableRequestObserver.
  void CountUnparseable(const std::string& method) const {
    rpcs_.CountUnparseable(method);
  }

  // Starts serving /metrics on `address`: these metrics, the pools',
  // endpoints' and topology's state read at each scrape, and the process_*
  // metrics. What they read must outlive the returned server.
  absl::StatusOr<std::unique_ptr<MetricsServer>> Serve(
      const std::string& address, std::vector<PoolStatsCollector::Pool> pools,
      std::vector<ReplicaCollector::Replica> replicas, const Topology* topology,
      const WriteRouter* writes);

 private:
  const std::shared_ptr<prometheus::Registry> registry_;
  GrpcServerMetrics rpcs_;
  RoutingMetrics routing_;
  CreateMetrics creates_;
  PoolWaitMetrics pool_waits_;
};

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_SERVER_METRICS_H_
