// Every flag of user_server. Defaults come from a default-constructed
// ServerConfig, whose members are the subsystems' own options structs, so a
// default is written once. Help texts say what a setting does and what it
// trades; measurements belong in client/bench, not here.

#include "server/app/flags.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/app/config.h"

namespace userservice {
namespace {

const ServerConfig& Default() {
  static const ServerConfig* const config = new ServerConfig();
  return *config;
}

std::string AccessLogLevelName(const observability::CallLogOptions& options) {
  return options.enabled ? log::LevelName(options.level) : "off";
}

}  // namespace
}  // namespace userservice

using userservice::Default;

ABSL_FLAG(std::string, listen, Default().listen,
          "gRPC listen address, HOST:PORT (port 0 picks a free port).");
ABSL_FLAG(std::string, primary, "",
          "Primary (writable) database, HOST:PORT, called \"primary\". "
          "Required unless --databases is given. It is one endpoint of the "
          "replication cluster: the server follows whichever endpoint the "
          "cluster makes writable.");
ABSL_FLAG(std::string, replicas, "",
          "Read replicas, comma-separated HOST:PORT or NAME=HOST:PORT. "
          "Unnamed ones are called replica-0, replica-1, ... in this order. "
          "Empty: every read goes to the primary.");
ABSL_FLAG(std::string, databases, "",
          "Every database of the replication cluster, comma-separated "
          "HOST:PORT or NAME=HOST:PORT, with no roles: the server elects "
          "the writer. Unnamed ones are called db-0, db-1, ... Replaces "
          "--primary and --replicas.");
ABSL_FLAG(absl::Duration, write_hold, Default().topology.write_hold,
          "Longest a write (or a read that needs the writer) waits for a "
          "writer to be elected, e.g. during a switchover, before failing "
          "UNAVAILABLE; never past the call's deadline. 0: no wait.");
ABSL_FLAG(absl::Duration, hung_endpoint_timeout,
          Default().hung_endpoint_timeout,
          "A statement on a database that has answered nothing (no other "
          "statement, no health check) for this long is abandoned: its "
          "connection is cut and the call fails UNAVAILABLE (reads go to the "
          "next endpoint) instead of waiting out its deadline. Reads use a "
          "third of their remaining time if that is shorter. Opening a "
          "pooled connection takes at most this long too (if shorter than "
          "--connect-timeout), and none is opened to a database silent for "
          "this long. At least twice --health-check-interval; 0: never.");
ABSL_FLAG(int, max_held_writes, Default().topology.max_held_calls,
          "Most calls that may wait for a writer at once; more fail "
          "UNAVAILABLE at once.");
ABSL_FLAG(std::string, db_name, Default().connection.database,
          "Database (schema) name.");
ABSL_FLAG(std::string, db_user, Default().connection.user, "Database user.");
ABSL_FLAG(std::string, db_password_file, "",
          "File holding the database password, re-read on every new "
          "connection so a rotated secret is picked up. When empty, the "
          "password comes from the environment variable "
          "USER_SERVICE_DB_PASSWORD (never from a flag, which ps shows).");
ABSL_FLAG(int, pool_size, Default().pool.max_size,
          "Most connections per database endpoint (each has its own "
          "pool).");
ABSL_FLAG(absl::Duration, pool_acquire_timeout, Default().pool.acquire_timeout,
          "Longest a call waits for a free pooled connection before it "
          "fails with RESOURCE_EXHAUSTED (its own deadline, if sooner, "
          "gives DEADLINE_EXCEEDED).");
ABSL_FLAG(absl::Duration, connect_timeout, Default().connection.connect_timeout,
          "Timeout for opening a database connection (whole seconds, at "
          "least 1s; never beyond the call's deadline).");
ABSL_FLAG(absl::Duration, db_socket_timeout,
          Default().connection.socket_timeout,
          "Socket read/write timeout of database connections: a backstop "
          "for a database that stops answering; queries are normally "
          "bounded by the call's deadline.");
ABSL_FLAG(std::string, default_consistency,
          userservice::ConsistencyName(Default().service.default_consistency),
          "Consistency of reads that leave it unspecified: eventual, "
          "session or strong.");
ABSL_FLAG(absl::Duration, session_wait, Default().router.session_wait,
          "Longest a session read waits for a replica to apply its tokens' "
          "position before reading from the primary; only when no replica "
          "is known to have applied it already.");
