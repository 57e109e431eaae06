#ifndef CLIENT_BENCH_PROCESS_SAMPLER_H_
#define CLIENT_BENCH_PROCESS_SAMPLER_H_

#include <cstdint>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/bench/load_plan.h"

namespace userbench {

// What Linux's /proc says about a process at one moment.
struct ProcessSample {
  // utime + stime, all threads.
  int64_t cpu_us = 0;
  // VmHWM: peak resident set size since start (or the last reset through
  // /proc/PID/clear_refs).
  int64_t peak_rss_kib = 0;
};

// Parses the contents of /proc/PID/stat (CPU ticks of `ticks_per_second`)
// and /proc/PID/status; exposed for tests.
absl::StatusOr<int64_t> ParseCpuMicros(absl::string_view stat,
                                       int64_t ticks_per_second);
absl::StatusOr<int64_t> ParsePeakRssKib(absl::string_view status);

absl::StatusOr<ProcessSample> SampleProcess(int pid);

// CPU used by a process over the measured part of a run.
struct ProcessWindow {
  int pid = 0;
  int64_t cpu_us = 0;
  int64_t peak_rss_kib = 0;
};

// Samples `pid` when the window's measurement starts and when it ends, on
// a thread of its own, so CPU spent on setup and warmup is left out.
class WindowSampler {
 public:
  WindowSampler(int pid, const RunWindow& window);
  ~WindowSampler();
  // Waits for the end sample; nullopt if the process could not be read.
  std::optional<ProcessWindow> Join();

 private:
  int pid_;
  std::optional<ProcessWindow> result_;
  std::thread thread_;
};

}  // namespace userbench

#endif  // CLIENT_BENCH_PROCESS_SAMPLER_H_
