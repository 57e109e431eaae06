// user_server: wires flags -> config -> pools -> stores -> router -> service
// -> gRPC server. The only file that knows every concrete type.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "server/app/endpoints.h"
#include "server/app/flag_sources.h"
#include "server/app/server_limits.h"
#include "server/app/tls_config.h"
#include "server/common/log.h"
#include "server/health/health_checker.h"
#include "server/health/lag_ledger.h"
#include "server/health/replica_health.h"
#include "server/metrics/server_metrics.h"
#include "server/mysql/migrations.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/mysql_heartbeat.h"
#include "server/mysql/mysql_replica_probe.h"
#include "server/mysql/mysql_user_store.h"
#include "server/mysql/primary_demotion.h"
#include "server/mysql/query_killer.h"
#include "server/observability/call_log_interceptor.h"
#include "server/observability/connect_failure_log.h"
#include "server/observability/library_logs.h"
#include "server/routing/read_router.h"
#include "server/service/admin_service_impl.h"
#include "server/service/batched_user_methods.h"
#include "server/service/health_service.h"
#include "server/service/user_service_impl.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051",
          "gRPC listen address, HOST:PORT (port 0 picks a free port).");
ABSL_FLAG(std::string, primary, "",
          "Primary (writable) database, HOST:PORT. Required.");
ABSL_FLAG(std::string, replicas, "",
          "Read replicas, comma-separated HOST:PORT or NAME=HOST:PORT. "
          "Unnamed ones are called replica-0, replica-1, ... in this order. "
          "Empty: every read goes to the primary.");
ABSL_FLAG(std::string, db_name, "userservice", "Database (schema) name.");
ABSL_FLAG(std::string, db_user, "userservice", "Database user.");
ABSL_FLAG(std::string, db_password_file, "",
          "File holding the database password, re-read on every new "
          "connection so a rotated secret is picked up. When empty, the "
          "password comes from the environment variable "
          "USER_SERVICE_DB_PASSWORD (never from a flag, which ps shows).");
ABSL_FLAG(int, pool_size, 16,
          "Most connections per database endpoint (primary and each "
          "replica has its own pool).");
ABSL_FLAG(absl::Duration, pool_acquire_timeout, absl::Seconds(2),
          "Longest a call waits for a free pooled connection before it "
          "fails with RESOURCE_EXHAUSTED (its own deadline, if sooner, "
          "gives DEADLINE_EXCEEDED).");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(2),
          "Timeout for opening a database connection (whole seconds, at "
          "least 1s; never beyond the call's deadline).");
ABSL_FLAG(absl::Duration, db_socket_timeout, absl::Seconds(30),
          "Socket read/write timeout of database connections: a backstop "
          "for a database that stops answering; queries are normally "
          "bounded by the call's deadline.");
ABSL_FLAG(std::string, default_consistency, "eventual",
          "Consistency of reads that leave it unspecified: eventual, "
          "session or strong.");
ABSL_FLAG(absl::Duration, session_wait, absl::Milliseconds(100),
          "Longest a session (read-your-writes) read waits for a replica to "
          "apply the caller's write before reading from the primary.");
ABSL_FLAG(absl::Duration, default_deadline, absl::Seconds(30),
          "Deadline for calls that arrive without one.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish "
          "before they are cancelled.");
ABSL_FLAG(bool, migrate, true,
          "Apply pending schema migrations to the primary at startup.");
ABSL_FLAG(bool, migrate_only, false,
          "Apply pending schema migrations, then exit (0 on success).");
ABSL_FLAG(absl::Duration, migrate_timeout, absl::Seconds(60),
          "How long startup keeps retrying to reach the primary for "
          "migrations before giving up with a non-zero exit.");
ABSL_FLAG(absl::Duration, pool_max_lifetime, absl::Minutes(30),
          "Connections are closed after at most this long (each gets a "
          "lifetime up to 20% shorter, so they do not all reconnect at "
          "once); inf disables.");
ABSL_FLAG(absl::Duration, pool_idle_timeout, absl::Minutes(5),
          "Idle pooled connections are closed after this long.");
ABSL_FLAG(absl::Duration, pool_validate_after, absl::Seconds(1),
          "A pooled connection idle for longer than this is pinged before "
          "a call gets it; a dead one is replaced, not handed out.");
ABSL_FLAG(int, pool_max_opening, 4,
          "Most connections being opened at once per endpoint, so a "
          "recovering database is not hit by a burst of connects.");
ABSL_FLAG(absl::Duration, health_check_interval, absl::Milliseconds(500),
          "How often each replica is checked (reachability, replication "
          "threads, heartbeat lag).");
