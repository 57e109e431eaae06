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
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/health/lag_ledger.h"
#include "server/health/replica_health.h"

namespace userservice {

// Checks one replica. Implemented over a dedicated database connection in
// server/mysql; faked in tests.
class ReplicaProbe {
 public:
  virtual ~ReplicaProbe() = default;
  // Everything but `lag`, which is left unset.
  virtual ProbeResult Observe() = 0;
};

// Writes this server's heartbeat row on the primary. Returns UNAVAILABLE
// when the primary cannot be reached or refuses writes (read-only).
class HeartbeatSink {
 public:
  virtual ~HeartbeatSink() = default;
  virtual absl::Status Write(absl::Time stamp) = 0;
};

struct CheckerOptions {
  absl::Duration check_interval = absl::Milliseconds(500);
  absl::Duration heartbeat_interval = absl::Milliseconds(100);
};

// Whether the primary accepted the latest heartbeat.
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

// Background threads: one writes heartbeats to the primary, one per replica
// checks it and feeds its ReplicaHealth. `on_change` is called (from a
// checker thread) after every round that may have changed readiness.
class HealthChecker {
 public:
  struct Replica {
    ReplicaProbe* probe;
    ReplicaHealth* health;
  };

  HealthChecker(CheckerOptions options, HeartbeatSink* heartbeat,
                PrimaryHealth* primary, LagLedger* ledger,
                std::vector<Replica> replicas, std::function<void()> on_change);
  ~HealthChecker();

  void Start();
  void Stop();

  // One heartbeat / one check, synchronously; what the threads run.
  void BeatOnce();
  void CheckOnce(size_t replica_index);

 private:
  void Loop(absl::Duration interval, const std::function<void()>& step);

  const CheckerOptions options_;
  HeartbeatSink* const heartbeat_;
  PrimaryHealth* const primary_;
  LagLedger* const ledger_;
  const std::vector<Replica> replicas_;
  const std::function<void()> on_change_;

  absl::Notification stop_;
  std::vector<std::thread> threads_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_HEALTH_HEALTH_CHECKER_H_
