#ifndef USERSERVICE_SERVER_MYSQL_SOCKET_WATCHDOG_H_
#define USERSERVICE_SERVER_MYSQL_SOCKET_WATCHDOG_H_

#include <cstdint>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/mysql/endpoint_liveness.h"

namespace userservice::mysql {

// Abandons statements whose server stopped answering by shutting their
// session's socket down (shutdown(2), SHUT_RDWR; never close: the fd stays
// the session's). The client call blocked on it then fails at once with a
// connection error and the session is discarded. KILL QUERY cannot do this:
// it needs an answer from the very server that stopped answering, and the
// client library's socket timeouts are whole seconds.
//
// One thread, started by the first watch, sleeping until the earliest time
// a watched socket may be due. Thread-safe.
class SocketWatchdog {
 public:
  // A socket being watched; destroying it (or Finish) ends the watch. Ending
  // a watch waits for a shutdown already on its way, so afterwards nothing
  // more is done to the socket.
  class Watch {
   public:
    ~Watch() { Finish(); }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    // Ends the watch (once; later calls repeat the answer) and says whether
    // the socket was shut down.
    bool Finish();

   private:
    friend class SocketWatchdog;
    Watch(SocketWatchdog* watchdog, uint64_t key)
        : watchdog_(watchdog), key_(key) {}

    SocketWatchdog* const watchdog_;
    const uint64_t key_;
    bool finished_ = false;
    bool cut_ = false;
  };

  SocketWatchdog() = default;
  // Every Watch must have been destroyed first.
  ~SocketWatchdog();
  SocketWatchdog(const SocketWatchdog&) = delete;
  SocketWatchdog& operator=(const SocketWatchdog&) = delete;

  // One for the whole process, never destroyed: for sessions that are not
  // given one of their own.
  static SocketWatchdog& Default();

  // Shuts `fd` down at HungAt(earliest, silence, liveness): at `earliest`,
  // or, while `liveness` (may be null; must outlive the watch) shows the
  // endpoint answering, once it has been silent for `silence` as well.
  std::unique_ptr<Watch> WatchSocket(int fd, absl::Time earliest,
                                     absl::Duration silence,
                                     const EndpointLiveness* liveness)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Sockets shut down so far.
  uint64_t cuts() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    int fd;
    absl::Time earliest;
    absl::Duration silence;
    const EndpointLiveness* liveness;
    bool cut = false;
  };

  // Ends watch `key`; whether its socket was shut down.
  bool Unwatch(uint64_t key) ABSL_LOCKS_EXCLUDED(mu_);
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Shuts down what is due; the time the next entry may be.
  absl::Time CutDueLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // an earlier watch was added, or stopping
  absl::flat_hash_map<uint64_t, Entry> watches_ ABSL_GUARDED_BY(mu_);
  uint64_t next_key_ ABSL_GUARDED_BY(mu_) = 1;
  // When the loop wakes next by itself.
  absl::Time next_wake_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  uint64_t cuts_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_SOCKET_WATCHDOG_H_
