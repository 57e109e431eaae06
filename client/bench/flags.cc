#include "client/bench/flags.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/bench/bench_config.h"

// Help strings are short: usage.cc is the documentation. Defaults mirror
// BenchConfig.

ABSL_FLAG(std::string, addr, "localhost:50051", "Server address HOST:PORT.");
ABSL_FLAG(int32_t, client_threads, 2,
          "Threads taking the service's replies (service mode).");
ABSL_FLAG(int32_t, channels, 4,
          "Separate gRPC channels (HTTP/2 connections) to the server.");
ABSL_FLAG(int32_t, concurrency, 32,
          "Calls in flight (closed loop); with --rate, the most in flight. "
          "Direct mode: worker threads, one connection each.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Measured time.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "Load before measuring, not recorded.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Deadline of each call.");
ABSL_FLAG(std::string, workload, "read", "read, write or mixed:R (R% reads).");
ABSL_FLAG(std::string, consistency, "eventual",
          "Reads: eventual, session, strong or bounded:<duration>.");
ABSL_FLAG(double, rate, 0,
          "Calls per second on a fixed schedule (open loop); 0: closed loop.");
ABSL_FLAG(int64_t, dataset, 1000, "Rows read at random, made before the run.");
ABSL_FLAG(std::string, prefix, "bench",
          "Username prefix of every user the benchmark creates.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the choice of reads, writes and rows.");
ABSL_FLAG(std::string, json, "", "Also write the results as JSON here.");
ABSL_FLAG(int32_t, sample_pid, 0,
          "Report this process's CPU time per call and peak RSS.");
ABSL_FLAG(bool, prepare_only, false,
          "Make the dataset, then exit without a run.");
ABSL_FLAG(bool, direct, false,
          "Run the service's SQL against the databases, not the service.");
ABSL_FLAG(std::string, db_primary, "", "Direct mode: primary HOST:PORT.");
ABSL_FLAG(std::string, db_replicas, "",
          "Direct mode: replicas, comma-separated HOST:PORT.");
ABSL_FLAG(std::string, db_user, "userservice", "Direct mode: database user.");
ABSL_FLAG(std::string, db_password_file, "",
          "Direct mode: password file (else $USER_BENCH_DB_PASSWORD).");
ABSL_FLAG(std::string, db_name, "userservice", "Direct mode: database.");

namespace userbench {

absl::StatusOr<BenchConfig> ConfigFromFlags() {
  BenchConfig config;
  config.target =
      absl::GetFlag(FLAGS_direct) ? Target::kDirect : Target::kService;
  config.addr = absl::GetFlag(FLAGS_addr);
  config.channels = absl::GetFlag(FLAGS_channels);
  config.client_threads = absl::GetFlag(FLAGS_client_threads);
  config.concurrency = absl::GetFlag(FLAGS_concurrency);
  config.duration = absl::GetFlag(FLAGS_duration);
  config.warmup = absl::GetFlag(FLAGS_warmup);
  config.timeout = absl::GetFlag(FLAGS_timeout);
  absl::StatusOr<Workload> workload =
      ParseWorkload(absl::GetFlag(FLAGS_workload));
  if (!workload.ok()) return workload.status();
  config.workload = *workload;
  absl::StatusOr<ReadConsistency> consistency =
      ParseReadConsistency(absl::GetFlag(FLAGS_consistency));
  if (!consistency.ok()) return consistency.status();
  config.consistency = *consistency;
  config.rate = absl::GetFlag(FLAGS_rate);
  config.dataset = absl::GetFlag(FLAGS_dataset);
  config.prefix = absl::GetFlag(FLAGS_prefix);
  config.seed = absl::GetFlag(FLAGS_seed);
  config.json_path = absl::GetFlag(FLAGS_json);
  config.sample_pid = absl::GetFlag(FLAGS_sample_pid);
  config.prepare_only = absl::GetFlag(FLAGS_prepare_only);

  const std::string primary = absl::GetFlag(FLAGS_db_primary);
  if (!primary.empty()) {
    absl::StatusOr<HostPort> parsed = ParseHostPort(primary);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--db-primary: ", parsed.status().message()));
    }
    config.db.primary = *parsed;
  }
  absl::StatusOr<std::vector<HostPort>> replicas =
      ParseHostPortList(absl::GetFlag(FLAGS_db_replicas));
  if (!replicas.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--db-replicas: ", replicas.status().message()));
  }
  config.db.replicas = *replicas;
  config.db.user = absl::GetFlag(FLAGS_db_user);
  config.db.password_file = absl::GetFlag(FLAGS_db_password_file);
  config.db.name = absl::GetFlag(FLAGS_db_name);

  if (absl::Status valid = ValidateConfig(config); !valid.ok()) return valid;
  return config;
}

}  // namespace userbench
