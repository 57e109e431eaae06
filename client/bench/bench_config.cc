#include "client/bench/bench_config.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/bench/names.h"

namespace userbench {

absl::StatusOr<Workload> ParseWorkload(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  absl::string_view rest = lower;
  if (rest == "read") return Workload{100};
  if (rest == "write") return Workload{0};
  int number = -1;
  if (absl::ConsumePrefix(&rest, "mixed:") && absl::SimpleAtoi(rest, &number) &&
      number >= 0 && number <= 100) {
    return Workload{number};
  }
  if (absl::ConsumePrefix(&rest, "batch:") && absl::SimpleAtoi(rest, &number) &&
      number >= 1 && number <= kMaxBatchSize) {
    return Workload{100, number};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid --workload \"", text,
      "\": want read, write, mixed:R with R the read percentage 0..100 (e.g. "
      "mixed:95) or batch:N with N ids per call 1..",
      kMaxBatchSize));
}

std::string WorkloadName(const Workload& workload) {
  if (workload.batch_size > 0) {
    return absl::StrCat("batch:", workload.batch_size);
  }
  if (workload.read_percent == 100) return "read";
  if (workload.read_percent == 0) return "write";
  return absl::StrCat("mixed:", workload.read_percent);
}

absl::StatusOr<ReadConsistency> ParseReadConsistency(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  absl::string_view rest = lower;
  using Level = ReadConsistency::Level;
  if (rest == "eventual") return ReadConsistency{Level::kEventual, {}};
  if (rest == "session") return ReadConsistency{Level::kSession, {}};
  if (rest == "strong") return ReadConsistency{Level::kStrong, {}};
  absl::Duration bound;
  if (absl::ConsumePrefix(&rest, "bounded:") &&
      absl::ParseDuration(rest, &bound) && bound > absl::ZeroDuration()) {
    return ReadConsistency{Level::kBounded, bound};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid --consistency \"", text,
                   "\": want eventual, session, strong or "
                   "bounded:<duration> (e.g. bounded:500ms)"));
}

std::string ConsistencyName(const ReadConsistency& consistency) {
  switch (consistency.level) {
    case ReadConsistency::Level::kEventual:
      return "eventual";
    case ReadConsistency::Level::kSession:
      return "session";
    case ReadConsistency::Level::kStrong:
      return "strong";
    case ReadConsistency::Level::kBounded:
      return absl::StrCat("bounded:",
                          absl::FormatDuration(consistency.max_staleness));
  }
  return "?";
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  const size_t colon = text.rfind(':');
  HostPort result;
  if (colon != absl::string_view::npos && colon > 0 &&
      absl::SimpleAtoi(text.substr(colon + 1), &result.port) &&
      result.port > 0 && result.port < 65536) {
    absl::string_view host = text.substr(0, colon);
    if (absl::ConsumePrefix(&host, "[")) {
      if (!absl::ConsumeSuffix(&host, "]")) host = "";
    } else if (host.find(':') != absl::string_view::npos) {
      host = "";  // An IPv6 address needs brackets.
    }
    if (!host.empty()) {
      result.host = std::string(host);
      return result;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid address \"", text, "\": want HOST:PORT"));
}

absl::StatusOr<std::vector<HostPort>> ParseHostPortList(
    absl::string_view text) {
  std::vector<HostPort> list;
  for (absl::string_view item :
       absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    absl::StatusOr<HostPort> parsed =
        ParseHostPort(absl::StripAsciiWhitespace(item));
    if (!parsed.ok()) return parsed.status();
    list.push_back(*std::move(parsed));
  }
  return list;
}

absl::Status ValidateConfig(const BenchConfig& config) {
  auto bad = [](absl::string_view flag, absl::string_view want) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", want));
  };
  if (config.concurrency < 1 || config.concurrency > 100000) {
    return bad("concurrency", "want 1..100000 calls in flight");
  }
  if (config.client_threads < 1 || config.client_threads > 64) {
    return bad("client-threads", "want 1..64");
  }
  if (config.channels < 1 || config.channels > 1024) {
    return bad("channels", "want 1..1024");
  }
  if (config.duration <= absl::ZeroDuration()) {
    return bad("duration", "want a positive duration such as 10s");
  }
  if (config.warmup < absl::ZeroDuration()) {
    return bad("warmup", "must not be negative");
  }
  if (config.timeout <= absl::ZeroDuration()) {
    return bad("timeout", "want a positive duration such as 5s");
  }
  if (!(config.rate >= 0) || config.rate > 1e7) {
    return bad("rate", "want 0 (closed loop) or up to 1e7 calls/s");
  }
  if (config.dataset < 0 || config.dataset > 100'000'000) {
    return bad("dataset", "want 0..100000000 rows");
  }
  if ((config.reads() || config.prepare_only) && config.dataset == 0) {
    return bad("dataset", "must be at least 1 for a workload with reads");
  }
  if (!ValidPrefix(config.prefix)) {
    return bad("prefix", "want 1 to 8 of [a-z0-9]");
  }
  if (config.sample_pid < 0) return bad("sample-pid", "want a process id");
  if (config.target == Target::kDirect) {
    if (config.db.primary.host.empty()) {
      return bad("db-primary", "required with --direct (HOST:PORT)");
    }
    if (config.db.user.empty()) return bad("db-user", "must not be empty");
    if (config.db.name.empty()) return bad("db-name", "must not be empty");
  } else if (config.addr.empty()) {
    return bad("addr", "must not be empty");
  }
  return absl::OkStatus();
}

}  // namespace userbench
