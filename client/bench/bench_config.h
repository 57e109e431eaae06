#ifndef CLIENT_BENCH_BENCH_CONFIG_H_
#define CLIENT_BENCH_BENCH_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace userbench {

// What a run talks to: the gRPC service, or the databases directly with the
// statements the service would run (the physical limit it is compared
// against).
enum class Target { kService, kDirect };

// The share of reads; the rest are CreateUser writes. Reads are GetUser
// calls, or with batch_size N, BatchGetUsers calls of N ids each.
struct Workload {
  int read_percent = 100;
  // 0: reads are GetUser calls.
  int batch_size = 0;
};

// BatchGetUsers takes at most this many ids.
inline constexpr int kMaxBatchSize = 1000;

struct ReadConsistency {
  enum class Level { kEventual, kSession, kStrong, kBounded };
  Level level = Level::kEventual;
  // kBounded only.
  absl::Duration max_staleness;
};

struct HostPort {
  std::string host;
  int port = 0;
};

// Direct mode's databases and credentials.
struct DbOptions {
  HostPort primary;
  std::vector<HostPort> replicas;
  std::string user = "userservice";
  // Empty: $USER_BENCH_DB_PASSWORD, else no password.
  std::string password_file;
  std::string name = "userservice";
};

// A validated command line. The defaults mirror the flags in flags.cc.
struct BenchConfig {
  Target target = Target::kService;
  std::string addr = "localhost:50051";
  int channels = 4;
  // Threads (each with its own completion queue) that take the service's
  // replies and send the next calls.
  int client_threads = 2;
  int concurrency = 32;
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration timeout = absl::Seconds(5);
  Workload workload;
  ReadConsistency consistency;
  // Calls per second; 0 is a closed loop.
  double rate = 0;
  int64_t dataset = 1000;
  std::string prefix = "bench";
  uint64_t seed = 1;
  std::string json_path;
  // Non-zero: report this process's CPU time and peak RSS over the
  // measured window (the server's, when run on the same machine).
  int sample_pid = 0;
  // Make the dataset, then exit without a run.
  bool prepare_only = false;
  DbOptions db;

  bool reads() const { return workload.read_percent > 0; }
  bool writes() const { return workload.read_percent < 100; }
  bool open_loop() const { return rate > 0; }
  bool batch() const { return workload.batch_size > 0; }
};

// "read", "write", "mixed:R" with R the read percentage (0..100), or
// "batch:N" (reads only, N ids per call, 1..kMaxBatchSize).
absl::StatusOr<Workload> ParseWorkload(absl::string_view text);
std::string WorkloadName(const Workload& workload);

// "eventual", "session", "strong" or "bounded:<duration>" (e.g.
// bounded:500ms; the duration must be positive).
absl::StatusOr<ReadConsistency> ParseReadConsistency(absl::string_view text);
std::string ConsistencyName(const ReadConsistency& consistency);

// "HOST:PORT" or "[IPV6]:PORT".
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);
// Comma-separated HOST:PORT list; empty text is an empty list.
absl::StatusOr<std::vector<HostPort>> ParseHostPortList(absl::string_view text);

// Range and consistency checks across fields; messages name the flag.
absl::Status ValidateConfig(const BenchConfig& config);

}  // namespace userbench

#endif  // CLIENT_BENCH_BENCH_CONFIG_H_
