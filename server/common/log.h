#ifndef USERSERVICE_SERVER_COMMON_LOG_H_
#define USERSERVICE_SERVER_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

// One JSON object per line on stderr, the format Kubernetes log collectors
// expect. Written by hand (a few lines) because Abseil 20220623 has no
// logging and the structured output needs no more than this.
//
// Callers must not pass emails, passwords, tokens or SQL parameters as
// fields: ids, endpoint names, codes and durations only.
namespace userservice::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using Fields = std::initializer_list<std::pair<absl::string_view, std::string>>;

void SetMinLevel(Level level);
bool ParseLevel(absl::string_view text, Level* level);
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

}  // namespace userservice::log

#endif  // USERSERVICE_SERVER_COMMON_LOG_H_
