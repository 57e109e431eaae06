#ifndef USERSERVICE_SERVER_APP_ENDPOINT_SET_H_
#define USERSERVICE_SERVER_APP_ENDPOINT_SET_H_

#include <memory>
#include <string>
#include <vector>

#include "server/app/config.h"
#include "server/health/applied_position.h"
#include "server/health/health_checker.h"
#include "server/health/replica_health.h"
#include "server/health/topology.h"
#include "server/metrics/server_metrics.h"
#include "server/mysql/endpoint_liveness.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/mysql_endpoint_probe.h"
#include "server/mysql/mysql_heartbeat.h"
#include "server/mysql/mysql_user_store.h"
#include "server/mysql/primary_demotion.h"
#include "server/mysql/query_killer.h"
#include "server/routing/read_router.h"
#include "server/service/admin_service_impl.h"

namespace userservice {

// One database endpoint and everything the server keeps for it. Any
// endpoint may be elected writer, so each has what a writer needs too.
struct EndpointRuntime {
  mysql::Endpoint endpoint;
  std::unique_ptr<mysql::EndpointLiveness> liveness;
  std::unique_ptr<AppliedPosition> applied;
  std::unique_ptr<mysql::MysqlPool> pool;
  std::unique_ptr<mysql::QueryKiller> killer;
  std::unique_ptr<mysql::PrimaryDemotion> demotion;
  std::unique_ptr<mysql::MysqlUserStore> store;
  std::unique_ptr<ReplicaHealth> health;
  std::unique_ptr<mysql::MysqlEndpointProbe> probe;
  std::unique_ptr<mysql::MysqlHeartbeatSink> heartbeat;
};

// The configured database endpoints, in configuration order (the order of
// the Topology), each with its own pool, query killer, store, health, probe
// and heartbeat sink. Closes the pools when destroyed.
class EndpointSet {
 public:
  // `metrics` (may be null) must outlive the set; `writer_id` names this
  // server's heartbeat row.
  EndpointSet(const ServerConfig& config, const std::string& writer_id,
              metrics::ServerMetrics* metrics);
  ~EndpointSet();

  size_t size() const { return endpoints_.size(); }
  EndpointRuntime& at(size_t i) { return *endpoints_[i]; }
  std::vector<std::string> Names() const;

  // What the routers, the health checker, readiness and metrics are given,
  // one entry per endpoint in order.
  std::vector<NamedReader> Readers() const;
  std::vector<UserWriter*> Writers() const;
  std::vector<HealthChecker::Endpoint> Checked() const;
  std::vector<const ReplicaHealth*> Healths() const;
  std::vector<metrics::PoolStatsCollector::Pool> PoolStats() const;
  std::vector<metrics::ReplicaCollector::Replica> ReplicaStats() const;
  // Every endpoint's state and role, for the admin service.
  std::vector<EndpointSnapshot> Snapshot(const PrimaryHealth& writer,
                                         const Topology& topology) const;

  // Retires idle and aged connections even when no call comes by.
  void MaintainPools();

 private:
  std::unique_ptr<EndpointRuntime> MakeEndpoint(
      const ServerConfig& config, const mysql::Endpoint& endpoint,
      const std::string& writer_id, metrics::ServerMetrics* metrics);

  std::vector<std::unique_ptr<EndpointRuntime>> endpoints_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_ENDPOINT_SET_H_