ABSL_FLAG(absl::Duration, health_check_timeout, absl::Seconds(1),
          "Time limit of one replica check or heartbeat write (the socket "
          "part in whole seconds, at least 1s).");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Milliseconds(100),
          "How often this server writes its heartbeat row on the primary: "
          "the granularity of lag measurement.");
ABSL_FLAG(int, eject_after, 3,
          "Consecutive failed checks or calls after which a replica leaves "
          "the rotation.");
ABSL_FLAG(int, readmit_after, 2,
          "Consecutive passed checks after which an ejected replica "
          "returns to the rotation.");
ABSL_FLAG(absl::Duration, max_eventual_lag, absl::Seconds(30),
          "EVENTUAL reads skip replicas further behind than this.");
ABSL_FLAG(int, max_fallback_reads, 8,
          "Most EVENTUAL/BOUNDED_STALENESS read statements that may run on "
          "the primary at once when no replica can take them (GetUsers "
          "that arrive together share one); beyond it they fail with "
          "UNAVAILABLE. STRONG and SESSION reads are never refused.");
ABSL_FLAG(int, read_workers, 2,
          "Threads taking GetUser and CreateUser calls off gRPC's queue. "
          "Each takes every call that has arrived: reads by id with the "
          "same consistency share one `WHERE id IN (...)` statement, run at "
          "once; creates go to the write workers, lookups to the lookup "
          "workers. Each of these threads also polls the network, and more "
          "of them measured slower.");
ABSL_FLAG(int, read_batch_max, 128,
          "Most GetUser calls one read statement answers.");
ABSL_FLAG(int, write_workers, 2,
          "Threads inserting new users. Each takes every create queued "
          "meanwhile: those without a request_id share one multi-row "
          "INSERT and one commit (a batch with a duplicate is retried in "
          "halves, so each caller gets its own answer).");
ABSL_FLAG(int, write_batch_max, 64,
          "Most CreateUser calls one insert answers.");
ABSL_FLAG(int, lookup_workers, 4,
          "Threads for GetUser calls that cannot share a statement: by "
          "username or email, and session reads that may wait up to "
          "--session-wait for a replica.");
ABSL_FLAG(absl::Duration, request_id_retention, absl::Hours(24),
          "How long a CreateUser request_id is remembered; a retry within it "
          "returns the user first created. Older keys are deleted once a "
          "minute. 0 keeps them forever.");
ABSL_FLAG(int, rpc_pollers, 16,
          "Threads kept ready for the other unary calls (UpdateUser, "
          "DeleteUser, ListUsers); gRPC adds more under load, up to 4x. Too "
          "few make gRPC start and stop a thread per call.");
ABSL_FLAG(bool, admin_service, true,
          "Serve userservice.admin.v1.AdminService (endpoint health, lag "
          "and pool status; no user data).");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9464",
          "Address of the HTTP listener serving Prometheus metrics at "
          "/metrics, HOST:PORT (port 0 picks a free port). Empty: no "
          "metrics.");
ABSL_FLAG(std::string, tls_cert, "",
          "Server certificate chain (PEM). With --tls-key: serve TLS instead "
          "of plaintext.");
ABSL_FLAG(std::string, tls_key, "", "Private key (PEM) of --tls-cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA bundle (PEM). When set, clients must present a certificate "
          "signed by one of these CAs (mutual TLS).");
ABSL_FLAG(absl::Duration, tls_refresh_interval, absl::Seconds(10),
          "How often the TLS files are re-read; new connections use "
          "rotated files after at most this long (whole seconds).");
ABSL_FLAG(std::string, db_tls_ca, "",
          "CA bundle (PEM) for the database servers' certificates. Setting "
          "it (or --db-tls-cert) makes TLS to the database mandatory.");
ABSL_FLAG(std::string, db_tls_cert, "",
          "Client certificate (PEM) presented to the database.");
ABSL_FLAG(std::string, db_tls_key, "", "Private key (PEM) of --db-tls-cert.");
ABSL_FLAG(bool, db_tls_verify_server_identity, true,
          "With database TLS, also check that the server certificate names "
          "the host connected to (its chain is always checked against "
          "--db-tls-ca).");
ABSL_FLAG(int, max_receive_message_size, 1 << 20,
          "Largest request message in bytes; larger ones fail with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_concurrent_streams, 1000,
          "Most calls in flight on one client connection; more wait in the "
          "client.");
ABSL_FLAG(absl::Duration, keepalive_min_ping_interval, absl::Seconds(10),
          "Clients pinging more often than this without sending calls get a "
          "strike.");
