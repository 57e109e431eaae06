#include "client/bench/run_bench.h"

#include <unistd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/bench/bench_config.h"
#include "client/bench/db_session.h"
#include "client/bench/direct_dataset.h"
#include "client/bench/direct_load.h"
#include "client/bench/load_plan.h"
#include "client/bench/process_sampler.h"
#include "client/bench/report.h"
#include "client/bench/run_stats.h"
#include "client/bench/service_channels.h"
#include "client/bench/service_dataset.h"
#include "client/bench/service_load.h"
#include "mysql_driver.h"

namespace userbench {
namespace {

constexpr absl::Duration kConnectTimeout = absl::Seconds(10);

// Runs the load over a window that starts now, sampling --sample-pid over
// its measured part.
RunReport Measure(const BenchConfig& config, const Recorder& recorder,
                  const std::function<void(const RunWindow&)>& run,
                  std::ostream& log) {
  log << "running: " << absl::FormatDuration(config.warmup) << " warmup, "
      << absl::FormatDuration(config.duration) << " measured\n";
  const RunWindow window =
      RunWindow::StartingAt(NowNanos(), config.warmup, config.duration);
  std::optional<WindowSampler> sampler;
  if (config.sample_pid != 0) sampler.emplace(config.sample_pid, window);
  WindowSampler self(getpid(), window);
  run(window);
  RunReport report;
  report.config = config;
  report.stats = recorder.Collect();
  report.measured_seconds = window.measured_seconds();
  if (sampler.has_value()) report.process = sampler->Join();
  report.client = self.Join();
  return report;
}

absl::StatusOr<RunReport> RunService(const BenchConfig& config,
                                     std::ostream& log) {
  const auto channels = OpenChannels(config.addr, config.channels);
  if (absl::Status s = ConnectAll(channels, kConnectTimeout); !s.ok()) {
    return s;
  }
  const auto stubs = MakeStubs(channels);
  std::vector<uint64_t> ids;
  if (config.reads() || config.prepare_only) {
    absl::StatusOr<std::vector<uint64_t>> prepared =
        PrepareServiceDataset(config, stubs, log);
    if (!prepared.ok()) return prepared.status();
    ids = *std::move(prepared);
  }
  if (config.prepare_only) return RunReport();
  std::string session_token;
  if (config.reads() &&
      config.consistency.level == ReadConsistency::Level::kSession) {
    absl::StatusOr<std::string> token = SessionSeedToken(config, *stubs[0]);
    if (!token.ok()) return token.status();
    session_token = *std::move(token);
    log << "session reads carry the token of a write made now, then of the "
           "run's latest write\n";
  }
  Recorder recorder;
  ServiceLoad load(config, stubs, ids, std::move(session_token), &recorder);
  return Measure(
      config, recorder, [&](const RunWindow& window) { load.Run(window); },
      log);
}

absl::StatusOr<RunReport> RunDirect(const BenchConfig& config,
                                    std::ostream& log) {
  // Initializes the client library once, before any thread uses it.
  sql::mysql::get_mysql_driver_instance();
  absl::StatusOr<DbLogin> login = LoadDbLogin(config.db);
  if (!login.ok()) return login.status();
  std::vector<uint64_t> ids;
  if (config.reads() || config.prepare_only) {
    absl::StatusOr<std::vector<uint64_t>> prepared =
        PrepareDirectDataset(config, *login, log);
    if (!prepared.ok()) return prepared.status();
    ids = *std::move(prepared);
  }
  if (config.prepare_only) return RunReport();
  Recorder recorder;
  DirectLoad load(config, *login, ids, &recorder);
  if (absl::Status s = load.Connect(); !s.ok()) return s;
  return Measure(
      config, recorder, [&](const RunWindow& window) { load.Run(window); },
      log);
}

}  // namespace

absl::StatusOr<RunReport> RunBench(const BenchConfig& config,
                                   std::ostream& log) {
  return config.target == Target::kService ? RunService(config, log)
                                           : RunDirect(config, log);
}

absl::Status PrepareDataset(const BenchConfig& config, std::ostream& log) {
  BenchConfig prepare = config;
  prepare.prepare_only = true;
  return RunBench(prepare, log).status();
}

}  // namespace userbench
