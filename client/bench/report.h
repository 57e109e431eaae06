#ifndef CLIENT_BENCH_REPORT_H_
#define CLIENT_BENCH_REPORT_H_

#include <optional>
#include <string>

#include "client/bench/bench_config.h"
#include "client/bench/process_sampler.h"
#include "client/bench/run_stats.h"

namespace userbench {

// Everything one run measured.
struct RunReport {
  BenchConfig config;
  RunStats stats;
  // The length of the measured window (config.duration).
  double measured_seconds = 0;
  // --sample-pid's usage over the window.
  std::optional<ProcessWindow> process;
  // user_bench's own, to show it was not the bottleneck.
  std::optional<ProcessWindow> client;
};

// Throughput counts successful calls per second of the measured window
// (a batch workload adds users/s: N times its successful calls/s);
// latency covers every measured call, failed ones included; in the open
// loop it runs from each call's scheduled time.

// For people: a header line, a table with a row per kind of call (and
// "all" when there are both), errors by name, the sampled process and
// user_bench's own CPU.
std::string FormatTable(const RunReport& report);

// The same, for scripts (client/bench/compare.sh): one JSON object, latency
// in milliseconds, keys as documented in client/bench/PERFORMANCE.md.
std::string FormatJson(const RunReport& report);

}  // namespace userbench

#endif  // CLIENT_BENCH_REPORT_H_