ABSL_FLAG(absl::Duration, default_deadline, Default().service.default_deadline,
          "Deadline for calls that arrive without one.");
ABSL_FLAG(absl::Duration, shutdown_grace, Default().shutdown_grace,
          "On SIGTERM/SIGINT, how long in-flight calls may take to finish "
          "before they are cancelled.");
ABSL_FLAG(bool, migrate, Default().migration.migrate,
          "Apply pending schema migrations to the elected writer at "
          "startup.");
ABSL_FLAG(bool, migrate_only, Default().migration.only,
          "Apply pending schema migrations, then exit (0 on success).");
ABSL_FLAG(absl::Duration, migrate_timeout, Default().migration.timeout,
          "How long startup keeps retrying to find the writer for "
          "migrations before giving up with a non-zero exit.");
ABSL_FLAG(absl::Duration, pool_max_lifetime, Default().pool.max_lifetime,
          "Connections are closed after at most this long (each gets a "
          "lifetime up to 20% shorter, so they do not all reconnect at "
          "once); inf disables.");
ABSL_FLAG(absl::Duration, pool_idle_timeout, Default().pool.idle_timeout,
          "Idle pooled connections are closed after this long.");
ABSL_FLAG(absl::Duration, pool_validate_after,
          Default().pool.validate_after_idle,
          "A pooled connection idle for longer than this is pinged before "
          "a call gets it; a dead one is replaced, not handed out.");
ABSL_FLAG(int, pool_max_opening, Default().pool.max_opening,
          "Most connections being opened at once per endpoint, so a "
          "recovering database is not hit by a burst of connects.");
ABSL_FLAG(absl::Duration, health_check_interval,
          Default().checker.check_interval,
          "How often each database endpoint is checked (reachability, "
          "read_only, replication source and threads, heartbeat lag): what "
          "the writer election and the read rotation follow. While no "
          "writer is elected, every 100ms.");
ABSL_FLAG(absl::Duration, health_check_timeout, Default().check_timeout,
          "Time limit of one endpoint check or heartbeat write (the socket "
          "part in whole seconds, at least 1s).");
ABSL_FLAG(absl::Duration, heartbeat_interval,
          Default().checker.heartbeat_interval,
          "How often this server writes its heartbeat row on the writer: "
          "the granularity of lag measurement.");
ABSL_FLAG(int, eject_after, Default().health.eject_after_failures,
          "Consecutive failed checks or calls after which a replica leaves "
          "the rotation.");
ABSL_FLAG(int, readmit_after, Default().health.readmit_after_successes,
          "Consecutive passed checks after which an ejected replica "
          "returns to the rotation.");
ABSL_FLAG(absl::Duration, max_eventual_lag, Default().health.max_eventual_lag,
          "EVENTUAL reads skip replicas further behind than this.");
ABSL_FLAG(int, max_fallback_reads, Default().router.max_fallback_reads,
          "Most EVENTUAL/BOUNDED_STALENESS read statements that may run on "
          "the writer at once when no replica can take them (GetUsers "
          "that arrive together share one); beyond it they fail with "
          "UNAVAILABLE. STRONG and SESSION reads are never refused.");
ABSL_FLAG(int, read_workers, Default().dispatcher.threads,
          "Threads taking GetUser and CreateUser calls off gRPC's "
          "completion queue. Each takes every call that has arrived: reads "
          "by id with the same consistency share one `WHERE id IN (...)` "
          "statement, run at once; creates go to the write workers, lookups "
          "to the lookup workers. Each of these threads also polls the "
          "network, so a few are enough.");
ABSL_FLAG(int, read_batch_max, Default().dispatcher.max_calls_per_wake,
          "Most GetUser calls one read statement answers.");
ABSL_FLAG(int, write_workers, Default().service.creates.write_workers,
          "Threads inserting new users. Each takes every create queued "
          "meanwhile: those without a request_id share one multi-row "
          "INSERT and one commit (a batch with a duplicate is retried in "
          "halves, so each caller gets its own answer).");
ABSL_FLAG(int, write_batch_max, Default().service.creates.write_batch_max,
          "Most CreateUser calls one insert answers.");
ABSL_FLAG(int, lookup_workers, Default().service.reads.lookup_workers,
          "Threads for reads that cannot share a statement: GetUser by "
          "username or email, and session reads no replica is known to "
          "have applied, which may wait up to --session-wait for one.");
