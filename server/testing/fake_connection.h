#ifndef USERSERVICE_SERVER_TESTING_FAKE_CONNECTION_H_
#define USERSERVICE_SERVER_TESTING_FAKE_CONNECTION_H_

// Test-only connections for ConnectionPool<FakeConn>: a connection that
// records its own destruction, and a factory and a validator that can be told
// to fail or to block.

#include <atomic>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/pool/connection_pool.h"

namespace userservice {

// Counts how many FakeConns exist, were opened and were destroyed, and which
// ones are gone.
struct ConnStats {
  std::atomic<int> opened{0};
  std::atomic<int> destroyed{0};
  absl::Mutex mu;
  std::set<int> destroyed_ids ABSL_GUARDED_BY(mu);

  int live() const { return opened.load() - destroyed.load(); }
  bool WasDestroyed(int id) {
    absl::MutexLock lock(&mu);
    return destroyed_ids.count(id) > 0;
  }
};

class FakeConn {
 public:
  FakeConn(int id, ConnStats* stats) : id_(id), stats_(stats) {}
  ~FakeConn() {
    {
      absl::MutexLock lock(&stats_->mu);
      stats_->destroyed_ids.insert(id_);
    }
    ++stats_->destroyed;
  }
  FakeConn(const FakeConn&) = delete;
  FakeConn& operator=(const FakeConn&) = delete;

  int id() const { return id_; }

 private:
  const int id_;
  ConnStats* const stats_;
};

// A factory that numbers connections 1, 2, ... and can be told to fail or to
// block until released.
class FakeConnFactory {
 public:
  explicit FakeConnFactory(ConnStats* stats) : stats_(stats) {}

  ConnectionPool<FakeConn>::Factory AsFactory() {
    return [this](absl::Time deadline) { return Open(deadline); };
  }

  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    failure_ = std::move(status);
  }

  // The next Open calls block until `release` is notified, signalling
  // `entered` (if not null) once the first one is inside.
  void BlockOn(absl::Notification* entered, absl::Notification* release) {
    absl::MutexLock lock(&mu_);
    entered_ = entered;
    release_ = release;
  }

  int calls() const { return calls_.load(); }
  // Most Open calls ever in progress at once.
  int max_concurrent() const { return max_concurrent_.load(); }
  absl::Time last_deadline() {
    absl::MutexLock lock(&mu_);
    return last_deadline_;
  }

 private:
  absl::StatusOr<std::unique_ptr<FakeConn>> Open(absl::Time deadline) {
    ++calls_;
    const int concurrent = ++concurrent_;
    int seen = max_concurrent_.load();
    while (concurrent > seen &&
           !max_concurrent_.compare_exchange_weak(seen, concurrent)) {
    }
    struct Exit {
      std::atomic<int>* concurrent;
      ~Exit() { --*concurrent; }
    } exit{&concurrent_};
    absl::Notification* release;
    absl::Status failure;
    {
      absl::MutexLock lock(&mu_);
      last_deadline_ = deadline;
      release = release_;
      failure = failure_;
      // Under mu_: concurrent opens must not both see "not yet notified".
      if (release != nullptr && entered_ != nullptr &&
          !entered_->HasBeenNotified()) {
        entered_->Notify();
      }
    }
    if (release != nullptr) {
      // Like a real connect, give up at the caller's deadline.
      if (!release->WaitForNotificationWithDeadline(deadline)) {
        return absl::DeadlineExceededError("connect timed out");
      }
    }
    if (!failure.ok()) return failure;
    const int id = ++stats_->opened;
    return std::make_unique<FakeConn>(id, stats_);
  }

  ConnStats* const stats_;
  std::atomic<int> calls_{0};
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};
  absl::Mutex mu_;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  absl::Notification* entered_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Notification* release_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Time last_deadline_ ABSL_GUARDED_BY(mu_);
};

// Records the connections it was called on and fails those it is told to.
class FakeConnValidator {
 public:
  ConnectionPool<FakeConn>::Validator AsValidator() {
    return [this](FakeConn& conn, absl::Time deadline) {
      absl::MutexLock lock(&mu_);
      calls_.push_back(conn.id());
      last_deadline_ = deadline;
      return failing_.count(conn.id()) == 0 && !fail_all_;
    };
  }
  void Fail(int id) {
    absl::MutexLock lock(&mu_);
    failing_.insert(id);
  }
  void FailAll() {
    absl::MutexLock lock(&mu_);
    fail_all_ = true;
  }
  std::vector<int> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  absl::Time last_deadline() {
    absl::MutexLock lock(&mu_);
    return last_deadline_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int> calls_ ABSL_GUARDED_BY(mu_);
  std::set<int> failing_ ABSL_GUARDED_BY(mu_);
  bool fail_all_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_deadline_ ABSL_GUARDED_BY(mu_);
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_TESTING_FAKE_CONNECTION_H_
