#include "client/bench/usage.h"

#include <string>

namespace userbench {

std::string UsageText() {
  return R"(Usage: user_bench [flags]

Load generator for userservice.v1.UserService. Keeps --concurrency calls in
flight through gRPC's async API and reports throughput and latency
percentiles. With --direct it runs the service's own SQL statements
straight against the databases instead (one connection per worker thread):
the limit the service is compared against.

Load:
  --workload=read|write|mixed:R   reads (GetUser by id, at random over the
                                  dataset), writes (CreateUser with unique
                                  names), or R% reads (default read)
  --consistency=eventual|session|strong|bounded:<duration>
                                  read consistency (default eventual);
                                  session reads carry the token of the
                                  latest write of the run
  --concurrency=N                 calls in flight (default 32)
  --rate=R                        calls/s on a fixed schedule (open loop);
                                  latency counts from each call's scheduled
                                  time; --concurrency caps the calls in
                                  flight and calls sent > 1 ms after their
                                  time count as late. 0: closed loop
  --duration=D  --warmup=W        measured time (10s), unmeasured load
                                  before it (2s)
  --timeout=T                     deadline of each call (5s)
  --dataset=N                     rows read at random (1000), created before
                                  the run; rows of an earlier run with the
                                  same --prefix are reused
  --prefix=P                      username prefix of everything created
                                  (bench; 1-8 of [a-z0-9])
  --seed=S                        seed of the sequence of calls (1)
  --prepare-only                  make the dataset, then exit (scripts do
                                  it once before many runs)

Service mode:
  --addr=HOST:PORT                server (localhost:50051)
  --channels=N                    channels, each its own HTTP/2 connection (4)
  --client-threads=N              threads taking replies, each with its own
                                  completion queue (2)

Direct mode (--direct):
  --db-primary=HOST:PORT          writes, strong reads, session fallback
  --db-replicas=H:P,...           reads, round-robin per worker
  --db-user=U --db-name=D         (userservice, userservice)
  --db-password-file=F            else $USER_BENCH_DB_PASSWORD

Output:
  --json=FILE                     also write the results as JSON
  --sample-pid=PID                report that process's CPU time per call
                                  and peak RSS over the measured window

Flags may be spelled with dashes or underscores (--db-primary, --db_primary).
Exit codes: 0 the run completed (failed calls are reported, not fatal),
1 setup failed (server or database unreachable, dataset not made),
2 usage error.
)";
}

}  // namespace userbench
