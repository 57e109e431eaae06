#ifndef USERSERVICE_SERVER_TESTING_FAKE_CLOCK_H_
#define USERSERVICE_SERVER_TESTING_FAKE_CLOCK_H_

// Test-only time that moves only when the test moves it.

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/clock.h"

namespace userservice {

// Thread-safe: the code under test may read it from its own threads while
// the test advances it.
class FakeClock {
 public:
  FakeClock() = default;
  explicit FakeClock(absl::Time start) : now_(start) {}
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration by) {
    absl::MutexLock lock(&mu_);
    now_ += by;
  }
  void Set(absl::Time now) {
    absl::MutexLock lock(&mu_);
    now_ = now;
  }
  // A Clock reading this one; it must not outlive it.
  Clock AsClock() {
    return [this]() { return Now(); };
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1700000000);
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_TESTING_FAKE_CLOCK_H_
