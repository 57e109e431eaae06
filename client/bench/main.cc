// user_bench: load generator for userservice.v1.UserService and for the
// same statements run directly against MariaDB. See usage.cc.

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/bench/bench_config.h"
#include "client/bench/flags.h"
#include "client/bench/report.h"
#include "client/bench/run_bench.h"
#include "server/common/command_line.h"

namespace {

constexpr int kExitFailure = 1;

// Worded as ParseMainCommandLine words a flag's mistake.
int UsageError(const absl::Status& status) {
  std::cerr << "user_bench: " << status.message() << "\n"
            << "Run 'user_bench --help' for usage.\n";
  return userservice::cli::kExitUsage;
}

}  // namespace

int main(int argc, char* argv[]) {
  // Debian's Abseil checks every absl::Mutex acquisition for lock-order
  // cycles (GraphCycles), a few percent of a load generator's CPU.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const userservice::cli::MainCommandLine command_line =
      userservice::cli::ParseMainCommandLine(userbench::BenchCommandLine(),
                                             argc, argv);
  if (command_line.exit_code.has_value()) return *command_line.exit_code;
  absl::StatusOr<userbench::BenchConfig> config = userbench::ConfigFromFlags();
  if (!config.ok()) return UsageError(config.status());

  if (config->prepare_only) {
    if (absl::Status s = userbench::PrepareDataset(*config, std::cerr);
        !s.ok()) {
      std::cerr << "user_bench: error: " << s << "\n";
      return kExitFailure;
    }
    return 0;
  }
  absl::StatusOr<userbench::RunReport> report =
      userbench::RunBench(*config, std::cerr);
  if (!report.ok()) {
    std::cerr << "user_bench: error: " << report.status() << "\n";
    return kExitFailure;
  }
  std::cout << userbench::FormatTable(*report) << std::flush;
  if (!config->json_path.empty()) {
    std::ofstream json(config->json_path);
    json << userbench::FormatJson(*report);
    if (!json.good()) {
      std::cerr << "user_bench: error: cannot write " << config->json_path
                << "\n";
      return kExitFailure;
    }
  }
  return 0;
}