ABSL_FLAG(int, keepalive_max_ping_strikes, 2,
          "Strikes after which a client connection is closed (GOAWAY "
          "too_many_pings); 0 means unlimited.");
ABSL_FLAG(absl::Duration, keepalive_time, absl::Minutes(1),
          "How often the server pings an idle client connection.");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::Seconds(20),
          "A connection whose ping is not answered within this is closed.");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(30),
          "Clients are asked to reconnect after this long (GOAWAY, with "
          "gRPC's 10% jitter), so that servers added by a scale-up or a "
          "rollout get their share of long-lived clients; 0 means never.");
ABSL_FLAG(absl::Duration, max_connection_age_grace, absl::Minutes(1),
          "How long calls in flight on a connection past its age may take "
          "to finish before it is closed.");
ABSL_FLAG(absl::Duration, max_deadline, absl::Minutes(5),
          "Longest a call may run on the server; a later client deadline is "
          "cut to this (the call then ends with DEADLINE_EXCEEDED).");
ABSL_FLAG(std::string, log_level, "info",
          "Least severe log level written: debug, info, warning or error.");
ABSL_FLAG(std::string, access_log_level, "info",
          "Level of the one access line per call (method, peer, code, "
          "duration, endpoint, request id): info, debug (written only with "
          "--log-level=debug) or off.");
ABSL_FLAG(int, access_log_sample, 100,
          "Write the access line of one in this many calls that end OK "
          "(1: every call); failed calls are always written, within "
          "--failure-log-limit. Every line costs the server about a "
          "quarter of a GetUser's CPU.");
ABSL_FLAG(int, failure_log_limit, 20,
          "Most access lines of failed calls, and most \"call failed\" "
          "warnings, per second for each method and status code; the next "
          "line written counts those left out (similar_left_out). 0: no "
          "limit.");

namespace userservice {
namespace {

constexpr char kThisFile[] = "server/app/main.cc";
constexpr char kEnvPrefix[] = "USER_SERVICE_";
constexpr char kServiceName[] = "userservice.v1.UserService";

struct ServerConfig {
  std::string listen;
  std::string metrics_listen;  // empty: off
  mysql::Endpoint primary;
  std::vector<mysql::Endpoint> replicas;
  mysql::ConnectionSettings connection;
  PoolOptions pool;
  HealthPolicy health;
  CheckerOptions checker;
  absl::Duration check_timeout;
  bool admin_service;
  ServiceOptions service;
  RouterOptions router;
  AsyncUnaryServerOptions async_methods;
  int rpc_pollers;
  observability::CallLogOptions call_log;
  absl::Duration shutdown_grace;
  absl::Duration request_id_retention;
  bool migrate;
  bool migrate_only;
  absl::Duration migrate_timeout;
  ServerTlsFiles tls;
  CertificateSummary tls_certificate;  // when tls.enabled()
  ServerLimits limits;
};

absl::StatusOr<std::string> ReadPasswordFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::UnavailableError(
        absl::StrCat("cannot read the database password file ", path));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  // Secrets written by editors and `echo` end with a newline that is not
  // part of the password.
  return std::string(absl::StripTrailingAsciiWhitespace(contents.str()));
}

absl::StatusOr<ReadConsistency> ParseConsistency(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "eventual") return ReadConsistency::kEventual;
  if (lower == "session") return ReadConsistency::kSession;
  if (lower == "strong") return ReadConsistency::kStrong;
  return absl::InvalidArgumentError(absl::StrCat(
      "--default-consistency: \"", text,
      "\" is not one of eventual, session, strong (bounded staleness needs "
      "a max_staleness, so only a caller can ask for it)"));
}

