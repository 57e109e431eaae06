// user_server: the gRPC UserService over a MariaDB primary and replicas.
// Parses the command line into a validated ServerConfig and runs a
// UserServer until SIGTERM or SIGINT; UserServer (user_server.h) wires
// every layer.

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/app/config.h"
#include "server/app/flags.h"
#include "server/app/signals.h"
#include "server/app/user_server.h"
#include "server/common/command_line.h"
#include "server/common/log.h"
#include "server/mysql/mysql_connection.h"
#include "server/observability/library_logs.h"

namespace userservice {
namespace {

int Serve(const ServerConfig& config) {
  mysql::InitDriver();
  if (config.migration.migrate || config.migration.only) {
    if (absl::Status migrated = MigrateSchema(config); !migrated.ok()) {
      log::Error("schema migration failed",
                 {{"error", std::string(migrated.message())}});
      return 1;
    }
    if (config.migration.only) return 0;
  }
  {
    UserServer server(config);
    if (!server.Start().ok()) return 1;
    ShutdownSignals signals(
        [&server] { server.RecheckTls(); },
        [&server](const std::string& signal) { server.Shutdown(signal); });
    server.Wait();
  }
  log::Info("stopped");
  return 0;
}

}  // namespace
}  // namespace userservice

int main(int argc, char** argv) {
  using namespace userservice;  // NOLINT(build/namespaces): main only
  // Before any thread exists, so every thread inherits the mask.
  BlockShutdownSignals();
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles,
  // a debugging aid that costs a few percent of a busy server's CPU.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // gRPC and protobuf would otherwise write plain-text lines to stderr.
  observability::RouteLibraryLogs();

  const cli::MainCommandLine command_line =
      cli::ParseMainCommandLine(ServerCommandLine(), argc, argv);
  if (command_line.exit_code.has_value()) return *command_line.exit_code;
  const absl::StatusOr<ServerConfig> config = ConfigFromFlags();
  if (!config.ok()) {
    std::fprintf(stderr, "user_server: %s\n",
                 std::string(config.status().message()).c_str());
    return cli::kExitUsage;
  }
  log::SetMinLevel(config->log_level);
  observability::LimitLibraryLogs(config->call_log.failure_lines_per_second);
  // The access log writes a line per call: batched into one write(2) per
  // 100 ms (warnings and errors still go out at once).
  log::SetBatching(absl::Milliseconds(100));
  return Serve(*config);
}
