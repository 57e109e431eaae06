#include "server/metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/metrics/samples.h"

namespace userservice::metrics {
namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The fields of /proc/PID/stat after the command name, which is in
// parentheses and may itself contain spaces and parentheses; fields[0] is
// field 3 (state) of proc(5).
std::vector<std::string> StatFields(const std::string& stat) {
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return {};
  return absl::StrSplit(absl::string_view(stat).substr(close + 1), ' ',
                        absl::SkipEmpty());
}

std::optional<double> Field(const std::vector<std::string>& fields,
                            int proc5_number) {
  const size_t index = static_cast<size_t>(proc5_number - 3);
  double value;
  if (index >= fields.size() || !absl::SimpleAtod(fields[index], &value)) {
    return std::nullopt;
  }
  return value;
}

// Seconds since the epoch at boot, the origin of /proc's start times.
std::optional<double> BootTime() {
  std::optional<std::string> stat = ReadFile("/proc/stat");
  if (!stat.has_value()) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      double value;
      if (absl::SimpleAtod(line, &value)) return value;
    }
  }
  return std::nullopt;
}

std::optional<double> OpenFds() {
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return std::nullopt;
  int count = 0;
  while (dirent* entry = readdir(fds)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(fds);
  return count - 1;  // not the descriptor opendir itself holds
}

void AddIf(std::vector<prometheus::MetricFamily>* families, const char* name,
           const char* help, prometheus::MetricType type,
           std::optional<double> value) {
  if (!value.has_value()) return;
  prometheus::MetricFamily family = MakeFamily(name, help, type);
  AddSample(&family, {}, *value);
  families->push_back(std::move(family));
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::vector<std::string> stat;
  if (std::optional<std::string> text = ReadFile("/proc/self/stat")) {
    stat = StatFields(*text);
  }
  std::optional<double> cpu, rss, vsize, start;
  // proc(5): 14 utime, 15 stime, 22 starttime (ticks since boot), 23 vsize
  // (bytes), 24 rss (pages).
  if (auto utime = Field(stat, 14), stime = Field(stat, 15); utime && stime) {
    cpu = (*utime + *stime) / ticks;
  }
  if (auto pages = Field(stat, 24)) rss = *pages * page;
  vsize = Field(stat, 23);
  if (auto since_boot = Field(stat, 22), boot = BootTime();
      since_boot && boot) {
    start = *boot + *since_boot / ticks;
  }
  std::optional<double> max_fds;
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur != RLIM_INFINITY) {
    max_fds = static_cast<double>(limit.rlim_cur);
  }

  std::vector<prometheus::MetricFamily> families;
  AddIf(&families, "process_cpu_seconds_total",
        "User and system CPU time spent, in seconds.", MetricType::Counter,
        cpu);
  AddIf(&families, "process_resident_memory_bytes",
        "Resident memory size in bytes.", MetricType::Gauge, rss);
  AddIf(&families, "process_virtual_memory_bytes",
        "Virtual memory size in bytes.", MetricType::Gauge, vsize);
  AddIf(&families, "process_open_fds", "Open file descriptors.",
        MetricType::Gauge, OpenFds());
  AddIf(&families, "process_max_fds", "Limit of open file descriptors.",
        MetricType::Gauge, max_fds);
  AddIf(&families, "process_start_time_seconds",
        "Start time of the process since the Unix epoch, in seconds.",
        MetricType::Gauge, start);
  return families;
}

}  // namespace userservice::metrics
