#ifndef USERSERVICE_SERVER_MYSQL_QUERY_KILLER_H_
#define USERSERVICE_SERVER_MYSQL_QUERY_KILLER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/mysql/dedicated_connection.h"
#include "server/mysql/mysql_connection.h"

namespace userservice::mysql {

// Stops running statements on one endpoint with KILL QUERY, from a session
// of its own: a blocked session cannot stop itself, and a user may kill its
// own sessions' statements without extra privileges. The killed statement
// fails with error 1317 and its session stays usable.
//
// The watchdog ends the statements of calls that were cancelled (the
// client went away) and, as a backstop, of calls that ran past their
// deadline: normally max_statement_time ends those on the server, but not
// every wait honors it. Thread-safe.
class QueryKiller {
 public:
  // A statement being watched; destroying it ends the watch. The
  // destructor waits for a KILL already on its way, so once it returns no
  // KILL for this watch can reach the session: destroy the Watch before the
  // session runs anything else (e.g. before its lease returns to the pool).
  class Watch {
   public:
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

   private:
    friend class QueryKiller;
    Watch(QueryKiller* killer, uint64_t key) : killer_(killer), key_(key) {}

    QueryKiller* const killer_;
    const uint64_t key_;
  };

  QueryKiller(Endpoint endpoint, ConnectionSettings settings);
  // Every Watch must have been destroyed first.
  ~QueryKiller();

  QueryKiller(const QueryKiller&) = delete;
  QueryKiller& operator=(const QueryKiller&) = delete;

  // Runs KILL QUERY for the session `connection_id` (MysqlConnection::id()),
  // within about a second. A session with no running statement is not
  // affected; one that no longer exists is an error (1094).
  absl::Status Kill(uint64_t connection_id);

  // Watches the statement now running on session `connection_id` until the
  // returned Watch is destroyed: it is killed, once, as soon as
  // `cancelled()` returns true or the time is `deadline` plus a short
  // grace. `cancelled` is polled about every 10 ms under an internal lock:
  // it must be fast, must not block and must not call into this object.
  std::unique_ptr<Watch> WatchQuery(uint64_t connection_id, absl::Time deadline,
                                    std::function<bool()> cancelled);

 private:
  enum class State { kWatching, kKilling, kDone };
  struct Entry {
    uint64_t connection_id;
    absl::Time deadline;
    std::function<bool()> cancelled;
    State state = State::kWatching;
  };
  struct Due {
    uint64_t key;
    uint64_t connection_id;
    bool cancelled;
  };

  void Loop();
  void Unwatch(uint64_t key);

  const std::string endpoint_name_;
  DedicatedConnection conn_;

  absl::Mutex mu_;
  absl::CondVar changed_;  // a watch was added or finished, or stopping
  absl::flat_hash_map<uint64_t, Entry> watches_ ABSL_GUARDED_BY(mu_);
  uint64_t next_key_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(mu_);  // started by the first watch
};

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_QUERY_KILLER_H_
