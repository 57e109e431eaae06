#include "server/mysql/socket_watchdog.h"

#include <sys/socket.h>

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"

namespace userservice::mysql {

bool SocketWatchdog::Watch::Finish() {
  if (!finished_) {
    cut_ = watchdog_->Unwatch(key_);
    finished_ = true;
  }
  return cut_;
}

SocketWatchdog::~SocketWatchdog() {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

SocketWatchdog& SocketWatchdog::Default() {
  static SocketWatchdog* const watchdog = new SocketWatchdog();
  return *watchdog;
}

std::unique_ptr<SocketWatchdog::Watch> SocketWatchdog::WatchSocket(
    int fd, absl::Time earliest, absl::Duration silence,
    const EndpointLiveness* liveness) {
  absl::MutexLock lock(&mu_);
  const uint64_t key = next_key_++;
  watches_.emplace(key, Entry{fd, earliest, silence, liveness});
  if (!thread_.joinable() && !stopping_) {
    thread_ = std::thread([this] { Loop(); });
  }
  // A hung time only moves later, so a loop already due to wake before
  // this one need not be woken: most statements end long before either.
  if (HungAt(earliest, silence, liveness) < next_wake_) changed_.Signal();
  return std::unique_ptr<Watch>(new Watch(this, key));
}

bool SocketWatchdog::Unwatch(uint64_t key) {
  // Shutdowns happen under mu_, so none is on its way once it is held.
  absl::MutexLock lock(&mu_);
  auto it = watches_.find(key);
  if (it == watches_.end()) return false;
  const bool cut = it->second.cut;
  watches_.erase(it);
  return cut;
}

uint64_t SocketWatchdog::cuts() const {
  absl::MutexLock lock(&mu_);
  return cuts_;
}

absl::Time SocketWatchdog::CutDueLocked(absl::Time now) {
  absl::Time next = absl::InfiniteFuture();
  for (auto& [key, entry] : watches_) {
    if (entry.cut) continue;
    const absl::Time at = HungAt(entry.earliest, entry.silence, entry.liveness);
    if (now < at) {
      next = std::min(next, at);
      continue;
    }
    // Wakes the blocked reader or writer of the session with an error; the
    // fd stays open and is closed by its session only.
    ::shutdown(entry.fd, SHUT_RDWR);
    entry.cut = true;
    ++cuts_;
  }
  return next;
}

void SocketWatchdog::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    next_wake_ = CutDueLocked(absl::Now());
    changed_.WaitWithDeadline(&mu_, next_wake_);
  }
}

}  // namespace userservice::mysql
