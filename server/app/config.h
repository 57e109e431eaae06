#ifndef USERSERVICE_SERVER_APP_CONFIG_H_
#define USERSERVICE_SERVER_APP_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/app/server_limits.h"
#include "server/app/tls_config.h"
#include "server/common/log.h"
#include "server/health/health_checker.h"
#include "server/health/replica_health.h"
#include "server/health/topology.h"
#include "server/mysql/mysql_connection.h"
#include "server/observability/call_log_interceptor.h"
#include "server/pool/connection_pool.h"
#include "server/routing/read_router.h"
#include "server/service/call_dispatcher.h"
#include "server/service/user_service_impl.h"

namespace userservice {

// Most database endpoints one server follows.
inline constexpr size_t kMaxDatabases = 64;

// The gRPC health service name whose status is the server's readiness
// (the overall "" status is liveness).
inline constexpr char kReadinessServiceName[] = "userservice.v1.UserService";

struct MigrationOptions {
  // Apply pending schema migrations at startup; with `only`, then exit.
  bool migrate = true;
  bool only = false;
  // How long startup keeps retrying to find the writer.
  absl::Duration timeout = absl::Seconds(60);
};

// Everything user_server is configured with, validated. Each subsystem's
// options keep their own defaults; the flags take theirs from a
// default-constructed ServerConfig (flags.cc), so there is one default per
// setting.
struct ServerConfig {
  std::string listen = "0.0.0.0:50051";
  std::string metrics_listen = "0.0.0.0:9464";  // empty: no metrics
  // Every database endpoint, --primary first when given: one replication
  // cluster whose writer the server elects (server/health/topology.h).
  std::vector<mysql::Endpoint> databases;
  TopologyOptions topology;
  mysql::ConnectionSettings connection;
  PoolOptions pool;
  HealthPolicy health;
  CheckerOptions checker;
  // One endpoint check or heartbeat write.
  absl::Duration check_timeout = absl::Seconds(1);
  // A statement on an endpoint that answered nothing (no statement, no
  // check) for this long is abandoned; see mysql::StoreHooks. Zero: never.
  absl::Duration hung_endpoint_timeout = absl::Seconds(1);
  RouterOptions router;
  ServiceOptions service;
  DispatcherOptions dispatcher;
  // Threads kept ready for the sync methods (gRPC adds up to 4x under load).
  int rpc_pollers = 16;
  bool admin_service = true;
  log::Level log_level = log::Level::kInfo;
  observability::CallLogOptions call_log;
  absl::Duration shutdown_grace = absl::Seconds(10);
  // How long a CreateUser request_id is remembered; zero: forever.
  absl::Duration request_id_retention = absl::Hours(24);
  MigrationOptions migration;
  ServerTlsFiles tls;
  CertificateSummary tls_certificate;  // when tls.enabled()
  ServerLimits limits;
};

// The flags (and their environment variables) as a validated config, or
// InvalidArgument naming the flag at fault. Reads the flags and the files
// they name (TLS, password); changes nothing.
absl::StatusOr<ServerConfig> ConfigFromFlags();

// "eventual", "session" or "strong": the values --default-consistency takes.
absl::StatusOr<ReadConsistency> ParseConsistency(absl::string_view text);
std::string ConsistencyName(ReadConsistency consistency);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_CONFIG_H_
