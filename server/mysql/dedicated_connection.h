#ifndef USERSERVICE_SERVER_MYSQL_DEDICATED_CONNECTION_H_
#define USERSERVICE_SERVER_MYSQL_DEDICATED_CONNECTION_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/socket_watchdog.h"

namespace userservice::mysql {

// One database session kept for a background task (heartbeats, replica
// checks, KILL QUERY), outside the endpoint's pool: a pool saturated by
// slow calls must not delay the very work that detects or ends them.
//
// The session is opened on first use, discarded after a connection-level
// error and reopened by the next call. Thread-safe; calls are serialized,
// since a session runs one statement at a time.
class DedicatedConnection {
 public:
  // `timeout` also becomes the session's socket timeouts (whole seconds,
  // rounded up) and caps its connect timeout. A statement still waiting
  // for its server shortly after its deadline has its socket shut down by
  // `watchdog` (SocketWatchdog::Default() when null; must outlive this), so
  // a server that stops answering cannot hold a call much past its
  // deadline.
  DedicatedConnection(Endpoint endpoint, ConnectionSettings settings,
                      absl::Duration timeout,
                      SocketWatchdog* watchdog = nullptr);
  ~DedicatedConnection();

  DedicatedConnection(const DedicatedConnection&) = delete;
  DedicatedConnection& operator=(const DedicatedConnection&) = delete;

  // Runs `body`, which may throw sql::SQLException, on the session with
  // the server stopping its statements at `deadline` (max_statement_time),
  // and returns its status or the mapped error.
  //
  // A session kept from an earlier call may have died in between (server
  // restart, wait_timeout); if it fails that way and time remains, `body`
  // runs once more on a new session, so a stale session never fails a
  // call by itself. `body` must therefore be safe to repeat.
  absl::Status Run(absl::Time deadline,
                   absl::FunctionRef<absl::Status(MysqlConnection&)> body)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Closes the session; the next Run opens a new one.
  void Reset() ABSL_LOCKS_EXCLUDED(mu_);

  // Whether a session is open (false after a connection-level failure).
  bool connected() const ABSL_LOCKS_EXCLUDED(mu_);

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  absl::Status RunOnce(absl::Time deadline,
                       absl::FunctionRef<absl::Status(MysqlConnection&)> body,
                       bool* reused) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Endpoint endpoint_;
  const ConnectionSettings settings_;
  SocketWatchdog* const watchdog_;

  mutable absl::Mutex mu_;
  std::unique_ptr<MysqlConnection> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_DEDICATED_CONNECTION_H_