// Flags -> validated config, or a message saying which flag is wrong.
absl::StatusOr<ServerConfig> LoadConfig() {
  ServerConfig config;
  config.listen = absl::GetFlag(FLAGS_listen);
  if (config.listen.empty()) {
    return absl::InvalidArgumentError("--listen: must not be empty");
  }
  config.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (!config.metrics_listen.empty() &&
      config.metrics_listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        "--metrics-listen: must be HOST:PORT, or empty for no metrics");
  }
  if (absl::GetFlag(FLAGS_primary).empty()) {
    return absl::InvalidArgumentError(
        "--primary (or USER_SERVICE_PRIMARY) is required: the writable "
        "database as HOST:PORT");
  }
  absl::StatusOr<mysql::Endpoint> primary =
      ParseEndpoint("primary", absl::GetFlag(FLAGS_primary));
  if (!primary.ok()) return primary.status();
  config.primary = *primary;
  absl::StatusOr<std::vector<mysql::Endpoint>> replicas =
      ParseReplicas(absl::GetFlag(FLAGS_replicas));
  if (!replicas.ok()) return replicas.status();
  config.replicas = *replicas;

  config.connection.database = absl::GetFlag(FLAGS_db_name);
  config.connection.user = absl::GetFlag(FLAGS_db_user);
  if (config.connection.database.empty() || config.connection.user.empty()) {
    return absl::InvalidArgumentError(
        "--db-name and --db-user must not be empty");
  }
  const std::string password_file = absl::GetFlag(FLAGS_db_password_file);
  if (!password_file.empty()) {
    absl::StatusOr<std::string> probe = ReadPasswordFile(password_file);
    if (!probe.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--db-password-file: ", probe.status().message()));
    }
    config.connection.password = [password_file]() {
      return ReadPasswordFile(password_file);
    };
  } else {
    const char* env = std::getenv("USER_SERVICE_DB_PASSWORD");
    const std::string password = env == nullptr ? "" : env;
    config.connection.password = [password]() -> absl::StatusOr<std::string> {
      return password;
    };
  }
  config.connection.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  config.connection.socket_timeout = absl::GetFlag(FLAGS_db_socket_timeout);
  config.connection.tls.ca = absl::GetFlag(FLAGS_db_tls_ca);
  config.connection.tls.cert = absl::GetFlag(FLAGS_db_tls_cert);
  config.connection.tls.key = absl::GetFlag(FLAGS_db_tls_key);
  config.connection.tls.verify_server_identity =
      absl::GetFlag(FLAGS_db_tls_verify_server_identity);
  if (absl::Status db_tls = CheckClientTlsFiles(
          {config.connection.tls.ca, config.connection.tls.cert,
           config.connection.tls.key},
          "--db-tls-");
      !db_tls.ok()) {
    return db_tls;
  }

  config.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  config.tls.key = absl::GetFlag(FLAGS_tls_key);
  config.tls.client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  config.tls.refresh_interval = absl::GetFlag(FLAGS_tls_refresh_interval);
  if (absl::Status tls = ValidateServerTlsFlags(config.tls); !tls.ok()) {
    return tls;
  }
  if (config.tls.enabled()) {
    absl::StatusOr<CertificateSummary> certificate =
        CheckServerTlsFiles(config.tls);
    if (!certificate.ok()) return certificate.status();
    config.tls_certificate = *certificate;
  }
  config.limits.max_receive_message_bytes =
      absl::GetFlag(FLAGS_max_receive_message_size);
  config.limits.max_concurrent_streams =
      absl::GetFlag(FLAGS_max_concurrent_streams);
  config.limits.min_ping_interval =
      absl::GetFlag(FLAGS_keepalive_min_ping_interval);
  config.limits.max_ping_strikes =
      absl::GetFlag(FLAGS_keepalive_max_ping_strikes);
  config.limits.keepalive_time = absl::GetFlag(FLAGS_keepalive_time);
  config.limits.keepalive_timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  config.limits.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  config.limits.max_connection_age_grace =
      absl::GetFlag(FLAGS_max_connection_age_grace);
  if (absl::Status limits = ValidateServerLimits(config.limits);
      !limits.ok()) {
    return limits;
  }

  config.pool.max_size = absl::GetFlag(FLAGS_pool_size);
  if (config.pool.max_size < 1 || config.pool.max_size > 1000) {
    return absl::InvalidArgumentError("--pool-size: must be 1 to 1000");
  }
  config.pool.acquire_timeout = absl::GetFlag(FLAGS_pool_acquire_timeout);
  config.pool.max_lifetime = absl::GetFlag(FLAGS_pool_max_lifetime);
  config.pool.idle_timeout = absl::GetFlag(FLAGS_pool_idle_timeout);
  config.pool.validate_after_idle = absl::GetFlag(FLAGS_pool_validate_after);
  config.pool.max_opening = absl::GetFlag(FLAGS_pool_max_opening);
  if (config.pool.max_opening < 1) {
    return absl::InvalidArgumentError("--pool-max-opening: must be at least 1");
  }
  config.checker.check_interval = absl::GetFlag(FLAGS_health_check_interval);
  config.checker.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  config.check_timeout = absl::GetFlag(FLAGS_health_check_timeout);
  config.health.eject_after_failures = absl::GetFlag(FLAGS_eject_after);
  config.health.readmit_after_successes = absl::GetFlag(FLAGS_readmit_after);
  config.health.max_eventual_lag = absl::GetFlag(FLAGS_max_eventual_lag);
  config.health.heartbeat_interval = config.checker.heartbeat_interval;
  // A measurement missed by a few checks in a row no longer counts.
  config.health.lag_valid_for =
      std::max(absl::Seconds(3), 4 * config.checker.check_interval);
  if (config.health.eject_after_failures < 1 ||
      config.health.readmit_after_successes < 1) {
    return absl::InvalidArgumentError(
        "--eject-after and --readmit-after: must be at least 1");
  }
  config.router.max_fallback_reads = absl::GetFlag(FLAGS_max_fallback_reads);
  if (config.router.max_fallback_reads < 0) {
    return absl::InvalidArgumentError(
        "--max-fallback-reads: must not be negative");
  }
  config.async_methods.threads = absl::GetFlag(FLAGS_read_workers);
  config.async_methods.max_batch = absl::GetFlag(FLAGS_read_batch_max);
  config.service.write_workers = absl::GetFlag(FLAGS_write_workers);
  config.service.write_batch_max = absl::GetFlag(FLAGS_write_batch_max);
  config.service.lookup_workers = absl::GetFlag(FLAGS_lookup_workers);
  config.rpc_pollers = absl::GetFlag(FLAGS_rpc_pollers);
  if (config.async_methods.threads < 1 || config.async_methods.max_batch < 1 ||
      config.service.write_workers < 1 || config.service.write_batch_max < 1 ||
      config.service.lookup_workers < 1 || config.rpc_pollers < 1) {
    return absl::InvalidArgumentError(
        "--read-workers, --read-batch-max, --write-workers, "
        "--write-batch-max, --lookup-workers and --rpc-pollers must be >= 1");
  }
  config.admin_service = absl::GetFlag(FLAGS_admin_service);
  config.router.session_wait = absl::GetFlag(FLAGS_session_wait);
  config.service.default_deadline = absl::GetFlag(FLAGS_default_deadline);
  config.service.max_deadline = absl::GetFlag(FLAGS_max_deadline);
  config.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  config.request_id_retention = absl::GetFlag(FLAGS_request_id_retention);
  if (config.request_id_retention < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--request-id-retention: must not be negative (0: keep forever)");
  }
  config.migrate_timeout = absl::GetFlag(FLAGS_migrate_timeout);
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
        std::pair{"--migrate-timeout", config.migrate_timeout}}) {
    if (value <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": must be a positive duration such as 2s"));
    }
  }
  if (config.router.session_wait < absl::ZeroDuration() ||
      config.shutdown_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--session-wait and --shutdown-grace must not be negative");
  }
  if (config.service.default_deadline > config.service.max_deadline) {
    return absl::InvalidArgumentError(
        "--default-deadline: must not exceed --max-deadline");
  }
  absl::StatusOr<ReadConsistency> consistency =
      ParseConsistency(absl::GetFlag(FLAGS_default_consistency));
  if (!consistency.ok()) return consistency.status();
  config.service.default_consistency = *consistency;
  config.migrate = absl::GetFlag(FLAGS_migrate);
  config.migrate_only = absl::GetFlag(FLAGS_migrate_only);

  log::Level level;
  if (!log::ParseLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return absl::InvalidArgumentError(
        "--log-level: must be debug, info, warning or error");
  }
  log::SetMinLevel(level);
  absl::StatusOr<observability::CallLogOptions> call_log =
      observability::ParseAccessLogLevel(absl::GetFlag(FLAGS_access_log_level));
  if (!call_log.ok()) return call_log.status();
  config.call_log = *std::move(call_log);
  config.call_log.endpoint_metadata_key = kServedByMetadataKey;
  config.call_log.sample_ok_every = absl::GetFlag(FLAGS_access_log_sample);
  if (config.call_log.sample_ok_every < 1) {
    return absl::InvalidArgumentError(
        "--access-log-sample: must be at least 1");
  }
  config.call_log.failure_lines_per_second =
      absl::GetFlag(FLAGS_failure_log_limit);
  config.service.failure_warnings_per_second =
      config.call_log.failure_lines_per_second;
  if (config.call_log.failure_lines_per_second < 0) {
    return absl::InvalidArgumentError(
        "--failure-log-limit: must not be negative (0: no limit)");
  }
  return config;
}

