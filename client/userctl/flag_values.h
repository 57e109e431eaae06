#ifndef CLIENT_USERCTL_FLAG_VALUES_H_
#define CLIENT_USERCTL_FLAG_VALUES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace userctl {

// The raw values of userctl's flags, decoupled from absl's global flag
// registry so that command parsing can be tested with plain structs. The
// defaults mirror the ABSL_FLAG definitions in flags.cc.
//
// Command flags are optional so that "not given" can be told apart from an
// empty or zero value: get needs exactly one key, update sends only the
// fields given, and a flag given to the wrong command is rejected.
struct FlagValues {
  // Global flags.
  std::optional<std::string> addr;
  absl::Duration timeout = absl::Seconds(5);
  std::string format = "json";
  std::string consistency = "unspecified";
  // Every --token value, in order, as given (each may hold several
  // comma-separated tokens).
  std::vector<std::string> tokens;
  std::optional<absl::Duration> max_staleness;
  bool verbose = false;
  std::string x_request_id;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;

  // Command flags.
  std::optional<std::string> username;
  std::optional<std::string> email;
  std::optional<std::string> request_id;
  std::optional<int32_t> page_size;
  std::optional<std::string> page_token;
  bool all = true;
  std::optional<int64_t> expected_version;
};

}  // namespace userctl

#endif  // CLIENT_USERCTL_FLAG_VALUES_H_
