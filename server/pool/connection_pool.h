#ifndef USERSERVICE_SERVER_POOL_CONNECTION_POOL_H_
#define USERSERVICE_SERVER_POOL_CONNECTION_POOL_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace userservice {

struct PoolOptions {
  // Endpoint name, used in error messages ("primary", "replica-0").
  std::string name;
  // Most connections open at once, idle and in use together.
  int max_size = 16;
  // Longest a caller waits for a free connection before RESOURCE_EXHAUSTED,
  // even when its own deadline is later: a full pool for this long means the
  // database is saturated, and queueing more only adds latency.
  absl::Duration acquire_timeout = absl::Seconds(2);
};

// Point-in-time counts, for tests, health and metrics.
struct PoolStats {
  int idle = 0;
  int in_use = 0;
  int opening = 0;
  int waiters = 0;
  int size() const { return idle + in_use + opening; }
};

// A bounded pool of connections to one endpoint.
//
// Connections are opened lazily by `factory` and handed out as RAII leases.
// A lease marked broken (the connection saw a connection-level error) is
// destroyed instead of returned, and so is every idle connection and every
// lease handed out before the failure: when the server went away they are all
// dead, and handing them out would fail one more call each. Once the
// database is back, new connections are opened on demand.
//
// `Conn` is any type; the pool never calls into it, so tests use fakes.
template <typename Conn>
class ConnectionPool {
 public:
  using Factory =
      std::function<absl::StatusOr<std::unique_ptr<Conn>>(absl::Time deadline)>;

  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        Reset();
        pool_ = std::exchange(other.pool_, nullptr);
        conn_ = std::move(other.conn_);
        generation_ = other.generation_;
        broken_ = other.broken_;
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { Reset(); }

    Conn* get() const { return conn_.get(); }
    Conn* operator->() const { return conn_.get(); }
    Conn& operator*() const { return *conn_; }

    // The connection must not be reused: it is closed on release.
    void MarkBroken() { broken_ = true; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn, uint64_t generation)
        : pool_(pool), conn_(std::move(conn)), generation_(generation) {}

    void Reset() {
      if (pool_ != nullptr) {
        pool_->Release(std::move(conn_), generation_, broken_);
        pool_ = nullptr;
      }
    }

    ConnectionPool* pool_ = nullptr;
    std::unique_ptr<Conn> conn_;
    uint64_t generation_ = 0;
    bool broken_ = false;
  };

  ConnectionPool(PoolOptions options, Factory factory)
      : options_(std::move(options)), factory_(std::move(factory)) {}

  // Every lease must have been released before the pool is destroyed.
  ~ConnectionPool() = default;
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection, waiting for one at most until `deadline` or the acquire
  // timeout, whichever comes first. DEADLINE_EXCEEDED when the caller's
  // deadline ran out, RESOURCE_EXHAUSTED when the acquire timeout did,
  // UNAVAILABLE when a new connection could not be opened or the pool is
  // closed.
  absl::StatusOr<Lease> Acquire(absl::Time deadline) {
    const absl::Time start = absl::Now();
    const absl::Time give_up =
        std::min(deadline, start + options_.acquire_timeout);
    absl::MutexLock lock(&mu_);
    while (true) {
      if (closed_) {
        return absl::UnavailableError(absl::StrCat(
            "database endpoint ", options_.name, " is shutting down"));
      }
      if (!idle_.empty()) {
        std::unique_ptr<Conn> conn = std::move(idle_.back());
        idle_.pop_back();
        ++in_use_;
        return Lease(this, std::move(conn), generation_);
      }
      if (TotalLocked() < options_.max_size) return OpenLocked(deadline);

      ++waiters_;
      const bool ready = mu_.AwaitWithDeadline(
          absl::Condition(this, &ConnectionPool::CanProceedLocked), give_up);
      --waiters_;
      if (!ready) return WaitTimeoutError(deadline, absl::Now() - start);
    }
  }

  // Closes idle connections now and every in-use one when it is released;
  // later Acquire calls fail. For shutdown.
  void Close() {
    std::vector<std::unique_ptr<Conn>> doomed;
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
      doomed.swap(idle_);
    }
  }

  // Drops every idle connection, e.g. after the endpoint was seen to restart.
  void DiscardIdle() {
    std::vector<std::unique_ptr<Conn>> doomed;
    absl::MutexLock lock(&mu_);
    ++generation_;
    doomed.swap(idle_);
  }

  PoolStats Stats() const {
    absl::MutexLock lock(&mu_);
    return PoolStats{static_cast<int>(idle_.size()), in_use_, opening_,
                     waiters_};
  }

  const PoolOptions& options() const { return options_; }

 private:
  int TotalLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(idle_.size()) + in_use_ + opening_;
  }

  bool CanProceedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || !idle_.empty() || TotalLocked() < options_.max_size;
  }

  // Opens a connection outside the lock, holding a slot for it meanwhile so
  // the pool never exceeds max_size.
  absl::StatusOr<Lease> OpenLocked(absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++opening_;
    const uint64_t generation = generation_;
    mu_.Unlock();
    absl::StatusOr<std::unique_ptr<Conn>> conn = factory_(deadline);
    mu_.Lock();
    --opening_;
    if (!conn.ok()) return conn.status();
    ++in_use_;
    return Lease(this, *std::move(conn), generation);
  }

  absl::Status WaitTimeoutError(absl::Time deadline, absl::Duration waited)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("deadline exceeded after waiting ",
                       absl::FormatDuration(waited), " for a connection to ",
                       options_.name, " (all ", options_.max_size, " in use)"));
    }
    return absl::ResourceExhaustedError(
        absl::StrCat("no connection to ", options_.name, " became free within ",
                     absl::FormatDuration(options_.acquire_timeout), " (all ",
                     options_.max_size, " in use); retry with backoff"));
  }

  void Release(std::unique_ptr<Conn> conn, uint64_t generation, bool broken) {
    std::vector<std::unique_ptr<Conn>> doomed;
    absl::MutexLock lock(&mu_);
    --in_use_;
    if (broken) {
      // The server probably went away: its other connections are dead too.
      ++generation_;
      doomed.swap(idle_);
      doomed.push_back(std::move(conn));
      return;
    }
    if (closed_ || generation != generation_) {
      doomed.push_back(std::move(conn));
      return;
    }
    idle_.push_back(std::move(conn));
  }

  const PoolOptions options_;
  const Factory factory_;

  mutable absl::Mutex mu_;
  // Most recently released last: reusing it keeps the working set warm.
  std::vector<std::unique_ptr<Conn>> idle_ ABSL_GUARDED_BY(mu_);
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int opening_ ABSL_GUARDED_BY(mu_) = 0;
  int waiters_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_POOL_CONNECTION_POOL_H_
