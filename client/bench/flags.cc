#include "client/bench/flags.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/bench/bench_config.h"
#include "client/bench/usage.h"
#include "server/common/command_line.h"

// These help strings are the flags' part of --help: each line fits in 80
// columns once HelpText indents it by 6. Defaults mirror BenchConfig.

ABSL_FLAG(std::string, addr, "localhost:50051",
          "Service mode: server address HOST:PORT.");
ABSL_FLAG(int32_t, client_threads, 2,
          "Service mode: threads taking replies, each with its own\n"
          "completion queue.");
ABSL_FLAG(int32_t, channels, 4,
          "Service mode: channels, each its own HTTP/2 connection.");
ABSL_FLAG(int32_t, concurrency, 32,
          "Calls in flight (closed loop); with --rate, the most in flight.\n"
          "Direct mode: worker threads, one connection each.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Measured time.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "Unmeasured load before the measured time.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Deadline of each call.");
ABSL_FLAG(std::string, workload, "read",
          "read|write|mixed:R|batch:N: reads (GetUser by id, at random over\n"
          "the dataset), writes (CreateUser with unique names), R% reads, or\n"
          "BatchGetUsers of N ids (1-1000) drawn as reads are, with users/s.\n"
          "Direct mode runs a batch as one SELECT ... WHERE id IN (...).");
ABSL_FLAG(std::string, consistency, "eventual",
          "Read consistency: eventual|session|strong|bounded:<duration>.\n"
          "Session reads carry the token of the run's latest write; service\n"
          "mode writes one user before the run for a first token.");
ABSL_FLAG(double, rate, 0,
          "Calls/s on a fixed schedule (open loop): latency counts from each\n"
          "call's scheduled time; --concurrency caps the calls in flight and\n"
          "calls sent > 1 ms after their time count as late. 0: closed loop.");
ABSL_FLAG(int64_t, dataset, 1000,
          "Rows read at random, created before the run; rows of an earlier\n"
          "run with the same --prefix are reused.");
ABSL_FLAG(std::string, prefix, "bench",
          "Username prefix of everything created (1-8 of [a-z0-9]).");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the sequence of calls.");
ABSL_FLAG(std::string, json, "",
          "Also write the results as JSON to this file.");
ABSL_FLAG(int32_t, sample_pid, 0,
          "Report this process's CPU time per call and peak RSS over the\n"
          "measured window.");
ABSL_FLAG(bool, prepare_only, false,
          "Make the dataset, then exit (scripts do it once before many runs).");
ABSL_FLAG(bool, direct, false,
          "Run the service's SQL against the databases, not the service.");
ABSL_FLAG(std::string, db_primary, "",
          "Direct mode: primary HOST:PORT (writes, strong reads, session\n"
          "fallback).");
ABSL_FLAG(std::string, db_replicas, "",
          "Direct mode: replicas H:P,... (reads, round-robin per worker).");
ABSL_FLAG(std::string, db_user, "userservice", "Direct mode: database user.");
ABSL_FLAG(std::string, db_password_file, "",
          "Direct mode: password file (else $USER_BENCH_DB_PASSWORD).");
ABSL_FLAG(std::string, db_name, "userservice", "Direct mode: database.");

namespace userbench {

const userservice::cli::CommandLineSpec& BenchCommandLine() {
  namespace cli = userservice::cli;
  using cli::Flag;
  static const cli::CommandLineSpec* const spec =
      new cli::CommandLineSpec{"user_bench",
                               UsageIntro(),
                               /*env_prefix=*/"",
                               {Flag(FLAGS_addr),
                                Flag(FLAGS_client_threads),
                                Flag(FLAGS_channels),
                                Flag(FLAGS_concurrency),
                                Flag(FLAGS_duration),
                                Flag(FLAGS_warmup),
                                Flag(FLAGS_timeout),
                                Flag(FLAGS_workload),
                                Flag(FLAGS_consistency),
                                Flag(FLAGS_rate),
                                Flag(FLAGS_dataset),
                                Flag(FLAGS_prefix),
                                Flag(FLAGS_seed),
                                Flag(FLAGS_json),
                                Flag(FLAGS_sample_pid),
                                Flag(FLAGS_prepare_only),
                                Flag(FLAGS_direct),
                                Flag(FLAGS_db_primary),
                                Flag(FLAGS_db_replicas),
                                Flag(FLAGS_db_user),
                                Flag(FLAGS_db_password_file),
                                Flag(FLAGS_db_name)},
                               /*positional_allowed=*/false,
                               /*help_command=*/"",
                               UsageEpilogue()};
  return *spec;
}

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