ABSL_FLAG(absl::Duration, request_id_retention, Default().request_id_retention,
          "How long a CreateUser request_id is remembered; a retry within it "
          "returns the user first created. Older keys are deleted once a "
          "minute. 0 keeps them forever.");
ABSL_FLAG(int, rpc_pollers, Default().rpc_pollers,
          "Threads kept ready for the other unary calls (UpdateUser, "
          "DeleteUser, ListUsers); gRPC adds more under load, up to 4x. Too "
          "few make gRPC start and stop a thread per call.");
ABSL_FLAG(bool, admin_service, Default().admin_service,
          "Serve userservice.admin.v1.AdminService (endpoint health, lag "
          "and pool status; no user data).");
ABSL_FLAG(std::string, metrics_listen, Default().metrics_listen,
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
ABSL_FLAG(absl::Duration, tls_refresh_interval, Default().tls.refresh_interval,
          "How often the TLS files are re-read; new connections use "
          "rotated files after at most this long (whole seconds).");
ABSL_FLAG(std::string, db_tls_ca, "",
          "CA bundle (PEM) for the database servers' certificates. Setting "
          "it (or --db-tls-cert) makes TLS to the database mandatory.");
ABSL_FLAG(std::string, db_tls_cert, "",
          "Client certificate (PEM) presented to the database.");
ABSL_FLAG(std::string, db_tls_key, "", "Private key (PEM) of --db-tls-cert.");
ABSL_FLAG(bool, db_tls_verify_server_identity,
          Default().connection.tls.verify_server_identity,
          "With database TLS, also check that the server certificate names "
          "the host connected to (its chain is always checked against "
          "--db-tls-ca).");
ABSL_FLAG(int, max_receive_message_size,
          Default().limits.max_receive_message_bytes,
          "Largest request message in bytes; larger ones fail with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_concurrent_streams, Default().limits.max_concurrent_streams,
          "Most calls in flight on one client connection; more wait in the "
          "client.");
ABSL_FLAG(absl::Duration, keepalive_min_ping_interval,
          Default().limits.min_ping_interval,
          "Clients pinging more often than this without sending calls get a "
          "strike.");
ABSL_FLAG(int, keepalive_max_ping_strikes, Default().limits.max_ping_strikes,
          "Strikes after which a client connection is closed (GOAWAY "
          "too_many_pings); 0 means unlimited.");
ABSL_FLAG(absl::Duration, keepalive_time, Default().limits.keepalive_time,
          "How often the server pings an idle client connection.");
ABSL_FLAG(absl::Duration, keepalive_timeout, Default().limits.keepalive_timeout,
          "A connection whose ping is not answered within this is closed.");
ABSL_FLAG(absl::Duration, max_connection_age,
          Default().limits.max_connection_age,
          "Clients are asked to reconnect after this long (GOAWAY, with "
          "gRPC's 10% jitter), so that servers added by a scale-up or a "
          "rollout get their share of long-lived clients; 0 means never.");
ABSL_FLAG(absl::Duration, handshake_timeout, Default().limits.handshake_timeout,
          "A connection that has not finished its TLS and HTTP/2 handshake "
          "(the client's preface and SETTINGS) within this is closed.");
ABSL_FLAG(absl::Duration, max_connection_age_grace,
          Default().limits.max_connection_age_grace,
          "How long calls in flight on a connection past its age may take "
          "to finish before it is closed.");
ABSL_FLAG(absl::Duration, max_deadline, Default().service.max_deadline,
          "Longest a call may run on the server; a later client deadline is "
          "cut to this (the call then ends with DEADLINE_EXCEEDED).");
ABSL_FLAG(std::string, log_level,
          userservice::log::LevelName(Default().log_level),
          "Least severe log level written: debug, info, warning or error.");
ABSL_FLAG(std::string, access_log_level,
          userservice::AccessLogLevelName(Default().call_log),
          "Level of the one access line per call (method, peer, code, "
          "duration, endpoint, request id): info, debug (written only with "
          "--log-level=debug) or off.");
ABSL_FLAG(int, access_log_sample, Default().call_log.sample_ok_every,
          "Write the access line of one in this many calls that end OK "
          "(1: every call); failed calls are always written, within "
          "--failure-log-limit. Each line costs CPU on a busy server.");
ABSL_FLAG(int, failure_log_limit, Default().call_log.failure_lines_per_second,
          "Most access lines of failed calls, and most \"call failed\" "
          "warnings, per second for each method and status code, and most "
          "gRPC and protobuf lines per second from each of their source "
          "locations; the next line written counts those left out "
          "(similar_left_out). 0: no limit.");

namespace userservice {
namespace {

using Flags = std::vector<const absl::CommandLineFlag*>;
using cli::Flag;

Flags DatabaseFlags() {
  return {Flag(FLAGS_primary),
          Flag(FLAGS_replicas),
          Flag(FLAGS_databases),
          Flag(FLAGS_write_hold),
          Flag(FLAGS_max_held_writes),
          Flag(FLAGS_hung_endpoint_timeout),
          Flag(FLAGS_db_name),
          Flag(FLAGS_db_user),
          Flag(FLAGS_db_password_file),
          Flag(FLAGS_connect_timeout),
          Flag(FLAGS_db_socket_timeout),
          Flag(FLAGS_db_tls_ca),
          Flag(FLAGS_db_tls_cert),
          Flag(FLAGS_db_tls_key),
          Flag(FLAGS_db_tls_verify_server_identity)};
}

Flags PoolAndHealthFlags() {
  return {Flag(FLAGS_pool_size),
          Flag(FLAGS_pool_acquire_timeout),
          Flag(FLAGS_pool_max_lifetime),
          Flag(FLAGS_pool_idle_timeout),
          Flag(FLAGS_pool_validate_after),
          Flag(FLAGS_pool_max_opening),
          Flag(FLAGS_health_check_interval),
          Flag(FLAGS_health_check_timeout),
          Flag(FLAGS_heartbeat_interval),
          Flag(FLAGS_eject_after),
          Flag(FLAGS_readmit_after),
          Flag(FLAGS_max_eventual_lag)};
}

Flags ServiceFlags() {
  return {Flag(FLAGS_default_consistency),  Flag(FLAGS_session_wait),
          Flag(FLAGS_max_fallback_reads),   Flag(FLAGS_default_deadline),
          Flag(FLAGS_max_deadline),         Flag(FLAGS_read_workers),
          Flag(FLAGS_read_batch_max),       Flag(FLAGS_write_workers),
          Flag(FLAGS_write_batch_max),      Flag(FLAGS_lookup_workers),
          Flag(FLAGS_request_id_retention), Flag(FLAGS_rpc_pollers),
          Flag(FLAGS_admin_service)};
}

Flags TransportFlags() {
  return {Flag(FLAGS_listen),
          Flag(FLAGS_tls_cert),
          Flag(FLAGS_tls_key),
          Flag(FLAGS_tls_client_ca),
          Flag(FLAGS_tls_refresh_interval),
          Flag(FLAGS_max_receive_message_size),
          Flag(FLAGS_max_concurrent_streams),
          Flag(FLAGS_keepalive_min_ping_interval),
          Flag(FLAGS_keepalive_max_ping_strikes),
          Flag(FLAGS_keepalive_time),
          Flag(FLAGS_keepalive_timeout),
          Flag(FLAGS_max_connection_age),
          Flag(FLAGS_max_connection_age_grace),
          Flag(FLAGS_handshake_timeout)};
}

Flags LifecycleAndLoggingFlags() {
  return {Flag(FLAGS_shutdown_grace),   Flag(FLAGS_migrate),
          Flag(FLAGS_migrate_only),     Flag(FLAGS_migrate_timeout),
          Flag(FLAGS_metrics_listen),   Flag(FLAGS_log_level),
          Flag(FLAGS_access_log_level), Flag(FLAGS_access_log_sample),
          Flag(FLAGS_failure_log_limit)};
}

}  // namespace

const cli::CommandLineSpec& ServerCommandLine() {
  static const cli::CommandLineSpec* const spec = [] {
    auto* spec = new cli::CommandLineSpec();
    spec->program = "user_server";
    spec->usage = absl::StrCat(
        "Usage: user_server [--flag=value ...]\n\n"
        "gRPC UserService over a MariaDB primary (writes) and round-robin "
        "replicas (reads).\n"
        "Health (grpc.health.v1.Health): liveness as service \"\", "
        "readiness as service \"",
        kReadinessServiceName, "\".\n");
    spec->env_prefix = "USER_SERVICE_";
    for (const Flags& group :
         {DatabaseFlags(), PoolAndHealthFlags(), ServiceFlags(),
          TransportFlags(), LifecycleAndLoggingFlags()}) {
      spec->flags.insert(spec->flags.end(), group.begin(), group.end());
    }
    return spec;
  }();
  return *spec;
}

}  // namespace userservice
