#ifndef USERSERVICE_SERVER_POOL_CONNECTION_POOL_H_
#define USERSERVICE_SERVER_POOL_CONNECTION_POOL_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
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
#include "server/common/clock.h"
#include "server/pool/pool_observer.h"

namespace userservice {

struct PoolOptions {
  // Endpoint name, used in error messages ("primary", "replica-0").
  std::string name;
  // Most connections open at once, idle, in use and being opened together.
  int max_size = 16;
  // Longest a caller waits for a free connection before RESOURCE_EXHAUSTED,
  // even when its own deadline is later: a full pool for this long means the
  // database is saturated, and queueing more only adds latency.
  absl::Duration acquire_timeout = absl::Seconds(2);

  // Longest a connection is kept. Each connection draws its own lifetime when
  // it is opened, uniformly in [max_lifetime * (1 - lifetime_jitter),
  // max_lifetime], so connections opened together (at startup, after a
  // failover) do not all expire, and reconnect, together. A connection past
  // its lifetime is closed when it is released or found idle; a lease in use
  // is never interrupted. absl::InfiniteDuration() disables.
  absl::Duration max_lifetime = absl::Minutes(30);
  // Fraction of max_lifetime to spread lifetimes over; clamped to [0, 1].
  double lifetime_jitter = 0.2;
  // Idle connections idle for longer than this are closed (by Acquire and by
  // Maintain()), so a quiet pool shrinks and does not hold connections the
  // server or a middlebox would time out anyway. absl::InfiniteDuration()
  // disables.
  absl::Duration idle_timeout = absl::Minutes(5);
  // An idle connection that sat idle for longer than this is checked with the
  // pool's validator (if any) before it is handed out. Connections used more
  // recently than this are handed out unchecked.
  absl::Duration validate_after_idle = absl::Seconds(1);
  // Most connections being opened at once. A caller that would have to open
  // one while this many opens are in flight waits for an open to finish or a
  // connection to be released (within its deadline and the acquire timeout),
  // so a burst of callers against a cold or recovering database does not
  // become a burst of connects. Values below 1 mean no limit beyond max_size.
  int max_opening = 4;
  // Told how long each Acquire took (for metrics); may be null. Must outlive
  // the pool.
  PoolObserver* observer = nullptr;
};

// Point-in-time counts and cumulative counters, for tests, health and metrics.
struct PoolStats {
  int idle = 0;
  int in_use = 0;  // includes connections being validated
  int opening = 0;
  int waiters = 0;
  int max_size = 0;  // PoolOptions::max_size

  // Cumulative since the pool was created.
  uint64_t opened = 0;             // successful factory calls
  uint64_t open_failures = 0;      // failed factory calls
  uint64_t closed_broken = 0;      // leases released after MarkBroken()
  uint64_t closed_lifetime = 0;    // past their lifetime, released or idle
  uint64_t closed_idle = 0;        // idle for longer than idle_timeout
  uint64_t closed_validation = 0;  // failed (or threw in) the validator
  // Closed because the pool was flushed: idle connections and stale leases
  // dropped after a MarkBroken() or DiscardIdle().
  uint64_t closed_discarded = 0;
  // Closed by Close(), or released after it. With the others, accounts for
  // every connection: opened == closed_* (all six) + idle + in_use.
  uint64_t closed_shutdown = 0;
  uint64_t acquire_resource_exhausted = 0;  // acquire_timeout ran out
  uint64_t acquire_deadline_exceeded = 0;   // the caller's deadline ran out
  uint64_t acquire_closed = 0;              // Acquire after Close()

  int size() const { return idle + in_use + opening; }
  uint64_t closed() const {
    return closed_broken + closed_lifetime + closed_idle + closed_validation +
           closed_discarded + closed_shutdown;
  }
};

// A bounded pool of connections to one endpoint.
//
// Connections are opened lazily by `factory` (outside the pool's mutex, at
// most max_opening at once) and handed out as RAII leases, most recently
// released first. A lease marked broken (the connection saw a
// connection-level error) is destroyed instead of returned, and so is every
// idle connection and every lease handed out before the failure: when the
// server went away they are all dead, and handing them out would fail one
// more call each. Once the database is back, new connections are opened on
// demand.
//
// Connections are also retired by age (max_lifetime, jittered per
// connection) and by idleness (idle_timeout, on Acquire and on Maintain()),
// and, when a validator is given, a connection idle for longer than
// validate_after_idle is validated (outside the mutex) before it is handed
// out; one that fails is closed and Acquire carries on with another.
// Connections are always destroyed outside the mutex.
//
// `Conn` is any type; the pool never calls into it (only the factory and the
// validator do), so tests use fakes.
template <typename Conn>
class ConnectionPool {
  // What happens to a connection when its lease is released.
  enum class Disposal { kReturn, kBroken, kFailedValidation };

