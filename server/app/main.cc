// user_server: wires flags -> config -> pools -> stores -> router -> service
// -> gRPC server. The only file that knows every concrete type.

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/app/endpoints.h"
#include "server/app/flag_sources.h"
#include "server/common/log.h"
#include "server/mysql/migrations.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/mysql_user_store.h"
#include "server/routing/read_router.h"
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
ABSL_FLAG(std::string, log_level, "info",
          "Least severe log level written: debug, info, warning or error.");

namespace userservice {
namespace {

constexpr char kThisFile[] = "server/app/main.cc";
constexpr char kEnvPrefix[] = "USER_SERVICE_";
constexpr char kServiceName[] = "userservice.v1.UserService";

struct ServerConfig {
  std::string listen;
  mysql::Endpoint primary;
  std::vector<mysql::Endpoint> replicas;
  mysql::ConnectionSettings connection;
  int pool_size;
  absl::Duration pool_acquire_timeout;
  ServiceOptions service;
  RouterOptions router;
  absl::Duration shutdown_grace;
  bool migrate;
  bool migrate_only;
  absl::Duration migrate_timeout;
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

  config.pool_size = absl::GetFlag(FLAGS_pool_size);
  if (config.pool_size < 1 || config.pool_size > 1000) {
    return absl::InvalidArgumentError("--pool-size: must be 1 to 1000");
  }
  config.pool_acquire_timeout = absl::GetFlag(FLAGS_pool_acquire_timeout);
  config.router.session_wait = absl::GetFlag(FLAGS_session_wait);
  config.service.default_deadline = absl::GetFlag(FLAGS_default_deadline);
  config.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  config.migrate_timeout = absl::GetFlag(FLAGS_migrate_timeout);
  for (const auto& [name, value] :
       {std::pair{"--pool-acquire-timeout", config.pool_acquire_timeout},
        std::pair{"--connect-timeout", config.connection.connect_timeout},
        std::pair{"--db-socket-timeout", config.connection.socket_timeout},
        std::pair{"--default-deadline", config.service.default_deadline},
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

  // One pool and one store per endpoint.
  std::vector<std::unique_ptr<mysql::MysqlPool>> pools;
  std::vector<std::unique_ptr<mysql::MysqlUserStore>> stores;
  auto add_endpoint = [&](const mysql::Endpoint& endpoint) {
    PoolOptions options;
    options.name = endpoint.name;
    options.max_size = config.pool_size;
    options.acquire_timeout = config.pool_acquire_timeout;
    pools.push_back(std::make_unique<mysql::MysqlPool>(
        options, [endpoint, settings = config.connection](absl::Time deadline) {
          return mysql::MysqlConnection::Open(endpoint, settings, deadline);
        }));
    stores.push_back(std::make_unique<mysql::MysqlUserStore>(
        endpoint.name, pools.back().get()));
    return stores.back().get();
  };
  mysql::MysqlUserStore* primary = add_endpoint(config.primary);
  std::vector<NamedReader> replicas;
  for (const mysql::Endpoint& endpoint : config.replicas) {
    replicas.push_back({endpoint.name, add_endpoint(endpoint)});
  }
  ReadRouter router({config.primary.name, primary}, std::move(replicas),
                    config.router);
  UserServiceImpl service(primary, &router, config.service);

  grpc::EnableDefaultHealthCheckService(true);
  // The built-in health service carries no descriptor; touching the
  // compiled-in one links it into the binary, so reflection clients can
  // call grpc.health.v1.Health.
  grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen, grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    log::Error("cannot listen", {{"listen", config.listen}});
    return 1;
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(kServiceName, true);
  health->SetServingStatus(true);
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
       {"replicas", replica_names}});

  // Signals were blocked in every thread before gRPC started its own; this
  // one thread receives them synchronously.
  std::thread signal_thread([&]() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    int signal = 0;
    sigwait(&signals, &signal);
    log::Info("shutting down",
              {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"},
               {"grace", absl::FormatDuration(config.shutdown_grace)}});
    // Readiness probes and load balancers see NOT_SERVING first.
    health->SetServingStatus(kServiceName, false);
    health->SetServingStatus(false);
    server->Shutdown(absl::ToChronoTime(absl::Now() + config.shutdown_grace));
  });
  server->Wait();
  signal_thread.join();
  for (auto& pool : pools) pool->Close();
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
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

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
  return Run(*config);
}