// Retries until the primary answers (it may still be starting, e.g. in a
// Kubernetes rollout) or the migrate timeout passes.
absl::Status MigrateWithRetry(const ServerConfig& config) {
  const absl::Time give_up = absl::Now() + config.migrate_timeout;
  absl::Duration backoff = absl::Milliseconds(200);
  while (true) {
    absl::StatusOr<std::unique_ptr<mysql::MysqlConnection>> conn =
        mysql::MysqlConnection::Open(config.primary, config.connection,
                                     give_up);
    absl::Status status = conn.status();
    if (conn.ok()) {
      absl::StatusOr<mysql::MigrationResult> result =
          mysql::Migrate(**conn, give_up);
      if (result.ok()) {
        log::Info("schema is up to date",
                  {{"schema_version", absl::StrCat(result->schema_version)},
                   {"applied", absl::StrCat(result->applied)}});
        return absl::OkStatus();
      }
      status = result.status();
    }
    if (!absl::IsUnavailable(status) && !absl::IsDeadlineExceeded(status)) {
      return status;
    }
    if (absl::Now() + backoff >= give_up) return status;
    log::Warning("primary not ready for migrations; retrying",
                 {{"error", std::string(status.message())},
                  {"retry_in", absl::FormatDuration(backoff)}});
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

// Names this process's heartbeat row: unique among the servers that share
// the database (pods of a Deployment, or several on one host).
std::string WriterId() {
  char host[64] = {0};
  gethostname(host, sizeof(host) - 1);
  absl::BitGen gen;
  return absl::StrCat(std::string(host).substr(0, 40), "-", getpid(), "-",
                      absl::Hex(absl::Uniform<uint32_t>(gen), absl::kZeroPad8));
}

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

// Deletes idempotency keys older than `retention` in statements of a
// bounded size, so that no purge holds locks or the maintenance thread for
// long; what is left goes in the next round.
void PurgeExpiredRequestIds(mysql::MysqlUserStore& primary,
                            absl::Duration retention) {
  constexpr int kRowsPerStatement = 1000;
  constexpr int kStatementsPerRound = 10;
  int64_t purged = 0;
  for (int i = 0; i < kStatementsPerRound; ++i) {
    RequestContext ctx;
    ctx.deadline = absl::Now() + absl::Seconds(5);
    absl::StatusOr<int64_t> deleted =
        primary.PurgeCreateRequests(retention, kRowsPerStatement, ctx);
    if (!deleted.ok()) {
      log::Warning("cannot purge expired request ids",
                   {{"error", std::string(deleted.status().message())}});
      break;
    }
    purged += *deleted;
    if (*deleted < kRowsPerStatement) break;
  }
  if (purged > 0) {
    log::Info("purged expired request ids",
              {{"rows", log::Number(static_cast<double>(purged))},
               {"retention", absl::FormatDuration(retention)}});
  }
}

std::unique_ptr<EndpointRuntime> MakeEndpoint(
    const ServerConfig& config, const mysql::Endpoint& endpoint,
    bool is_primary, metrics::ServerMetrics* server_metrics) {
  auto runtime = std::make_unique<EndpointRuntime>();
  runtime->endpoint = endpoint;
  PoolOptions options = config.pool;
  options.name = endpoint.name;
  if (server_metrics != nullptr) {
    options.observer = server_metrics->pool_observer(endpoint.name);
  }
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

int Run(const ServerConfig& config) {
  mysql::InitDriver();
  if (config.migrate || config.migrate_only) {
    absl::Status migrated = MigrateWithRetry(config);
    if (!migrated.ok()) {
      log::Error("schema migration failed",
                 {{"error", std::string(migrated.message())}});
      return 1;
    }
    if (config.migrate_only) return 0;
  }

  const std::string writer_id = WriterId();
  std::unique_ptr<metrics::ServerMetrics> server_metrics;
  if (!config.metrics_listen.empty()) {
    std::vector<std::string> replica_names;
    for (const mysql::Endpoint& r : config.replicas) {
      replica_names.push_back(r.name);
    }
    server_metrics = std::make_unique<metrics::ServerMetrics>(
        config.primary.name, replica_names,
        metrics::MethodsOfServices(
            {kServiceName, "userservice.admin.v1.AdminService",
             "grpc.health.v1.Health",
             "grpc.reflection.v1alpha.ServerReflection"}));
  }
  PrimaryHealth primary_health;
  std::unique_ptr<EndpointRuntime> primary = MakeEndpoint(
      config, config.primary, /*is_primary=*/true, server_metrics.get());
  std::vector<std::unique_ptr<EndpointRuntime>> replicas;
  std::vector<NamedReader> readers;
  std::vector<HealthChecker::Replica> checked;
  for (const mysql::Endpoint& endpoint : config.replicas) {
    replicas.push_back(
        MakeEndpoint(config, endpoint, /*is_primary=*/false,
                     server_metrics.get()));
    EndpointRuntime& r = *replicas.back();
    r.health = std::make_unique<ReplicaHealth>(endpoint.name, config.health);
    r.probe = std::make_unique<mysql::MysqlReplicaProbe>(
        endpoint, config.connection, writer_id, config.check_timeout);
    readers.push_back({endpoint.name, r.store.get(), r.health.get()});
    checked.push_back({r.probe.get(), r.health.get()});
  }
  RouterOptions router_options = config.router;
  if (server_metrics != nullptr) {
    router_options.observer = server_metrics->routing();
  }
  ReadRouter router({config.primary.name, primary->store.get()},
                    std::move(readers), router_options);
  ServiceOptions service_options = config.service;
  if (server_metrics != nullptr) {
    service_options.create_observer = server_metrics->creates();
  }
  UserServiceImpl service(primary->store.get(), &router, service_options);
  BatchedUserMethods batched_methods(&service, config.async_methods);

  // Readiness: the service is useful while writes can succeed or at least
  // one replica can serve reads.
  HealthService health;
  std::atomic<bool> serving{true};
  std::atomic<bool> shutting_down{false};
  auto update_readiness = [&]() {
    bool ready = primary_health.writable();
    for (const auto& r : replicas) {
      ready = ready || r->health->EligibleForEventual(absl::Now());
    }
    const bool was = serving.exchange(ready);
    if (!shutting_down.load()) health.SetServingStatus(kServiceName, ready);
    if (was != ready) {
      log::Write(ready ? log::Level::kInfo : log::Level::kError,
                 ready ? "ready: a database path works again"
                       : "not ready: primary unavailable and no replica "
                         "in rotation",
                 {{"service", kServiceName}});
    }
  };

  mysql::MysqlHeartbeatSink heartbeat(config.primary, config.connection,
                                      writer_id, config.check_timeout,
                                      primary->demotion.get());
  LagLedger ledger;
  HealthChecker checker(config.checker, &heartbeat, &primary_health, &ledger,
                        std::move(checked), update_readiness);

  auto snapshot = [&]() {
    ServerSnapshot snap;
    const absl::Time now = absl::Now();
    EndpointSnapshot p;
    p.name = config.primary.name;
    p.primary = true;
    p.writable = primary_health.writable();
    p.reason = p.writable ? "" : primary_health.last_error();
    p.pool = primary->pool->Stats();
    snap.endpoints.push_back(std::move(p));
    for (const auto& r : replicas) {
      EndpointSnapshot e;
      e.name = r->endpoint.name;
      e.replica = r->health->Snapshot(now);
      e.reason = e.replica.reason;
      e.pool = r->pool->Stats();
      snap.endpoints.push_back(std::move(e));
    }
    snap.serving = serving.load();
    snap.fallback = router.fallback_stats();
    return snap;
  };
  AdminServiceImpl admin(snapshot);

  std::unique_ptr<metrics::MetricsServer> metrics_server;
  if (server_metrics != nullptr) {
    std::vector<metrics::PoolStatsCollector::Pool> pools = {
        {config.primary.name,
         [p = primary->pool.get()] { return p->Stats(); }}};
    std::vector<metrics::ReplicaCollector::Replica> replica_health;
    for (const auto& r : replicas) {
      pools.push_back(
          {r->endpoint.name, [p = r->pool.get()] { return p->Stats(); }});
      replica_health.push_back({r->endpoint.name, r->health.get()});
    }
    absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> started =
        server_metrics->Serve(config.metrics_listen, std::move(pools),
                              std::move(replica_health));
    if (!started.ok()) {
      log::Error("cannot serve metrics",
                 {{"error", std::string(started.status().message())}});
      return 1;
    }
    metrics_server = *std::move(started);
    log::Info("serving metrics",
              {{"metrics_listen", config.metrics_listen},
               {"metrics_port", absl::StrCat(metrics_server->port())}});
  }

  // Liveness: the overall status stays SERVING while the process runs.
  // Readiness (kServiceName) follows update_readiness from here on.
  health.SetServingStatus("", true);
  health.SetServingStatus(kServiceName, true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, BuildServerCredentials(config.tls),
                           &port);
  ApplyServerLimits(config.limits, builder);
  builder.RegisterService(&service);
  builder.RegisterService(&health);
  batched_methods.AddTo(builder);
  // gRPC's defaults (1 to 2 pollers) make the sync server start and end a
  // thread for nearly every call under load.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
                              config.rpc_pollers);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              4 * config.rpc_pollers);
  if (config.admin_service) builder.RegisterService(&admin);
  // Interceptors see sync and async handlers alike. The call log's comes
  // first: it settles the request id the others may log.
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(
      std::make_unique<observability::CallLogInterceptorFactory>(
          config.call_log));
  if (server_metrics != nullptr) {
    interceptors.push_back(server_metrics->InterceptorFactory());
  }
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    log::Error("cannot listen", {{"listen", config.listen}});
    return 1;
  }
  batched_methods.Start();
  checker.Start();

  // Pools retire idle and aged connections even when no call comes by, and
  // once a minute expired idempotency keys are forgotten.
  absl::Notification stop_maintenance;
  std::thread maintenance([&]() {
    absl::Time next_purge = absl::Now() + absl::Minutes(1);
    while (!stop_maintenance.WaitForNotificationWithTimeout(absl::Seconds(1))) {
      primary->pool->Maintain();
      for (const auto& r : replicas) r->pool->Maintain();
      if (config.request_id_retention > absl::ZeroDuration() &&
          absl::Now() >= next_purge) {
        PurgeExpiredRequestIds(*primary->store, config.request_id_retention);
        next_purge = absl::Now() + absl::Minutes(1);
      }
    }
  });

  std::string replica_names;
  for (const mysql::Endpoint& r : config.replicas) {
    absl::StrAppend(&replica_names, replica_names.empty() ? "" : ",", r.name,
                    "=", r.host, ":", r.port);
  }
  log::Info(
      "serving",
      {{"listen", config.listen},
       {"port", absl::StrCat(port)},
       {"primary", absl::StrCat(config.primary.host, ":", config.primary.port)},
       {"replicas", replica_names},
       {"heartbeat_writer", writer_id},
       {"transport", !config.tls.enabled() ? "plaintext"
                     : config.tls.mutual() ? "mutual-tls"
                                           : "tls"},
       {"certificate_serial", config.tls_certificate.serial},
       {"certificate_not_after", config.tls_certificate.not_after},
       {"database_tls", config.connection.tls.enabled() ? "required" : "off"}});
  // Info lines are batched; this one is what operators and scripts wait
  // for, so it goes out now.
  log::Flush();

  // Signals were blocked in every thread before gRPC started its own; this
  // one thread receives them synchronously.
  std::thread signal_thread([&]() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    int signal = 0;
    // SIGHUP does not reload anything itself: gRPC re-reads the TLS files
    // every --tls-refresh-interval. It re-checks them now, so whoever
    // rotated them learns at once whether the next refresh will take.
    while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) {
      LogServerTlsRecheck(config.tls);
    }
    log::Info("shutting down",
              {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"},
               {"grace", absl::FormatDuration(config.shutdown_grace)}});
    // Readiness probes and load balancers see NOT_SERVING first.
    shutting_down.store(true);
    health.Shutdown();
    server->Shutdown(absl::ToChronoTime(absl::Now() + config.shutdown_grace));
  });
  server->Wait();
  signal_thread.join();
  batched_methods.Shutdown();
  checker.Stop();
  stop_maintenance.Notify();
  maintenance.join();
  primary->pool->Close();
  for (auto& r : replicas) r->pool->Close();
  log::Info("stopped");
  return 0;
}

}  // namespace
}  // namespace userservice

