#include "client/bench/process_sampler.h"

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace userbench {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

void SleepUntil(int64_t deadline_ns) {
  const int64_t now = NowNanos();
  if (deadline_ns > now) absl::SleepFor(absl::Nanoseconds(deadline_ns - now));
}

}  // namespace

absl::StatusOr<int64_t> ParseCpuMicros(absl::string_view stat,
                                       int64_t ticks_per_second) {
  // The command name (field 2) is in parentheses and may hold spaces;
  // count fields after its closing one: state is field 3, utime 14, stime
  // 15.
  const size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos || ticks_per_second <= 0) {
    return absl::InvalidArgumentError("malformed /proc/PID/stat");
  }
  const std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
  int64_t utime = 0;
  int64_t stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InvalidArgumentError("malformed /proc/PID/stat");
  }
  return (utime + stime) * 1'000'000 / ticks_per_second;
}

absl::StatusOr<int64_t> ParsePeakRssKib(absl::string_view status) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmHWM:")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    int64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) return kib;
  }
  return absl::InvalidArgumentError("no VmHWM in /proc/PID/status");
}

absl::StatusOr<ProcessSample> SampleProcess(int pid) {
  const std::string dir = absl::StrCat("/proc/", pid, "/");
  absl::StatusOr<std::string> stat = ReadFile(dir + "stat");
  if (!stat.ok()) return stat.status();
  absl::StatusOr<std::string> status = ReadFile(dir + "status");
  if (!status.ok()) return status.status();
  absl::StatusOr<int64_t> cpu = ParseCpuMicros(*stat, sysconf(_SC_CLK_TCK));
  if (!cpu.ok()) return cpu.status();
  absl::StatusOr<int64_t> rss = ParsePeakRssKib(*status);
  if (!rss.ok()) return rss.status();
  return ProcessSample{*cpu, *rss};
}

WindowSampler::WindowSampler(int pid, const RunWindow& window) : pid_(pid) {
  thread_ = std::thread([this, window]() {
    SleepUntil(window.measure_from_ns);
    absl::StatusOr<ProcessSample> before = SampleProcess(pid_);
    SleepUntil(window.end_ns);
    absl::StatusOr<ProcessSample> after = SampleProcess(pid_);
    if (before.ok() && after.ok()) {
      result_ = ProcessWindow{pid_, after->cpu_us - before->cpu_us,
                              after->peak_rss_kib};
    }
  });
}

WindowSampler::~WindowSampler() {
  if (thread_.joinable()) thread_.join();
}

std::optional<ProcessWindow> WindowSampler::Join() {
  if (thread_.joinable()) thread_.join();
  return result_;
}

}  // namespace userbench
