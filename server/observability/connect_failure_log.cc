#include "server/observability/connect_failure_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace userservice::observability {

ConnectFailureLog::ConnectFailureLog(std::string endpoint,
                                     absl::Duration repeat_every, Clock clock)
    : endpoint_(std::move(endpoint)),
      repeat_every_(repeat_every),
      clock_(std::move(clock)) {}

void ConnectFailureLog::Record(const absl::Status& status) {
  if (absl::IsDeadlineExceeded(status) || absl::IsCancelled(status)) return;
  enum class Line { kNone, kFirst, kRepeat, kRecovered } line = Line::kNone;
  uint64_t count = 0;
  const absl::Time now = clock_();
  {
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      if (!failing_) return;
      line = Line::kRecovered;
      count = failures_;
      failing_ = false;
      failures_ = 0;
      unreported_ = 0;
    } else {
      ++failures_;
      ++unreported_;
      if (!failing_) {
        line = Line::kFirst;
      } else if (now - last_line_ >= repeat_every_) {
        line = Line::kRepeat;
      } else {
        return;
      }
      failing_ = true;
      count = unreported_;
      unreported_ = 0;
      last_line_ = now;
    }
  }
  // The message names the endpoint and the error code only (RunSql never
  // puts SQL, values or credentials in a status).
  switch (line) {
    case Line::kFirst:
      log::Error("cannot open a database connection",
                 {{"endpoint", endpoint_},
                  {"code", absl::StatusCodeToString(status.code())},
                  {"error", std::string(status.message())}});
      break;
    case Line::kRepeat:
      log::Warning(
          "still cannot open database connections",
          {{"endpoint", endpoint_},
           {"failed_attempts", log::Number(static_cast<double>(count))},
           {"code", absl::StatusCodeToString(status.code())},
           {"error", std::string(status.message())}});
      break;
    case Line::kRecovered:
      log::Info("database connections open again",
                {{"endpoint", endpoint_},
                 {"failed_attempts", log::Number(static_cast<double>(count))}});
      break;
    case Line::kNone:
      break;
  }
}

}  // namespace userservice::observability
