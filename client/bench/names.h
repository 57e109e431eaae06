#ifndef CLIENT_BENCH_NAMES_H_
#define CLIENT_BENCH_NAMES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace userbench {

// Every user the benchmark creates is named under one prefix (1 to 8 of
// [a-z0-9]), so a later run finds and reuses its dataset and no name can
// clash with a real user's. All names are valid usernames (at most 32
// characters of [A-Za-z0-9_.-]).

// Longest accepted prefix: the longest write name must fit in 32.
inline constexpr size_t kMaxPrefixLength = 8;

// True if `prefix` is 1 to kMaxPrefixLength of [a-z0-9].
bool ValidPrefix(absl::string_view prefix);

// Dataset row i: "<prefix>-d<i>".
std::string DatasetUsername(absl::string_view prefix, int64_t index);

// i if `username` is DatasetUsername(prefix, i).
std::optional<int64_t> DatasetIndex(absl::string_view prefix,
                                    absl::string_view username);

// "<username>@bench.invalid": .invalid never resolves (RFC 2606).
std::string BenchEmail(absl::string_view username);

// Names of the users written during one run: "<prefix>-w<tag>-<seq>", with
// a random tag per process, so runs never collide with each other or with
// rows left by earlier runs.
class WriteNames {
 public:
  WriteNames(absl::string_view prefix, std::string run_tag);
  // A fresh random 8-character [a-z0-9] tag (not from --seed: two runs with
  // the same seed must still write different users).
  static std::string RandomRunTag();

  std::string Username(uint64_t seq) const;

 private:
  std::string stem_;
};

}  // namespace userbench

#endif  // CLIENT_BENCH_NAMES_H_
