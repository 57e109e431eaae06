#ifndef USERSERVICE_SERVER_HEALTH_HEALTH_CHECKER_H_
#define USERSERVICE_SERVER_HEALTH_HEALTH_CHECKER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/health/lag_ledger.h"
#include "server/health/replica_health.h"
#include "server/health/topology.h"

namespace userservice {

// Checks one database endpoint. Implemented over a dedicated database
// connection in server/mysql; faked in tests.
class EndpointProbe {
 public:
  virtual ~EndpointProbe() = default;
  // Everything but `lag`, which is left unset.
  virtual ProbeResult Observe() = 0;
  // The next Observe opens a new session, resolving the host name again
  // (a Service that moved with the writer).
  virtual void ResetSession() {}
};

// Writes this server's heartbeat row on one endpoint. Returns UNAVAILABLE
// when the endpoint cannot be reached or refuses writes (read-only).
class HeartbeatSink {
 public:
  virtual ~HeartbeatSink() = default;
  virtual absl::Status Write(absl::Time stamp) = 0;
};

struct CheckerOptions {
  absl::Duration check_interval = absl::Milliseconds(500);
  absl::Duration heartbeat_interval = absl::Milliseconds(100);
};

// Whether the elected writer accepted the latest heartbeat.
class PrimaryHealth {
 public:
  void Record(const absl::Status& status);
  bool writable() const { return writable_.load(); }
  std::string last_error() const;

 private:
  std::atomic<bool> writable_{false};
  mutable absl::Mutex mu_;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
};

// Background threads: one writes heartbeats to the elected writer, one per
// endpoint checks it, feeds its ReplicaHealth and the Topology. While no
// writer is elected, endpoints are checked every kWriterlessCheckInterval,
// so a promotion is seen quickly. `on_change` is called (from a checker
// thread) after every check and every heartbeat that changed the writer's
// state.
class HealthChecker {
 public:
  static constexpr absl::Duration kWriterlessCheckInterval =
      absl::Milliseconds(100);

  struct Endpoint {
    EndpointProbe* probe;
    ReplicaHealth* health;
    HeartbeatSink* heartbeat;  // written only while this is the writer
  };

  HealthChecker(CheckerOptions options, Topology* topology,
                PrimaryHealth* primary, LagLedger* ledger,
                std::vector<Endpoint> endpoints,
                std::function<void()> on_change);
  ~HealthChecker();

  void Start();
  void Stop();

  // Checks every endpoint now (each on its own thread), with a new session.
  void RequestRecheck() ABSL_LOCKS_EXCLUDED(mu_);

  // One heartbeat / one check, synchronously; what the threads run.
  void BeatOnce();
  void CheckOnce(size_t endpoint);

 private:
  void HeartbeatLoop();
  void CheckLoop(size_t endpoint);
  // Waits until `until`, a recheck request after `seen`, or Stop; returns
  // the request generation then.
  uint64_t WaitUntil(absl::Time until, uint64_t seen) ABSL_LOCKS_EXCLUDED(mu_);

  const CheckerOptions options_;
  Topology* const topology_;
  PrimaryHealth* const primary_;
  LagLedger* const ledger_;
  const std::vector<Endpoint> endpoints_;
  const std::function<void()> on_change_;

  absl::Mutex mu_;
  uint64_t recheck_requests_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_HEALTH_HEALTH_CHECKER_H_
