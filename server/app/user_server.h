#ifndef USERSERVICE_SERVER_APP_USER_SERVER_H_
#define USERSERVICE_SERVER_APP_USER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/server.h"
#include "server/app/background.h"
#include "server/app/config.h"
#include "server/app/endpoint_set.h"
#include "server/health/health_checker.h"
#include "server/health/lag_ledger.h"
#include "server/health/readiness.h"
#include "server/health/topology.h"
#include "server/metrics/metrics_server.h"
#include "server/metrics/server_metrics.h"
#include "server/routing/read_router.h"
#include "server/routing/write_router.h"
#include "server/service/admin_service_impl.h"
#include "server/service/call_dispatcher.h"
#include "server/service/health_service.h"
#include "server/service/unparseable_request.h"
#include "server/service/user_service_impl.h"

namespace userservice {

// Applies pending schema migrations to the writer: the endpoint that is
// writable and replicates from nobody (elected as the running server does),
// retrying while there is none (it may still be starting, e.g. in a
// Kubernetes rollout, or a failover is under way) until the configured
// timeout.
absl::Status MigrateSchema(const ServerConfig& config);

// The whole server: database endpoints, health checking, routing, the gRPC
// services and the listeners.
//
// The members are declared in dependency order: each uses only those above
// it, except that the topology asks the health checker for re-checks (a
// call into it only ever comes from a call being served or from the checker
// itself). They are built in that order, and destroyed in the reverse one,
// which is the shutdown order: background work stops first, then the call
// dispatcher (after answering what it holds), the gRPC server, the health
// checker, the services, the routers, and last the pools.
class UserServer {
 public:
  explicit UserServer(const ServerConfig& config);
  ~UserServer();

  UserServer(const UserServer&) = delete;
  UserServer& operator=(const UserServer&) = delete;

  // Starts the listeners, the call dispatcher, health checks and background
  // work, then logs the "serving" line. Fails (and logs why) when a
  // listener cannot start.
  absl::Status Start();
  // Returns once Shutdown has stopped the gRPC server.
  void Wait();
  // Readiness goes NOT_SERVING first (for probes and load balancers), then
  // calls in flight get the grace period before they are cancelled.
  // `reason` (e.g. the signal) is logged. From any thread.
  void Shutdown(const std::string& reason);
  // Checks the TLS files again and logs whether the next refresh will take.
  void RecheckTls() const;

 private:
  std::unique_ptr<grpc::Server> BuildGrpcServer(int* port);
  absl::Status StartMetrics();
  ServerSnapshot Snapshot() const;
  void LogServing(int port) const;
  // Counts requests that do not parse, when metrics are on.
  UnparseableRequestObserver UnparseableObserver() const;

  const ServerConfig config_;
  const std::string writer_id_;
  const std::unique_ptr<metrics::ServerMetrics> metrics_;  // null: off
  PrimaryHealth primary_health_;
  EndpointSet endpoints_;
  Topology topology_;
  ReadRouter router_;
  WriteRouter write_router_;
  UserServiceImpl user_service_;
  HealthService health_service_;
  Readiness readiness_;
  AdminServiceImpl admin_service_;
  LagLedger ledger_;
  // Re-checks the topology when a call asks (through topology_), so it
  // outlives everything that serves calls.
  HealthChecker checker_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
  std::unique_ptr<grpc::Server> grpc_server_;
  CompletionQueueDispatcher dispatcher_;
  std::unique_ptr<Background> background_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_USER_SERVER_H_
