#include "client/bench/report.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/bench/bench_config.h"
#include "client/bench/run_stats.h"

namespace userbench {
namespace {

struct Quantile {
  const char* name;
  double q;
};
constexpr Quantile kQuantiles[] = {
    {"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p99.9", 0.999}};

double Millis(int64_t nanos) { return static_cast<double>(nanos) / 1e6; }

double Throughput(const OpStats& stats, double seconds) {
  return seconds > 0 ? static_cast<double>(stats.ok) / seconds : 0;
}

// Users read per second: each successful batch call returns every id it
// asked for, so batch sizes compare.
double UsersPerSecond(const RunReport& report) {
  return Throughput(report.stats.read, report.measured_seconds) *
         report.config.workload.batch_size;
}

// The kinds of call present, with their names; "all" last when both are.
std::vector<std::pair<std::string, OpStats>> Rows(const RunReport& report) {
  std::vector<std::pair<std::string, OpStats>> rows;
  if (report.config.reads()) rows.emplace_back("read", report.stats.read);
  if (report.config.writes()) rows.emplace_back("write", report.stats.write);
  if (rows.size() > 1) rows.emplace_back("all", report.stats.Total());
  return rows;
}

std::string LoadDescription(const BenchConfig& config) {
  if (config.open_loop()) {
    return absl::StrFormat("open loop, %.0f calls/s, at most %d in flight",
                           config.rate, config.concurrency);
  }
  return absl::StrCat("closed loop, ", config.concurrency, " in flight");
}

std::string TargetDescription(const BenchConfig& config) {
  if (config.target == Target::kService) {
    return absl::StrCat("service ", config.addr, " (", config.channels,
                        " channels)");
  }
  std::vector<std::string> replicas;
  for (const HostPort& r : config.db.replicas) {
    replicas.push_back(absl::StrCat(r.host, ":", r.port));
  }
  return absl::StrCat("direct primary ", config.db.primary.host, ":",
                      config.db.primary.port, ", replicas ",
                      replicas.empty() ? "none" : absl::StrJoin(replicas, ","));
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\", std::string(1, c));
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string JsonOpStats(const OpStats& stats, double seconds) {
  std::vector<std::string> errors;
  for (const auto& [name, n] : stats.errors) {
    errors.push_back(absl::StrCat(JsonString(name), ": ", n));
  }
  std::string latency;
  for (const Quantile& q : kQuantiles) {
    absl::StrAppendFormat(&latency, "\"%s\": %.3f, ", q.name,
                          Millis(stats.latency.Quantile(q.q)));
  }
  absl::StrAppendFormat(&latency, "\"max\": %.3f, \"mean\": %.3f",
                        Millis(stats.latency.max()),
                        stats.latency.mean() / 1e6);
  return absl::StrFormat(
      "{\"calls\": %d, \"ok\": %d, \"failed\": %d, \"late\": %d, "
      "\"throughput\": %.1f, \"errors\": {%s}, \"latency_ms\": {%s}}",
      stats.calls(), stats.ok, stats.failed(), stats.late,
      Throughput(stats, seconds), absl::StrJoin(errors, ", "), latency);
}

double PerCall(const ProcessWindow& p, int64_t calls) {
  return calls > 0 ? static_cast<double>(p.cpu_us) / calls : 0.0;
}

std::string ProcessLine(const ProcessWindow& p, int64_t calls) {
  return absl::StrFormat(
      "%.1f us CPU per call (%.2f s over the window), peak RSS %.1f MiB",
      PerCall(p, calls), static_cast<double>(p.cpu_us) / 1e6,
      static_cast<double>(p.peak_rss_kib) / 1024.0);
}

std::string JsonProcess(const ProcessWindow& p, int64_t calls) {
  return absl::StrFormat(
      "{\"pid\": %d, \"cpu_us\": %d, \"cpu_us_per_call\": %.2f, "
      "\"peak_rss_kib\": %d}",
      p.pid, p.cpu_us, PerCall(p, calls), p.peak_rss_kib);
}

}  // namespace

std::string FormatTable(const RunReport& report) {
  const BenchConfig& config = report.config;
  std::string out = absl::StrCat(
      "user_bench: ", TargetDescription(config), "\n  workload ",
      WorkloadName(config.workload), ", reads ",
      ConsistencyName(config.consistency), ", ", LoadDescription(config), ", ",
      absl::FormatDuration(config.duration), " after ",
      absl::FormatDuration(config.warmup), " warmup\n");
  absl::StrAppendFormat(&out, "%-6s %10s %10s %9s %9s %9s %9s %9s %8s %6s\n",
                        "op", "calls", "ok/s", "p50 ms", "p90 ms", "p99 ms",
                        "p99.9 ms", "max ms", "errors", "late");
  for (const auto& [name, stats] : Rows(report)) {
    absl::StrAppendFormat(
        &out, "%-6s %10d %10.1f %9.3f %9.3f %9.3f %9.3f %9.3f %8d %6d\n", name,
        stats.calls(), Throughput(stats, report.measured_seconds),
        Millis(stats.latency.Quantile(0.5)),
        Millis(stats.latency.Quantile(0.9)),
        Millis(stats.latency.Quantile(0.99)),
        Millis(stats.latency.Quantile(0.999)), Millis(stats.latency.max()),
        stats.failed(), stats.late);
  }
  if (config.batch()) {
    absl::StrAppendFormat(&out, "batch: %d ids per call, %.1f users/s\n",
                          config.workload.batch_size, UsersPerSecond(report));
  }
  const OpStats total = report.stats.Total();
  if (!total.errors.empty()) {
    std::vector<std::string> errors;
    for (const auto& [name, n] : total.errors) {
      errors.push_back(absl::StrCat(name, " ", n));
    }
    absl::StrAppend(&out, "errors: ", absl::StrJoin(errors, ", "), "\n");
  }
  if (report.process.has_value()) {
    absl::StrAppend(&out, "process ", report.process->pid, ": ",
                    ProcessLine(*report.process, total.calls()), "\n");
  }
  if (report.client.has_value()) {
    absl::StrAppend(
        &out, "user_bench: ", ProcessLine(*report.client, total.calls()), "\n");
  }
  return out;
}

std::string FormatJson(const RunReport& report) {
  const BenchConfig& config = report.config;
  std::string out = "{\n";
  auto field = [&out](absl::string_view key, const std::string& value) {
    absl::StrAppend(&out, "  ", JsonString(key), ": ", value, ",\n");
  };
  field("target",
        JsonString(config.target == Target::kService ? "service" : "direct"));
  field("description", JsonString(TargetDescription(config)));
  field("workload", JsonString(WorkloadName(config.workload)));
  field("consistency", JsonString(ConsistencyName(config.consistency)));
  field("concurrency", absl::StrCat(config.concurrency));
  field("rate", absl::StrFormat("%.1f", config.rate));
  field("channels", absl::StrCat(config.channels));
  field("duration_s",
        absl::StrFormat("%.3f", absl::ToDoubleSeconds(config.duration)));
  field("warmup_s",
        absl::StrFormat("%.3f", absl::ToDoubleSeconds(config.warmup)));
  field("timeout_s",
        absl::StrFormat("%.3f", absl::ToDoubleSeconds(config.timeout)));
  field("dataset", absl::StrCat(config.dataset));
  field("seed", absl::StrCat(config.seed));
  field("measured_s", absl::StrFormat("%.3f", report.measured_seconds));
  const OpStats total = report.stats.Total();
  if (config.reads()) {
    field("read", JsonOpStats(report.stats.read, report.measured_seconds));
  }
  if (config.batch()) {
    field("batch_size", absl::StrCat(config.workload.batch_size));
    field("users_per_s", absl::StrFormat("%.1f", UsersPerSecond(report)));
  }
  if (config.writes()) {
    field("write", JsonOpStats(report.stats.write, report.measured_seconds));
  }
  if (report.process.has_value()) {
    field("process", JsonProcess(*report.process, total.calls()));
  }
  if (report.client.has_value()) {
    field("client", JsonProcess(*report.client, total.calls()));
  }
  absl::StrAppend(&out,
                  "  \"total\": ", JsonOpStats(total, report.measured_seconds),
                  "\n}\n");
  return out;
}

}  // namespace userbench
