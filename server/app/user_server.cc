#include "server/app/user_server.h"

#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "server/common/log.h"
#include "server/mysql/migrations.h"
#include "server/mysql/mysql_endpoint_probe.h"
#include "server/observability/call_log_interceptor.h"

namespace userservice {
namespace {

// Names this process's heartbeat row: unique among the servers that share
// the database (pods of a Deployment, or several on one host).
std::string WriterId() {
  char host[64] = {0};
  gethostname(host, sizeof(host) - 1);
  absl::BitGen gen;
  return absl::StrCat(std::string(host).substr(0, 40), "-", getpid(), "-",
                      absl::Hex(absl::Uniform<uint32_t>(gen), absl::kZeroPad8));
}

std::unique_ptr<metrics::ServerMetrics> MakeMetrics(
    const ServerConfig& config) {
  if (config.metrics_listen.empty()) return nullptr;
  std::vector<std::string> names;
  for (const mysql::Endpoint& e : config.databases) names.push_back(e.name);
  return std::make_unique<metrics::ServerMetrics>(
      names,
      metrics::MethodsOfServices({v1::UserService::service_full_name(),
                                  admin::v1::AdminService::service_full_name(),
                                  "grpc.health.v1.Health",
                                  "grpc.reflection.v1alpha.ServerReflection"}));
}

RouterOptions RouterOptionsOf(const ServerConfig& config,
                              metrics::ServerMetrics* metrics) {
  RouterOptions options = config.router;
  if (metrics != nullptr) options.observer = metrics->routing();
  return options;
}

ServiceOptions ServiceOptionsOf(const ServerConfig& config,
                                metrics::ServerMetrics* metrics) {
  ServiceOptions options = config.service;
  if (metrics != nullptr) options.creates.observer = metrics->creates();
  return options;
}

// The writer as the server would elect it now, from one check of every
// endpoint; UNAVAILABLE when there is none.
absl::StatusOr<mysql::Endpoint> FindWriter(const ServerConfig& config) {
  std::vector<RoleFacts> facts;
  std::string errors;  // of the endpoints that could not be checked
  for (const mysql::Endpoint& endpoint : config.databases) {
    mysql::MysqlEndpointProbe probe(endpoint, config.connection, "migration",
                                    config.check_timeout);
    const ProbeResult seen = probe.Observe();
    if (!seen.reachable) {
      absl::StrAppend(&errors, "; ", endpoint.name, ": ", seen.error);
    }
    facts.push_back(RoleFacts::Of(seen));
  }
  const Election election = ElectWriter(facts, -1);
  if (election.writer < 0) {
    return absl::UnavailableError(
        absl::StrCat("no writer: ", election.no_writer_reason, errors));
  }
  return config.databases[election.writer];
}

}  // namespace

absl::Status MigrateSchema(const ServerConfig& config) {
  const absl::Time give_up = absl::Now() + config.migration.timeout;
  absl::Duration backoff = absl::Milliseconds(200);
  while (true) {
    absl::StatusOr<mysql::Endpoint> writer = FindWriter(config);
    absl::Status status = writer.status();
    if (writer.ok()) {
      absl::StatusOr<std::unique_ptr<mysql::MysqlConnection>> conn =
          mysql::MysqlConnection::Open(*writer, config.connection, give_up);
      status = conn.status();
      if (conn.ok()) {
        absl::StatusOr<mysql::MigrationResult> result =
            mysql::Migrate(**conn, give_up);
        if (result.ok()) {
          log::Info("schema is up to date",
                    {{"endpoint", writer->name},
                     {"schema_version", absl::StrCat(result->schema_version)},
                     {"applied", absl::StrCat(result->applied)}});
          return absl::OkStatus();
        }
        status = result.status();
      }
    }
    if (!absl::IsUnavailable(status) && !absl::IsDeadlineExceeded(status)) {
      return status;
    }
    if (absl::Now() + backoff >= give_up) return status;
    log::Warning("no writer ready for migrations; retrying",
                 {{"error", std::string(status.message())},
                  {"retry_in", absl::FormatDuration(backoff)}});
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

UserServer::UserServer(const ServerConfig& config)
    : config_(config),
      writer_id_(WriterId()),
      metrics_(MakeMetrics(config_)),
      endpoints_(config_, writer_id_, metrics_.get()),
      topology_(endpoints_.Names(), config_.topology,
                [this] { checker_.RequestRecheck(); }),
      router_(endpoints_.Readers(), &topology_,
              RouterOptionsOf(config_, metrics_.get())),
      write_router_(endpoints_.Writers(), &topology_),
      user_service_(&write_router_, &router_,
                    ServiceOptionsOf(config_, metrics_.get())),
      readiness_(kReadinessServiceName, &primary_health_, &topology_,
                 endpoints_.Healths(),
                 [this](bool ready) {
                   health_service_.SetServingStatus(kReadinessServiceName,
                                                    ready);
                 }),
      admin_service_([this] { return Snapshot(); }),
      checker_(config_.checker, &topology_, &primary_health_, &ledger_,
               endpoints_.Checked(), [this] { readiness_.Update(); }),
      dispatcher_(config_.dispatcher, UnparseableObserver()) {
  user_service_.AddAsyncMethodsTo(dispatcher_);
}

UserServer::~UserServer() = default;

absl::Status UserServer::Start() {
  if (absl::Status metrics = StartMetrics(); !metrics.ok()) return metrics;
  // Liveness ("") stays SERVING while the process runs; readiness follows
  // the health checker from its first round on.
  health_service_.SetServingStatus("", true);
  health_service_.SetServingStatus(kReadinessServiceName, true);
  int port = 0;
  grpc_server_ = BuildGrpcServer(&port);
  if (grpc_server_ == nullptr || port == 0) {
    log::Error("cannot listen", {{"listen", config_.listen}});
    return absl::UnavailableError("cannot listen");
  }
  dispatcher_.Start();
  checker_.Start();
  background_ = std::make_unique<Background>(&endpoints_, &topology_,
                                             config_.request_id_retention);
  LogServing(port);
  return absl::OkStatus();
}

absl::Status UserServer::StartMetrics() {
  if (metrics_ == nullptr) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> started =
      metrics_->Serve(config_.metrics_listen, endpoints_.PoolStats(),
                      endpoints_.ReplicaStats(), &topology_, &write_router_);
  if (!started.ok()) {
    log::Error("cannot serve metrics",
               {{"error", std::string(started.status().message())}});
    return started.status();
  }
  metrics_server_ = *std::move(started);
  log::Info("serving metrics",
            {{"metrics_listen", config_.metrics_listen},
             {"metrics_port", absl::StrCat(metrics_server_->port())}});
  return absl::OkStatus();
}

std::unique_ptr<grpc::Server> UserServer::BuildGrpcServer(int* port) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen, BuildServerCredentials(config_.tls),
                           port);
  ApplyServerLimits(config_.limits, builder);
  builder.RegisterService(&user_service_);
  builder.RegisterService(&health_service_);
  if (config_.admin_service) builder.RegisterService(&admin_service_);
  dispatcher_.AddTo(builder);
  // gRPC's defaults (1 to 2 pollers) make the sync server start and end a
  // thread for nearly every call under load.
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, config_.rpc_pollers);
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
      4 * config_.rpc_pollers);
  // Interceptors see sync and async handlers alike. The first turns gRPC's
  // INTERNAL for a sync request that did not parse into INVALID_ARGUMENT
  // before the others record the status (the dispatcher does it for the
  // async methods). The call log's comes next: it settles the request id
  // the others may log.
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(
      MakeUnparseableRequestInterceptorFactory(UnparseableObserver()));
  interceptors.push_back(
      std::make_unique<observability::CallLogInterceptorFactory>(
          config_.call_log));
  if (metrics_ != nullptr)
    interceptors.push_back(metrics_->InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  return builder.BuildAndStart();
}

