#include "server/common/log.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace userservice::log {
namespace {

std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
std::atomic<int> output_fd{STDERR_FILENO};

// Field values longer than this are cut: a line is a log record, not a
// transport, and collectors split or drop very long lines.
constexpr size_t kMaxValueBytes = 2048;

constexpr size_t kBatchBytes = 64 * 1024;

// The output state. Leaked on purpose: the flusher thread and exit()
// handlers may still use it while static destructors run.
struct Output {
  absl::Mutex mu;
  std::string pending ABSL_GUARDED_BY(mu);
  absl::Time pending_since ABSL_GUARDED_BY(mu);  // oldest waiting line
  absl::Duration max_delay ABSL_GUARDED_BY(mu);
  bool batching ABSL_GUARDED_BY(mu) = false;
};

Output& Out() {
  static Output* out = new Output();
  return *out;
}

// Length of the well-formed UTF-8 sequence at the start of `s` (1-4), or 0
// if it is not one (stray continuation byte, overlong form, surrogate,
// beyond U+10FFFF, or cut short).
size_t Utf8SequenceLength(absl::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  }
  return len;
}

// "2026-11-24T01:02:46." for the second of `unix_seconds`, formatted once
// per second per thread: absl::FormatTime costs about a microsecond, more
// than the rest of a line.
absl::string_view SecondPrefix(int64_t unix_seconds) {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached;
  if (unix_seconds != cached_second) {
    cached = absl::FormatTime("%Y-%m-%dT%H:%M:%S.",
                              absl::FromUnixSeconds(unix_seconds),
                              absl::UTCTimeZone());
    cached_second = unix_seconds;
  }
  return cached;
}

void WriteAllLocked(absl::string_view line)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(Out().mu) {
  const int fd = output_fd.load(std::memory_order_relaxed);
  while (!line.empty()) {
    const ssize_t n = ::write(fd, line.data(), line.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    line.remove_prefix(static_cast<size_t>(n));
  }
}

void FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(Out().mu) {
  Output& out = Out();
  if (out.pending.empty()) return;
  WriteAllLocked(out.pending);
  out.pending.clear();
}

void Emit(Level level, const std::string& line) {
  Output& out = Out();
  absl::MutexLock lock(&out.mu);
  if (out.batching && level < Level::kWarning) {
    if (out.pending.empty()) out.pending_since = absl::Now();
    out.pending.append(line);
    if (out.pending.size() >= kBatchBytes) FlushLocked();
    return;
  }
  // One write(2) for the waiting lines and this one: order is kept.
  if (!out.pending.empty()) {
    out.pending.append(line);
    FlushLocked();
    return;
  }
  WriteAllLocked(line);
}

}  // namespace

Field::Field(absl::string_view k, Number n) : key(k), quoted(false) {
  // JSON has no NaN or infinity.
  if (!std::isfinite(n.value)) {
    value = "null";
  } else if (n.value == std::trunc(n.value) && std::fabs(n.value) < 1e15) {
    value = absl::StrCat(static_cast<int64_t>(n.value));  // counts
  } else {
    value = absl::StrCat(n.value);  // 6 significant digits, as %g
  }
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

void SetMinLevel(Level level) { min_level.store(static_cast<int>(level)); }

void SetOutputFd(int fd) { output_fd.store(fd); }

bool ParseLevel(absl::string_view text, Level* level) {
  const std::string lower = absl::AsciiStrToLower(text);
  for (Level l :
       {Level::kDebug, Level::kInfo, Level::kWarning, Level::kError}) {
    if (lower == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  if (lower == "warn") {
    *level = Level::kWarning;
    return true;
  }
  return false;
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed);
}

void AppendJsonQuoted(absl::string_view text, std::string* out) {
  out->reserve(out->size() + text.size() + 2);
  out->push_back('"');
  while (!text.empty()) {
    // Runs of plain ASCII, nearly all of a line, are copied at once.
    size_t plain = 0;
    while (plain < text.size()) {
      const unsigned char p = static_cast<unsigned char>(text[plain]);
      if (p < 0x20 || p >= 0x7F || p == '"' || p == '\\') break;
      ++plain;
    }
    if (plain > 0) {
      out->append(text.data(), plain);
      text.remove_prefix(plain);
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(text[0]);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else if (c < 0x80) {
          out->push_back(static_cast<char>(c));
        } else {
          const size_t len = Utf8SequenceLength(text);
          if (len == 0) {
            out->append("\\ufffd");  // one replacement per bad byte
          } else {
            out->append(text.data(), len);
            text.remove_prefix(len - 1);
          }
        }
    }
    text.remove_prefix(1);
  }
  out->push_back('"');
}

std::string JsonQuote(absl::string_view text) {
  std::string out;
  AppendJsonQuoted(text, &out);
  return out;
}

std::string FormatLine(int64_t unix_micros, Level level,
                       absl::string_view message, Fields fields) {
  std::string line;
  line.reserve(160);
  const int64_t seconds = unix_micros >= 0 ? unix_micros / 1000000
                                           : (unix_micros - 999999) / 1000000;
  absl::StrAppend(&line, "{\"time\":\"", SecondPrefix(seconds),
                  absl::Dec(unix_micros - seconds * 1000000, absl::kZeroPad6),
                  "Z\",\"level\":\"", LevelName(level), "\",\"message\":");
  AppendJsonQuoted(message, &line);
  for (const Field& field : fields) {
    line.push_back(',');
    AppendJsonQuoted(field.key, &line);
    line.push_back(':');
    if (!field.quoted) {
      line.append(field.value);
    } else if (field.value.size() > kMaxValueBytes) {
      AppendJsonQuoted(
          absl::StrCat(absl::string_view(field.value).substr(0, kMaxValueBytes),
                       "...(cut)"),
          &line);
    } else {
      AppendJsonQuoted(field.value, &line);
    }
  }
  line.append("}\n");
  return line;
}

void Write(Level level, absl::string_view message, Fields fields) {
  if (!Enabled(level)) return;
  Emit(level,
       FormatLine(absl::ToUnixMicros(absl::Now()), level, message, fields));
}

void Flush() {
  absl::MutexLock lock(&Out().mu);
  FlushLocked();
}

void SetBatching(absl::Duration max_delay) {
  Output& out = Out();
  const bool on = max_delay > absl::ZeroDuration();
  {
    absl::MutexLock lock(&out.mu);
    out.batching = on;
    out.max_delay = max_delay;
    if (!on) FlushLocked();
  }
  if (!on) return;
  static std::once_flag started;
  std::call_once(started, [] {
    std::atexit([] { Flush(); });
    // Never joined: it only sleeps and flushes the leaked Output. It wakes
    // often, so a shorter max_delay set later takes effect at once.
    std::thread([] {
      Output& out = Out();
      while (true) {
        absl::SleepFor(absl::Milliseconds(10));
        absl::MutexLock lock(&out.mu);
        if (!out.pending.empty() &&
            absl::Now() - out.pending_since >= out.max_delay) {
          FlushLocked();
        }
      }
    }).detach();
  });
}

}  // namespace userservice::log
