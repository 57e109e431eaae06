#include "server/app/config.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/app/endpoints.h"
#include "server/app/flags.h"
#include "server/service/user_service_impl.h"

namespace userservice {
namespace {

using absl::GetFlag;

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

absl::Status ReadEndpoints(ServerConfig& config) {
  config.listen = GetFlag(FLAGS_listen);
  if (config.listen.empty()) return Invalid("--listen: must not be empty");
  config.metrics_listen = GetFlag(FLAGS_metrics_listen);
  if (!config.metrics_listen.empty() &&
      config.metrics_listen.find(':') == std::string::npos) {
    return Invalid(
        "--metrics-listen: must be HOST:PORT, or empty for no metrics");
  }
  const std::string primary_flag = GetFlag(FLAGS_primary);
  const std::string databases_flag = GetFlag(FLAGS_databases);
  if (!databases_flag.empty()) {
    if (!primary_flag.empty() || !GetFlag(FLAGS_replicas).empty()) {
      return Invalid(
          "--databases replaces --primary and --replicas: give either the "
          "list of every database, or the primary and its replicas");
    }
    absl::StatusOr<std::vector<mysql::Endpoint>> databases =
        ParseDatabases(databases_flag);
    if (!databases.ok()) return databases.status();
    config.databases = *std::move(databases);
  } else {
    if (primary_flag.empty()) {
      return Invalid(
          "--primary (or USER_SERVICE_PRIMARY) is required: the writable "
          "database as HOST:PORT (or list every database with --databases)");
    }
    absl::StatusOr<mysql::Endpoint> primary =
        ParseEndpoint("primary", primary_flag);
    if (!primary.ok()) return primary.status();
    absl::StatusOr<std::vector<mysql::Endpoint>> replicas =
        ParseReplicas(GetFlag(FLAGS_replicas));
    if (!replicas.ok()) return replicas.status();
    config.databases = {*std::move(primary)};
    config.databases.insert(config.databases.end(), replicas->begin(),
                            replicas->end());
  }
  if (config.databases.empty()) {
    return Invalid("--databases: names no database");
  }
  if (config.databases.size() > kMaxDatabases) {
    return Invalid(absl::StrCat("at most ", kMaxDatabases,
                                " databases may be configured"));
  }
  return absl::OkStatus();
}

// The password is read on every connect, so a rotated secret is used by
// the next connection; the file is read once now to fail fast.
absl::Status ReadPassword(mysql::ConnectionSettings& connection) {
  const std::string file = GetFlag(FLAGS_db_password_file);
  if (file.empty()) {
    const char* env = std::getenv("USER_SERVICE_DB_PASSWORD");
    connection.password = [password = std::string(env == nullptr ? "" : env)]()
        -> absl::StatusOr<std::string> { return password; };
    return absl::OkStatus();
  }
  if (absl::StatusOr<std::string> probe = mysql::ReadPasswordFile(file);
      !probe.ok()) {
    return Invalid(
        absl::StrCat("--db-password-file: ", probe.status().message()));
  }
  connection.password = [file]() { return mysql::ReadPasswordFile(file); };
  return absl::OkStatus();
}

absl::Status ReadConnection(ServerConfig& config) {
  mysql::ConnectionSettings& connection = config.connection;
  connection.database = GetFlag(FLAGS_db_name);
  connection.user = GetFlag(FLAGS_db_user);
  if (connection.database.empty() || connection.user.empty()) {
    return Invalid("--db-name and --db-user must not be empty");
  }
  if (absl::Status password = ReadPassword(connection); !password.ok()) {
    return password;
  }
  connection.connect_timeout = GetFlag(FLAGS_connect_timeout);
  connection.socket_timeout = GetFlag(FLAGS_db_socket_timeout);
  connection.tls.ca = GetFlag(FLAGS_db_tls_ca);
  connection.tls.cert = GetFlag(FLAGS_db_tls_cert);
  connection.tls.key = GetFlag(FLAGS_db_tls_key);
  connection.tls.verify_server_identity =
      GetFlag(FLAGS_db_tls_verify_server_identity);
  return CheckClientTlsFiles(
      {connection.tls.ca, connection.tls.cert, connection.tls.key},
      "--db-tls-");
}

absl::Status ReadServerTls(ServerConfig& config) {
  config.tls.cert = GetFlag(FLAGS_tls_cert);
  config.tls.key = GetFlag(FLAGS_tls_key);
  config.tls.client_ca = GetFlag(FLAGS_tls_client_ca);
  config.tls.refresh_interval = GetFlag(FLAGS_tls_refresh_interval);
  if (absl::Status tls = ValidateServerTlsFlags(config.tls); !tls.ok()) {
    return tls;
  }
  if (!config.tls.enabled()) return absl::OkStatus();
  absl::StatusOr<CertificateSummary> certificate =
      CheckServerTlsFiles(config.tls);
  if (!certificate.ok()) return certificate.status();
  config.tls_certificate = *std::move(certificate);
  return absl::OkStatus();
}

absl::Status ReadLimits(ServerConfig& config) {
  ServerLimits& limits = config.limits;
  limits.max_receive_message_bytes = GetFlag(FLAGS_max_receive_message_size);
  limits.max_concurrent_streams = GetFlag(FLAGS_max_concurrent_streams);
  limits.min_ping_interval = GetFlag(FLAGS_keepalive_min_ping_interval);
  limits.max_ping_strikes = GetFlag(FLAGS_keepalive_max_ping_strikes);
  limits.keepalive_time = GetFlag(FLAGS_keepalive_time);
  limits.keepalive_timeout = GetFlag(FLAGS_keepalive_timeout);
  limits.max_connection_age = GetFlag(FLAGS_max_connection_age);
  limits.max_connection_age_grace = GetFlag(FLAGS_max_connection_age_grace);
  limits.handshake_timeout = GetFlag(FLAGS_handshake_timeout);
  return ValidateServerLimits(limits);
}

absl::Status ReadPool(ServerConfig& config) {
  PoolOptions& pool = config.pool;
  pool.max_size = GetFlag(FLAGS_pool_size);
  if (pool.max_size < 1 || pool.max_size > 1000) {
    return Invalid("--pool-size: must be 1 to 1000");
  }
  pool.acquire_timeout = GetFlag(FLAGS_pool_acquire_timeout);
  pool.max_lifetime = GetFlag(FLAGS_pool_max_lifetime);
  pool.idle_timeout = GetFlag(FLAGS_pool_idle_timeout);
  pool.validate_after_idle = GetFlag(FLAGS_pool_validate_after);
  pool.max_opening = GetFlag(FLAGS_pool_max_opening);
  if (pool.max_opening < 1) {
    return Invalid("--pool-max-opening: must be at least 1");
  }
  return absl::OkStatus();
}

absl::Status ReadHealth(ServerConfig& config) {
  config.checker.check_interval = GetFlag(FLAGS_health_check_interval);
  config.checker.heartbeat_interval = GetFlag(FLAGS_heartbeat_interval);
  config.check_timeout = GetFlag(FLAGS_health_check_timeout);
  config.health.eject_after_failures = GetFlag(FLAGS_eject_after);
  config.health.readmit_after_successes = GetFlag(FLAGS_readmit_after);
  config.health.max_eventual_lag = GetFlag(FLAGS_max_eventual_lag);
  config.health.heartbeat_interval = config.checker.heartbeat_interval;
  // A measurement missed by a few checks in a row no longer counts.
  config.health.lag_valid_for =
      std::max(HealthPolicy().lag_valid_for, 4 * config.checker.check_interval);
  if (config.health.eject_after_failures < 1 ||
      config.health.readmit_after_successes < 1) {
    return Invalid("--eject-after and --readmit-after: must be at least 1");
  }
  return absl::OkStatus();
}

absl::Status ReadTopology(ServerConfig& config) {
  config.hung_endpoint_timeout = GetFlag(FLAGS_hung_endpoint_timeout);
  if (config.hung_endpoint_timeout < absl::ZeroDuration() ||
      (config.hung_endpoint_timeout > absl::ZeroDuration() &&
       config.hung_endpoint_timeout < 2 * config.checker.check_interval)) {
    return Invalid(
        "--hung-endpoint-timeout: must be at least twice "
        "--health-check-interval (the checks are what shows a quiet endpoint "
        "still answers), or 0 to never abandon a statement");
  }
  config.topology.write_hold = GetFlag(FLAGS_write_hold);
  config.topology.max_held_calls = GetFlag(FLAGS_max_held_writes);
  if (config.topology.write_hold < absl::ZeroDuration()) {
    return Invalid("--write-hold: must not be negative (0: no hold)");
  }
  if (config.topology.max_held_calls < 0) {
    return Invalid("--max-held-writes: must not be negative");
  }
  return absl::OkStatus();
}

absl::Status ReadRouting(ServerConfig& config) {
  config.router.max_fallback_reads = GetFlag(FLAGS_max_fallback_reads);
  if (config.router.max_fallback_reads < 0) {
    return Invalid("--max-fallback-reads: must not be negative");
  }
  config.router.session_wait = GetFlag(FLAGS_session_wait);
  absl::StatusOr<ReadConsistency> consistency =
      ParseConsistency(GetFlag(FLAGS_default_consistency));
  if (!consistency.ok()) return consistency.status();
  config.service.default_consistency = *consistency;
  return absl::OkStatus();
}

absl::Status ReadThreads(ServerConfig& config) {
  config.dispatcher.threads = GetFlag(FLAGS_read_workers);
  config.dispatcher.max_calls_per_wake = GetFlag(FLAGS_read_batch_max);
  config.service.creates.write_workers = GetFlag(FLAGS_write_workers);
  config.service.creates.write_batch_max = GetFlag(FLAGS_write_batch_max);
  config.service.reads.lookup_workers = GetFlag(FLAGS_lookup_workers);
  config.rpc_pollers = GetFlag(FLAGS_rpc_pollers);
  for (int value :
       {config.dispatcher.threads, config.dispatcher.max_calls_per_wake,
        config.service.creates.write_workers,
        config.service.creates.write_batch_max,
        config.service.reads.lookup_workers, config.rpc_pollers}) {
    if (value < 1) {
      return Invalid(
          "--read-workers, --read-batch-max, --write-workers, "
          "--write-batch-max, --lookup-workers and --rpc-pollers must be "
          ">= 1");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadLifecycle(ServerConfig& config) {
  config.admin_service = GetFlag(FLAGS_admin_service);
  config.service.default_deadline = GetFlag(FLAGS_default_deadline);
  config.service.max_deadline = GetFlag(FLAGS_max_deadline);
  config.shutdown_grace = GetFlag(FLAGS_shutdown_grace);
  config.request_id_retention = GetFlag(FLAGS_request_id_retention);
  if (config.request_id_retention < absl::ZeroDuration()) {
    return Invalid(
        "--request-id-retention: must not be negative (0: keep forever)");
  }
  config.migration.migrate = GetFlag(FLAGS_migrate);
  config.migration.only = GetFlag(FLAGS_migrate_only);
  config.migration.timeout = GetFlag(FLAGS_migrate_timeout);
  if (config.router.session_wait < absl::ZeroDuration() ||
      config.shutdown_grace < absl::ZeroDuration()) {
    return Invalid("--session-wait and --shutdown-grace must not be negative");
  }
  if (config.service.default_deadline > config.service.max_deadline) {
    return Invalid("--default-deadline: must not exceed --max-deadline");
  }
  return absl::OkStatus();
}

absl::Status ReadLogging(ServerConfig& config) {
  if (!log::ParseLevel(GetFlag(FLAGS_log_level), &config.log_level)) {
    return Invalid("--log-level: must be debug, info, warning or error");
  }
  absl::StatusOr<observability::CallLogOptions> call_log =
      observability::ParseAccessLogLevel(GetFlag(FLAGS_access_log_level));
  if (!call_log.ok()) return call_log.status();
  config.call_log = *std::move(call_log);
  config.call_log.endpoint_metadata_key = kServedByMetadataKey;
  config.call_log.sample_ok_every = GetFlag(FLAGS_access_log_sample);
  if (config.call_log.sample_ok_every < 1) {
    return Invalid("--access-log-sample: must be at least 1");
  }
  config.call_log.failure_lines_per_second = GetFlag(FLAGS_failure_log_limit);
  config.service.failure_warnings_per_second =
      config.call_log.failure_lines_per_second;
  if (config.call_log.failure_lines_per_second < 0) {
    return Invalid("--failure-log-limit: must not be negative (0: no limit)");
  }
  return absl::OkStatus();
}

// Every duration that must be positive, with the flag that sets it.
absl::Status CheckPositiveDurations(ServerConfig& config) {
  for (const auto& [name, value] :
       {std::pair{"--pool-acquire-timeout", config.pool.acquire_timeout},
        std::pair{"--pool-max-lifetime", config.pool.max_lifetime},
        std::pair{"--pool-idle-timeout", config.pool.idle_timeout},
        std::pair{"--health-check-interval", config.checker.check_interval},
        std::pair{"--health-check-timeout", config.check_timeout},
        std::pair{"--heartbeat-interval", config.checker.heartbeat_interval},
        std::pair{"--max-eventual-lag", config.health.max_eventual_lag},
        std::pair{"--connect-timeout", config.connection.connect_timeout},
        std::pair{"--db-socket-timeout", config.connection.socket_timeout},
        std::pair{"--default-deadline", config.service.default_deadline},
        std::pair{"--max-deadline", config.service.max_deadline},
        std::pair{"--migrate-timeout", config.migration.timeout}}) {
    if (value <= absl::ZeroDuration()) {
      return Invalid(
          absl::StrCat(name, ": must be a positive duration such as 2s"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReadConsistency> ParseConsistency(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  for (ReadConsistency c :
       {ReadConsistency::kEventual, ReadConsistency::kSession,
        ReadConsistency::kStrong}) {
    if (lower == ConsistencyName(c)) return c;
  }
  return Invalid(absl::StrCat(
      "--default-consistency: \"", text,
      "\" is not one of eventual, session, strong (bounded staleness needs "
      "a max_staleness, so only a caller can ask for it)"));
}

std::string ConsistencyName(ReadConsistency consistency) {
  switch (consistency) {
    case ReadConsistency::kEventual:
      return "eventual";
    case ReadConsistency::kSession:
      return "session";
    case ReadConsistency::kStrong:
      return "strong";
    case ReadConsistency::kBoundedStaleness:
      break;
  }
  return "bounded_staleness";
}

absl::StatusOr<ServerConfig> ConfigFromFlags() {
  // Later steps may check what earlier ones read; the first mistake is the
  // one reported.
  using Step = absl::Status (*)(ServerConfig&);
  static constexpr Step kSteps[] = {ReadEndpoints, ReadConnection,
                                    ReadServerTls, ReadLimits,
                                    ReadPool,      ReadHealth,
                                    ReadTopology,  ReadRouting,
                                    ReadThreads,
                                    ReadLifecycle, CheckPositiveDurations,
                                    ReadLogging};
  ServerConfig config;
  for (Step step : kSteps) {
    if (absl::Status status = step(config); !status.ok()) return status;
  }
  return config;
}

}  // namespace userservice