 public:
  using Factory =
      std::function<absl::StatusOr<std::unique_ptr<Conn>>(absl::Time deadline)>;
  // True if the connection is usable. Called outside the pool's mutex with
  // the deadline of the Acquire call. Throwing counts as failing.
  using Validator = std::function<bool(Conn&, absl::Time deadline)>;

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
        expires_at_ = other.expires_at_;
        disposal_ = other.disposal_;
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
    void MarkBroken() { disposal_ = Disposal::kBroken; }

    // When the connection reaches the end of its lifetime (by the pool's
    // clock); it is closed when released at or after this time.
    absl::Time expires_at() const { return expires_at_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn, uint64_t generation,
          absl::Time expires_at)
        : pool_(pool),
          conn_(std::move(conn)),
          generation_(generation),
          expires_at_(expires_at) {}

    void Reset() {
      if (pool_ != nullptr) {
        pool_->Release(std::move(conn_), generation_, expires_at_, disposal_);
        pool_ = nullptr;
      }
    }

    ConnectionPool* pool_ = nullptr;
    std::unique_ptr<Conn> conn_;
    uint64_t generation_ = 0;
    absl::Time expires_at_ = absl::InfiniteFuture();
    Disposal disposal_ = Disposal::kReturn;
  };

  // `clock` times lifetimes and idleness; waits for a free connection
  // always use real time.
  ConnectionPool(PoolOptions options, Factory factory,
                 Validator validator = nullptr, Clock clock = absl::Now)
      : options_(std::move(options)),
        factory_(std::move(factory)),
        validator_(std::move(validator)),
        clock_(std::move(clock)),
        rng_(SeedRng()) {}

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
    absl::StatusOr<Lease> lease = AcquireSince(start, deadline);
    if (options_.observer != nullptr) {
      options_.observer->OnAcquire(absl::Now() - start, lease.status());
    }
    return lease;
  }

  // Closes idle connections past their idle timeout or lifetime. Meant to be
  // called periodically, so that a pool nobody acquires from still shrinks.
  void Maintain() {
    std::vector<Idle> doomed;
    const absl::Time now = clock_();
    absl::MutexLock lock(&mu_);
    RetireIdleLocked(now, &doomed);
  }  // `doomed` is destroyed after `lock` releases the mutex.

  // Closes idle connections now and every in-use one when it is released;
  // later Acquire calls fail. For shutdown.
  void Close() {
    std::vector<Idle> doomed;
    absl::MutexLock lock(&mu_);
    closed_ = true;
    closed_shutdown_ += idle_.size();
    doomed.swap(idle_);
  }

  // Drops every idle connection, e.g. after the endpoint was seen to restart.
  void DiscardIdle() {
    std::vector<Idle> doomed;
    absl::MutexLock lock(&mu_);
    ++generation_;
    closed_discarded_ += idle_.size();
    doomed.swap(idle_);
  }

  PoolStats Stats() const {
    absl::MutexLock lock(&mu_);
    PoolStats stats;
    stats.idle = static_cast<int>(idle_.size());
    stats.in_use = in_use_;
    stats.opening = opening_;
    stats.waiters = waiters_;
    stats.max_size = options_.max_size;
    stats.opened = opened_;
    stats.open_failures = open_failures_;
    stats.closed_broken = closed_broken_;
    stats.closed_lifetime = closed_lifetime_;
    stats.closed_idle = closed_idle_;
    stats.closed_validation = closed_validation_;
    stats.closed_discarded = closed_discarded_;
    stats.closed_shutdown = closed_shutdown_;
    stats.acquire_resource_exhausted = acquire_resource_exhausted_;
    stats.acquire_deadline_exceeded = acquire_deadline_exceeded_;
    stats.acquire_closed = acquire_closed_;
    return stats;
  }

  const PoolOptions& options() const { return options_; }

 private:
  struct Idle {
    std::unique_ptr<Conn> conn;
    absl::Time expires_at;
    absl::Time idle_since;
  };

  // Acquire's work, for a call that started at `start`.
  absl::StatusOr<Lease> AcquireSince(absl::Time start, absl::Time deadline) {
    const absl::Time give_up =
        std::min(deadline, start + options_.acquire_timeout);
    // Connections to close; always destroyed with the mutex released.
    std::vector<Idle> doomed;
    while (true) {
      doomed.clear();
      const absl::Time now = clock_();
      mu_.Lock();
      if (closed_) {
        ++acquire_closed_;
        mu_.Unlock();
        return ClosedError();
      }
      RetireIdleLocked(now, &doomed);

      if (!idle_.empty()) {
        const bool validate =
            validator_ != nullptr &&
            now - idle_.back().idle_since > options_.validate_after_idle;
        if (validate && absl::Now() >= deadline) {
          // A validator given no time would fail, and a good connection
          // would be closed for it.
          ++acquire_deadline_exceeded_;
          mu_.Unlock();
          return absl::DeadlineExceededError(
              absl::StrCat("deadline exceeded before a connection to ",
                           options_.name, " could be validated"));
        }
        Idle entry = std::move(idle_.back());
        idle_.pop_back();
        ++in_use_;
        Lease lease(this, std::move(entry.conn), generation_, entry.expires_at);
        mu_.Unlock();
        doomed.clear();
        if (!validate) return lease;
        // If the validator fails or throws, the lease closes the connection
        // when it goes out of scope (which Release counts).
        lease.disposal_ = Disposal::kFailedValidation;
        if (validator_(*lease, deadline)) {
          lease.disposal_ = Disposal::kReturn;
          return lease;
        }
        continue;
      }

      if (CanOpenLocked()) return OpenAndUnlock(deadline, &doomed);

      if (!doomed.empty()) {
        // Close those first rather than hold them while waiting.
        mu_.Unlock();
        continue;
      }
      ++waiters_;
      const bool ready = mu_.AwaitWithDeadline(
          absl::Condition(this, &ConnectionPool::CanProceedLocked), give_up);
      --waiters_;
      if (!ready) {
        absl::Status error =
            WaitTimeoutErrorLocked(deadline, absl::Now() - start);
        mu_.Unlock();
        return error;
      }
      mu_.Unlock();
    }
  }

  static uint64_t SeedRng() {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device() ^
           static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  }

  int TotalLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(idle_.size()) + in_use_ + opening_;
  }

  bool CanOpenLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return TotalLocked() < options_.max_size &&
           (options_.max_opening < 1 || opening_ < options_.max_opening);
  }

  bool CanProceedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || !idle_.empty() || CanOpenLocked();
  }

  static bool ExpiredAt(absl::Time expires_at, absl::Time now) {
    return now >= expires_at;
  }

  // Moves idle connections past their lifetime or idle timeout to `doomed`,
  // keeping the others in order.
  void RetireIdleLocked(absl::Time now, std::vector<Idle>* doomed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto keep = idle_.begin();
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if (ExpiredAt(it->expires_at, now)) {
        ++closed_lifetime_;
        doomed->push_back(std::move(*it));
      } else if (now - it->idle_since > options_.idle_timeout) {
        ++closed_idle_;
        doomed->push_back(std::move(*it));
      } else {
        if (keep != it) *keep = std::move(*it);
        ++keep;
      }
    }
    idle_.erase(keep, idle_.end());
  }

  // When a connection opened at `opened_at` reaches the end of its lifetime.
  absl::Time DrawExpiryLocked(absl::Time opened_at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Duration max_lifetime = options_.max_lifetime;
    if (max_lifetime == absl::InfiniteDuration()) return absl::InfiniteFuture();
    double jitter = options_.lifetime_jitter;
    if (!(jitter > 0)) jitter = 0;  // also NaN
    if (jitter > 1) jitter = 1;
    // In [0, 1): the lifetime is in (max * (1 - jitter), max].
    const double draw = std::uniform_real_distribution<double>(0, 1)(rng_);
    return opened_at + max_lifetime * (1 - jitter * draw);
  }

  // Opens a connection outside the mutex (which must be held on entry and is
  // released on return), holding a slot for it meanwhile so the pool never
  // exceeds max_size. Destroys `doomed` while the mutex is released.
  absl::StatusOr<Lease> OpenAndUnlock(absl::Time deadline,
                                      std::vector<Idle>* doomed)
      ABSL_UNLOCK_FUNCTION(mu_) {
    ++opening_;
    const uint64_t generation = generation_;
    mu_.Unlock();
    doomed->clear();

    // Gives the slot back if the factory throws.
    struct OpeningGuard {
      ConnectionPool* pool;
      ~OpeningGuard() {
        if (pool == nullptr) return;
        absl::MutexLock lock(&pool->mu_);
        --pool->opening_;
        ++pool->open_failures_;
      }
    } guard{this};
    absl::StatusOr<std::unique_ptr<Conn>> conn = factory_(deadline);
    if (conn.ok() && *conn == nullptr) {
      conn = absl::InternalError("connection factory returned null");
    }
    const absl::Time opened_at = clock_();
    guard.pool = nullptr;

    absl::MutexLock lock(&mu_);
    --opening_;
    if (!conn.ok()) {
      ++open_failures_;
      return conn.status();
    }
    ++opened_;
    ++in_use_;
    return Lease(this, *std::move(conn), generation,
                 DrawExpiryLocked(opened_at));
  }

  absl::Status ClosedError() const {
    return absl::UnavailableError(
        absl::StrCat("database endpoint ", options_.name, " is shutting down"));
  }

  absl::Status WaitTimeoutErrorLocked(absl::Time deadline,
                                      absl::Duration waited)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string state =
        opening_ > 0 && TotalLocked() < options_.max_size
            ? absl::StrCat(in_use_, " in use, ", opening_,
                           " being opened, at most ", options_.max_opening,
                           " opened at once")
            : absl::StrCat("all ", options_.max_size, " in use");
    if (absl::Now() >= deadline) {
      ++acquire_deadline_exceeded_;
      return absl::DeadlineExceededError(absl::StrCat(
          "deadline exceeded after waiting ", absl::FormatDuration(waited),
          " for a connection to ", options_.name, " (", state, ")"));
    }
    ++acquire_resource_exhausted_;
    return absl::ResourceExhaustedError(
        absl::StrCat("no connection to ", options_.name, " became free within ",
                     absl::FormatDuration(options_.acquire_timeout), " (",
                     state, "); retry with backoff"));
  }

  void Release(std::unique_ptr<Conn> conn, uint64_t generation,
               absl::Time expires_at, Disposal disposal) {
    const absl::Time now = clock_();
    std::vector<Idle> doomed;
    absl::MutexLock lock(&mu_);
    --in_use_;
    Idle entry{std::move(conn), expires_at, now};
    switch (disposal) {
      case Disposal::kBroken:
        // The server probably went away: its other connections are dead too.
        ++closed_broken_;
        ++generation_;
        closed_discarded_ += idle_.size();
        doomed.swap(idle_);
        doomed.push_back(std::move(entry));
        return;
      case Disposal::kFailedValidation:
        ++closed_validation_;
        doomed.push_back(std::move(entry));
        return;
      case Disposal::kReturn:
        break;
    }
    if (closed_) {
      ++closed_shutdown_;
      doomed.push_back(std::move(entry));
      return;
    }
    if (generation != generation_) {
      ++closed_discarded_;
      doomed.push_back(std::move(entry));
      return;
    }
    if (ExpiredAt(expires_at, now)) {
      ++closed_lifetime_;
      doomed.push_back(std::move(entry));
      return;
    }
    idle_.push_back(std::move(entry));
  }  // `doomed` is destroyed after `lock` releases the mutex.

  const PoolOptions options_;
  const Factory factory_;
  const Validator validator_;
  const Clock clock_;

  mutable absl::Mutex mu_;
  // Most recently released last: reusing it keeps the working set warm.
  std::vector<Idle> idle_ ABSL_GUARDED_BY(mu_);
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int opening_ ABSL_GUARDED_BY(mu_) = 0;
  int waiters_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);

  uint64_t opened_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t open_failures_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t closed_broken_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t closed_lifetime_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t closed_idle_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t closed_validation_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t closed_discarded_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t closed_shutdown_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t acquire_resource_exhausted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t acquire_deadline_exceeded_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t acquire_closed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_POOL_CONNECTION_POOL_H_
