#include "server/app/endpoint_set.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/mysql/socket_watchdog.h"
#include "server/observability/connect_failure_log.h"
#include "server/repository/write_outcome.h"

namespace userservice {

EndpointSet::EndpointSet(const ServerConfig& config,
                         const std::string& writer_id,
                         metrics::ServerMetrics* metrics) {
  for (const mysql::Endpoint& endpoint : config.databases) {
    endpoints_.push_back(MakeEndpoint(config, endpoint, writer_id, metrics));
  }
}

EndpointSet::~EndpointSet() {
  for (const auto& e : endpoints_) e->pool->Close();
}

namespace {

// The endpoint's pool. A handshake cannot be cut like a statement (its
// socket is not known yet), so it is bounded by the hung-endpoint timeout
// too, and no connection is opened to an endpoint silent for that long.
std::unique_ptr<mysql::MysqlPool> MakePool(
    const ServerConfig& config, const mysql::Endpoint& endpoint,
    const mysql::EndpointLiveness* liveness, metrics::ServerMetrics* metrics) {
  PoolOptions options = config.pool;
  options.name = endpoint.name;
  if (metrics != nullptr)
    options.observer = metrics->pool_observer(endpoint.name);
  auto connect_log =
      std::make_shared<observability::ConnectFailureLog>(endpoint.name);
  mysql::ConnectionSettings settings = config.connection;
  const absl::Duration hung = config.hung_endpoint_timeout;
  if (hung > absl::ZeroDuration()) {
    settings.connect_timeout = std::min(settings.connect_timeout, hung);
  }
  return std::make_unique<mysql::MysqlPool>(
      options,
      [endpoint, settings = std::move(settings), connect_log, liveness,
       hung](absl::Time deadline)
          -> absl::StatusOr<std::unique_ptr<mysql::MysqlConnection>> {
        if (mysql::SilentFor(*liveness, hung, absl::Now())) {
          // Calls fail over at once instead; the health checks, on their
          // own sessions, see it answer again.
          return MarkNotExecuted(absl::UnavailableError(
              absl::StrCat("database ", endpoint.name, " has not answered for ",
                           absl::FormatDuration(hung),
                           " or more; no new connection until it does")));
        }
        auto conn = mysql::MysqlConnection::Open(endpoint, settings, deadline);
        connect_log->Record(conn.status());
        return conn;
      },
      [](mysql::MysqlConnection& conn, absl::Time) { return conn.Ping(); });
}

}  // namespace

std::unique_ptr<EndpointRuntime> EndpointSet::MakeEndpoint(
    const ServerConfig& config, const mysql::Endpoint& endpoint,
    const std::string& writer_id, metrics::ServerMetrics* metrics) {
  auto runtime = std::make_unique<EndpointRuntime>();
  runtime->endpoint = endpoint;
  runtime->liveness = std::make_unique<mysql::EndpointLiveness>();
  runtime->applied = std::make_unique<AppliedPosition>();
  runtime->pool = MakePool(config, endpoint, runtime->liveness.get(), metrics);
  runtime->killer =
      std::make_unique<mysql::QueryKiller>(endpoint, config.connection);
  runtime->demotion =
      std::make_unique<mysql::PrimaryDemotion>(runtime->pool.get());
  mysql::StoreHooks hooks{runtime->killer.get(), runtime->demotion.get()};
  hooks.watchdog = &mysql::SocketWatchdog::Default();
  hooks.liveness = runtime->liveness.get();
  hooks.hung_timeout = config.hung_endpoint_timeout;
  hooks.applied = runtime->applied.get();
  runtime->store = std::make_unique<mysql::MysqlUserStore>(
      endpoint.name, runtime->pool.get(), hooks);
  runtime->health =
      std::make_unique<ReplicaHealth>(endpoint.name, config.health);
  runtime->probe = std::make_unique<mysql::MysqlEndpointProbe>(
      endpoint, config.connection, writer_id, config.check_timeout,
      runtime->liveness.get(), runtime->applied.get());
  runtime->heartbeat = std::make_unique<mysql::MysqlHeartbeatSink>(
      endpoint, config.connection, writer_id, config.check_timeout,
      runtime->demotion.get());
  return runtime;
}

std::vector<std::string> EndpointSet::Names() const {
  std::vector<std::string> names;
  for (const auto& e : endpoints_) names.push_back(e->endpoint.name);
  return names;
}

std::vector<NamedReader> EndpointSet::Readers() const {
  std::vector<NamedReader> readers;
  for (const auto& e : endpoints_) {
    readers.push_back(
        {e->endpoint.name, e->store.get(), e->health.get(), e->applied.get()});
  }
  return readers;
}

std::vector<UserWriter*> EndpointSet::Writers() const {
  std::vector<UserWriter*> writers;
  for (const auto& e : endpoints_) writers.push_back(e->store.get());
  return writers;
}

std::vector<HealthChecker::Endpoint> EndpointSet::Checked() const {
  std::vector<HealthChecker::Endpoint> checked;
  for (const auto& e : endpoints_) {
    checked.push_back({e->probe.get(), e->health.get(), e->heartbeat.get()});
  }
  return checked;
}

std::vector<const ReplicaHealth*> EndpointSet::Healths() const {
  std::vector<const ReplicaHealth*> healths;
  for (const auto& e : endpoints_) healths.push_back(e->health.get());
  return healths;
}

std::vector<metrics::PoolStatsCollector::Pool> EndpointSet::PoolStats() const {
  std::vector<metrics::PoolStatsCollector::Pool> pools;
  for (const auto& e : endpoints_) {
    pools.push_back(
        {e->endpoint.name, [p = e->pool.get()] { return p->Stats(); }});
  }
  return pools;
}

std::vector<metrics::ReplicaCollector::Replica> EndpointSet::ReplicaStats()
    const {
  std::vector<metrics::ReplicaCollector::Replica> replicas;
  for (const auto& e : endpoints_) {
    replicas.push_back({e->endpoint.name, e->health.get()});
  }
  return replicas;
}

std::vector<EndpointSnapshot> EndpointSet::Snapshot(
    const PrimaryHealth& writer, const Topology& topology) const {
  const absl::Time now = absl::Now();
  std::vector<EndpointSnapshot> snapshots;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const EndpointRuntime& e = *endpoints_[i];
    EndpointSnapshot& s = snapshots.emplace_back();
    s.name = e.endpoint.name;
    s.role = topology.role(i);
    s.server_id = topology.server_id(i);
    s.gtid_position = topology.gtid_position(i);
    s.replica = e.health->Snapshot(now);
    if (s.role == EndpointRole::kWriter) {
      s.writable = writer.writable();
      s.reason = s.writable ? "" : writer.last_error();
    } else {
      s.reason = s.replica.reason;
    }
    s.pool = e.pool->Stats();
  }
  return snapshots;
}

void EndpointSet::MaintainPools() {
  for (const auto& e : endpoints_) e->pool->Maintain();
}

}  // namespace userservice
