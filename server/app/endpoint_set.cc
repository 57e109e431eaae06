#include "server/app/endpoint_set.h"

#include <utility>

#include "absl/time/clock.h"
#include "server/observability/connect_failure_log.h"

namespace userservice {

EndpointSet::EndpointSet(const ServerConfig& config,
                         const std::string& writer_id,
                         metrics::ServerMetrics* metrics) {
  primary_ = MakeEndpoint(config, config.primary, /*is_primary=*/true, metrics);
  for (const mysql::Endpoint& endpoint : config.replicas) {
    replicas_.push_back(
        MakeEndpoint(config, endpoint, /*is_primary=*/false, metrics));
    EndpointRuntime& replica = *replicas_.back();
    replica.health =
        std::make_unique<ReplicaHealth>(endpoint.name, config.health);
    replica.probe = std::make_unique<mysql::MysqlReplicaProbe>(
        endpoint, config.connection, writer_id, config.check_timeout);
  }
}

EndpointSet::~EndpointSet() {
  primary_->pool->Close();
  for (const auto& replica : replicas_) replica->pool->Close();
}

std::unique_ptr<EndpointRuntime> EndpointSet::MakeEndpoint(
    const ServerConfig& config, const mysql::Endpoint& endpoint,
    bool is_primary, metrics::ServerMetrics* metrics) {
  auto runtime = std::make_unique<EndpointRuntime>();
  runtime->endpoint = endpoint;
  PoolOptions options = config.pool;
  options.name = endpoint.name;
  if (metrics != nullptr)
    options.observer = metrics->pool_observer(endpoint.name);
  auto connect_log =
      std::make_shared<observability::ConnectFailureLog>(endpoint.name);
  runtime->pool = std::make_unique<mysql::MysqlPool>(
      options,
      [endpoint, settings = config.connection,
       connect_log](absl::Time deadline) {
        auto conn = mysql::MysqlConnection::Open(endpoint, settings, deadline);
        connect_log->Record(conn.status());
        return conn;
      },
      [](mysql::MysqlConnection& conn, absl::Time) { return conn.Ping(); });
  runtime->killer =
      std::make_unique<mysql::QueryKiller>(endpoint, config.connection);
  if (is_primary) {
    runtime->demotion =
        std::make_unique<mysql::PrimaryDemotion>(runtime->pool.get());
  }
  runtime->store = std::make_unique<mysql::MysqlUserStore>(
      endpoint.name, runtime->pool.get(),
      mysql::StoreHooks{runtime->killer.get(), runtime->demotion.get()});
  return runtime;
}

NamedReader EndpointSet::PrimaryReader() const {
  return {primary_->endpoint.name, primary_->store.get()};
}

std::vector<NamedReader> EndpointSet::ReplicaReaders() const {
  std::vector<NamedReader> readers;
  for (const auto& r : replicas_) {
    readers.push_back({r->endpoint.name, r->store.get(), r->health.get()});
  }
  return readers;
}

std::vector<HealthChecker::Replica> EndpointSet::CheckedReplicas() const {
  std::vector<HealthChecker::Replica> checked;
  for (const auto& r : replicas_) {
    checked.push_back({r->probe.get(), r->health.get()});
  }
  return checked;
}

std::vector<const ReplicaHealth*> EndpointSet::ReplicaHealths() const {
  std::vector<const ReplicaHealth*> healths;
  for (const auto& r : replicas_) healths.push_back(r->health.get());
  return healths;
}

std::vector<metrics::PoolStatsCollector::Pool> EndpointSet::PoolStats() const {
  std::vector<metrics::PoolStatsCollector::Pool> pools = {
      {primary_->endpoint.name,
       [p = primary_->pool.get()] { return p->Stats(); }}};
  for (const auto& r : replicas_) {
    pools.push_back(
        {r->endpoint.name, [p = r->pool.get()] { return p->Stats(); }});
  }
  return pools;
}

std::vector<metrics::ReplicaCollector::Replica> EndpointSet::ReplicaStats()
    const {
  std::vector<metrics::ReplicaCollector::Replica> replicas;
  for (const auto& r : replicas_) {
    replicas.push_back({r->endpoint.name, r->health.get()});
  }
  return replicas;
}

std::vector<EndpointSnapshot> EndpointSet::Snapshot(
    const PrimaryHealth& primary) const {
  const absl::Time now = absl::Now();
  std::vector<EndpointSnapshot> endpoints(1);
  EndpointSnapshot& p = endpoints.front();
  p.name = primary_->endpoint.name;
  p.primary = true;
  p.writable = primary.writable();
  p.reason = p.writable ? "" : primary.last_error();
  p.pool = primary_->pool->Stats();
  for (const auto& r : replicas_) {
    EndpointSnapshot& e = endpoints.emplace_back();
    e.name = r->endpoint.name;
    e.replica = r->health->Snapshot(now);
    e.reason = e.replica.reason;
    e.pool = r->pool->Stats();
  }
  return endpoints;
}

void EndpointSet::MaintainPools() {
  primary_->pool->Maintain();
  for (const auto& r : replicas_) r->pool->Maintain();
}

}  // namespace userservice