UnparseableRequestObserver UserServer::UnparseableObserver() const {
  return [metrics = metrics_.get()](const std::string& method) {
    if (metrics != nullptr) metrics->CountUnparseable(method);
  };
}

void UserServer::Wait() { grpc_server_->Wait(); }

void UserServer::Shutdown(const std::string& reason) {
  log::Info("shutting down",
            {{"signal", reason},
             {"grace", absl::FormatDuration(config_.shutdown_grace)}});
  health_service_.Shutdown();
  grpc_server_->Shutdown(
      absl::ToChronoTime(absl::Now() + config_.shutdown_grace));
}

void UserServer::RecheckTls() const { LogServerTlsRecheck(config_.tls); }

ServerSnapshot UserServer::Snapshot() const {
  ServerSnapshot snapshot;
  snapshot.endpoints = endpoints_.Snapshot(primary_health_, topology_);
  snapshot.serving = readiness_.ready();
  snapshot.fallback = router_.fallback_stats();
  return snapshot;
}

void UserServer::LogServing(int port) const {
  std::string databases;
  for (const mysql::Endpoint& e : config_.databases) {
    absl::StrAppend(&databases, databases.empty() ? "" : ",", e.name, "=",
                    e.host, ":", e.port);
  }
  const ServerTlsFiles& tls = config_.tls;
  log::Info("serving",
            {{"listen", config_.listen},
             {"port", absl::StrCat(port)},
             {"databases", databases},
             {"heartbeat_writer", writer_id_},
             {"transport", !tls.enabled() ? "plaintext"
                           : tls.mutual() ? "mutual-tls"
                                          : "tls"},
             {"certificate_serial", config_.tls_certificate.serial},
             {"certificate_not_after", config_.tls_certificate.not_after},
             {"database_tls",
              config_.connection.tls.enabled() ? "required" : "off"}});
  // Info lines are batched; this one is what operators and scripts wait
  // for, so it goes out now.
  log::Flush();
}

}  // namespace userservice
