#ifndef USERSERVICE_SERVER_APP_ENDPOINT_SET_H_
#define USERSERVICE_SERVER_APP_ENDPOINT_SET_H_

#include <memory>
#include <string>
#include <vector>

#include "server/app/config.h"
#include "server/health/health_checker.h"
#include "server/health/replica_health.h"
#include "server/metrics/server_metrics.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/mysql_replica_probe.h"
#include "server/mysql/mysql_user_store.h"
#include "server/mysql/primary_demotion.h"
#include "server/mysql/query_killer.h"
#include "server/routing/read_router.h"
#include "server/service/admin_service_impl.h"

namespace userservice {

// One database endpoint and everything the server keeps for it.
struct EndpointRuntime {
  mysql::Endpoint endpoint;
  std::unique_ptr<mysql::MysqlPool> pool;
  std::unique_ptr<mysql::QueryKiller> killer;
  std::unique_ptr<mysql::PrimaryDemotion> demotion;  // primary only
  std::unique_ptr<mysql::MysqlUserStore> store;
  std::unique_ptr<ReplicaHealth> health;            // replicas only
  std::unique_ptr<mysql::MysqlReplicaProbe> probe;  // replicas only
};

// The primary and the replicas of the configuration, each with its own
// pool, query killer and store; replicas also with their health and the
// probe that checks it. Closes the pools when destroyed.
class EndpointSet {
 public:
  // `metrics` (may be null) must outlive the set; `writer_id` names this
  // server's heartbeat row, which the probes read.
  EndpointSet(const ServerConfig& config, const std::string& writer_id,
              metrics::ServerMetrics* metrics);
  ~EndpointSet();

  EndpointRuntime& primary() { return *primary_; }
  const std::vector<std::unique_ptr<EndpointRuntime>>& replicas() const {
    return replicas_;
  }

  // What the router, the health checker, readiness and metrics are given.
  NamedReader PrimaryReader() const;
  std::vector<NamedReader> ReplicaReaders() const;
  std::vector<HealthChecker::Replica> CheckedReplicas() const;
  std::vector<const ReplicaHealth*> ReplicaHealths() const;
  std::vector<metrics::PoolStatsCollector::Pool> PoolStats() const;
  std::vector<metrics::ReplicaCollector::Replica> ReplicaStats() const;
  // Every endpoint's state, primary first, for the admin service.
  std::vector<EndpointSnapshot> Snapshot(const PrimaryHealth& primary) const;

  // Told when the primary refuses a write (the heartbeat reports to it too).
  mysql::PrimaryDemotion* primary_demotion() {
    return primary_->demotion.get();
  }
  // Retires idle and aged connections even when no call comes by.
  void MaintainPools();

 private:
  std::unique_ptr<EndpointRuntime> MakeEndpoint(
      const ServerConfig& config, const mysql::Endpoint& endpoint,
      bool is_primary, metrics::ServerMetrics* metrics);

  std::unique_ptr<EndpointRuntime> primary_;
  std::vector<std::unique_ptr<EndpointRuntime>> replicas_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_ENDPOINT_SET_H_
