#ifndef USERSERVICE_SERVER_APP_SIGNALS_H_
#define USERSERVICE_SERVER_APP_SIGNALS_H_

#include <functional>
#include <string>
#include <thread>

namespace userservice {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread, and so in every
// thread it starts later: call it first in main, before gRPC or anything
// else starts a thread, so that only ShutdownSignals receives them.
void BlockShutdownSignals();

// A thread that waits for the blocked signals. Each SIGHUP calls
// `on_hangup`; the first SIGTERM or SIGINT calls `on_shutdown` with the
// signal's name and ends the thread. The destructor joins it, so destroy
// this only after a shutdown signal came (main waits for the server, which
// stops only on one).
class ShutdownSignals {
 public:
  ShutdownSignals(std::function<void()> on_hangup,
                  std::function<void(const std::string& signal)> on_shutdown);
  ~ShutdownSignals();

  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

 private:
  std::thread thread_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_SIGNALS_H_
