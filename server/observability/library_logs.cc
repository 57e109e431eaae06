#include "server/observability/library_logs.h"

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"
#include "server/common/log.h"
#include "server/observability/line_limiter.h"

namespace userservice::observability {
namespace {

constexpr int kDefaultLinesPerSecond = 20;

std::atomic<LineLimiter*> limiter{nullptr};

LineLimiter& Limiter() {
  LineLimiter* set = limiter.load(std::memory_order_acquire);
  if (set != nullptr) return *set;
  static LineLimiter* const default_limiter =
      new LineLimiter(kDefaultLinesPerSecond);
  return *default_limiter;
}

// Writes one library line, unless its source location wrote its share of
// this second already.
void WriteLimited(log::Level level, const std::string& message,
                  const char* library, const char* file, int line) {
  if (!log::Enabled(level)) return;
  std::string source = absl::StrCat(file == nullptr ? "" : file, ":", line);
  const std::optional<int64_t> left_out =
      Limiter().Admit(absl::StrCat(library, " ", source));
  if (!left_out.has_value()) return;
  std::vector<log::Field> fields = {{"library", library},
                                    {"source", std::move(source)}};
  AddLeftOut(*left_out, fields);
  log::Write(level, message, fields);
}

void GrpcLog(gpr_log_func_args* args) {
  log::Level level = log::Level::kError;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      level = log::Level::kDebug;
      break;
    case GPR_LOG_SEVERITY_INFO:
      level = log::Level::kInfo;
      break;
    case GPR_LOG_SEVERITY_ERROR:
      level = log::Level::kError;
      break;
  }
  WriteLimited(level, args->message == nullptr ? "" : args->message, "grpc",
               args->file, args->line);
}

void ProtobufLog(google::protobuf::LogLevel severity, const char* file,
                 int line, const std::string& message) {
  WriteLimited(ProtobufLineLevel(severity, message), message, "protobuf", file,
               line);
}

}  // namespace

log::Level ProtobufLineLevel(int severity, const std::string& message) {
  switch (severity) {
    case google::protobuf::LOGLEVEL_INFO:
      return log::Level::kInfo;
    case google::protobuf::LOGLEVEL_WARNING:
      return log::Level::kWarning;
    default:
      // "String field 'x' contains invalid UTF-8 data when parsing a
      // protocol buffer", "Can't parse message of type ...".
      if (absl::StrContains(message, "when parsing a protocol buffer") ||
          absl::StartsWith(message, "Can't parse message")) {
        return log::Level::kWarning;
      }
      return log::Level::kError;
  }
}

void RouteLibraryLogs() {
  gpr_set_log_function(GrpcLog);
  google::protobuf::SetLogHandler(ProtobufLog);
}

void LimitLibraryLogs(int lines_per_second) {
  limiter.store(new LineLimiter(lines_per_second), std::memory_order_release);
}

}  // namespace userservice::observability
