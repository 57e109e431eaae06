#include "server/common/log.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace userservice::log {
namespace {

std::atomic<int> min_level{static_cast<int>(Level::kInfo)};

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

}  // namespace

void SetMinLevel(Level level) { min_level.store(static_cast<int>(level)); }

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

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

void Write(Level level, absl::string_view message, Fields fields) {
  if (!Enabled(level)) return;
  std::string line = absl::StrCat(
      "{\"time\":",
      JsonQuote(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(),
                                 absl::UTCTimeZone())),
      ",\"level\":\"", LevelName(level), "\",\"msg\":", JsonQuote(message));
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&line, ",", JsonQuote(key), ":", JsonQuote(value));
  }
  line += "}\n";
  // One fwrite per line: stdio locks the stream, so lines never interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace userservice::log
