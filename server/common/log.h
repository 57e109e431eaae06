#ifndef USERSERVICE_SERVER_COMMON_LOG_H_
#define USERSERVICE_SERVER_COMMON_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "absl/time/time.h"

// One JSON object per line on stderr, the format Kubernetes log collectors
// expect: {"time":..., "level":..., "message":..., then the fields}.
//
// Written by hand rather than with spdlog or glog (server/decisions/, "no
// logging library"; deploy/OPERATIONS.md, "Logs"): the JSON
// escaping is the part a library would not do for us, and stderr is the only
// sink a container needs. What it must get right, it does: every string is
// escaped (control characters, and invalid UTF-8 becomes U+FFFD, so a line
// is always valid JSON), each line goes out in one write(2) under a mutex
// (threads never interleave), and a disabled level costs one atomic load.
//
// Callers must not pass emails, passwords, tokens or SQL parameters as
// fields: ids, endpoint names, codes and durations only.
namespace userservice::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// A number written unquoted, e.g. {"duration_ms", log::Number(1.25)}.
struct Number {
  explicit Number(double v) : value(v) {}
  double value;
};

struct Field {
  Field(absl::string_view k, std::string v) : key(k), value(std::move(v)) {}
  Field(absl::string_view k, const char* v) : key(k), value(v) {}
  Field(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  Field(absl::string_view k, Number n);

  absl::string_view key;
  std::string value;
  bool quoted = true;  // false: `value` is already a JSON number
};

// A braced list at the call site ({{"k", v}, ...}), or a vector when which
// fields there are depends on the case.
using Fields = absl::Span<const Field>;

void SetMinLevel(Level level);
bool ParseLevel(absl::string_view text, Level* level);
const char* LevelName(Level level);
bool Enabled(Level level);

void Write(Level level, absl::string_view message, Fields fields = {});

inline void Debug(absl::string_view m, Fields f = {}) {
  Write(Level::kDebug, m, f);
}
inline void Info(absl::string_view m, Fields f = {}) {
  Write(Level::kInfo, m, f);
}
inline void Warning(absl::string_view m, Fields f = {}) {
  Write(Level::kWarning, m, f);
}
inline void Error(absl::string_view m, Fields f = {}) {
  Write(Level::kError, m, f);
}

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);
// Appends JsonQuote(text) to `out`.
void AppendJsonQuoted(absl::string_view text, std::string* out);

// The complete line Write() would emit at `time`, newline included. For
// tests and for callers that need the exact bytes.
std::string FormatLine(int64_t unix_micros, Level level,
                       absl::string_view message, Fields fields);

// Where lines go: stderr unless redirected (tests point it at a pipe or a
// file). Not thread-safe against concurrent Write(); call at startup.
void SetOutputFd(int fd);

// Batches debug and info lines (the access log) for up to `max_delay`, or
// until 64 KiB are waiting, into one write(2): a syscall per line would cost
// more than formatting it at thousands of calls per second. Warning and
// error lines are written at once, after the waiting lines, so the order
// is kept and nothing important waits. A background thread flushes; lines
// still waiting are flushed by Flush() and at exit(), and lost only if the
// process dies by a signal. Call once at startup; zero turns batching off.
void SetBatching(absl::Duration max_delay);

// Writes the waiting lines now.
void Flush();

}  // namespace userservice::log

#endif  // USERSERVICE_SERVER_COMMON_LOG_H_
