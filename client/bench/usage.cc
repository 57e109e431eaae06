#include "client/bench/usage.h"

#include <string>

namespace userbench {

std::string UsageIntro() {
  return R"(Usage: user_bench [flags]

Load generator for userservice.v1.UserService. Keeps --concurrency calls in
flight through gRPC's async API and reports throughput and latency
percentiles. With --direct it runs the service's own SQL statements
straight against the databases instead (one connection per worker thread):
the limit the service is compared against.

Flags are spelled with dashes; underscores work too (--db-primary,
--db_primary). Service mode uses --addr, --channels and --client-threads;
direct mode (--direct) the --db-* flags.
)";
}

std::string UsageEpilogue() {
  return R"(Exit codes: 0 the run completed (failed calls are reported, not fatal),
1 setup failed (server or database unreachable, dataset not made),
2 usage error.
)";
}

}  // namespace userbench