int main(int argc, char** argv) {
  using namespace userservice;  // NOLINT(build/namespaces): main only
  // Before any thread exists, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles,
  // a debugging aid that costs a few percent of a busy server's CPU.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // gRPC and protobuf would otherwise write plain-text lines to stderr.
  observability::RouteLibraryLogs();

  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "-help" ||
        arg == "--helpfull") {
      std::fputs(HelpText("user_server",
                          "gRPC UserService over a MariaDB primary (writes) "
                          "and round-robin replicas (reads).",
                          kThisFile, kEnvPrefix)
                     .c_str(),
                 stdout);
      return 0;
    }
  }
  if (absl::Status env = ApplyEnvironment(kThisFile, kEnvPrefix); !env.ok()) {
    std::fprintf(stderr, "user_server: %s\n",
                 std::string(env.message()).c_str());
    return 2;
  }
  std::vector<std::string> args = NormalizeFlagNames(argc, argv);
  std::vector<char*> arg_ptrs;
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  std::vector<char*> positional = absl::ParseCommandLine(
      static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  if (positional.size() > 1) {
    std::fprintf(stderr,
                 "user_server: unexpected argument \"%s\"; see --help\n",
                 positional[1]);
    return 2;
  }
  absl::StatusOr<ServerConfig> config = LoadConfig();
  if (!config.ok()) {
    std::fprintf(stderr, "user_server: %s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  // The access log writes a line per call: batched into one write(2) per
  // 100 ms (warnings and errors still go out at once).
  log::SetBatching(absl::Milliseconds(100));
  return Run(*config);
}
