#include "server/app/signals.h"

#include <pthread.h>
#include <signal.h>

#include <utility>

namespace userservice {
namespace {

sigset_t ShutdownSignalSet() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t signals = ShutdownSignalSet();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

ShutdownSignals::ShutdownSignals(
    std::function<void()> on_hangup,
    std::function<void(const std::string& signal)> on_shutdown)
    : thread_([on_hangup = std::move(on_hangup),
               on_shutdown = std::move(on_shutdown)] {
        const sigset_t signals = ShutdownSignalSet();
        int signal = 0;
        while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) {
          on_hangup();
        }
        on_shutdown(signal == SIGTERM ? "SIGTERM" : "SIGINT");
      }) {}

ShutdownSignals::~ShutdownSignals() { thread_.join(); }

}  // namespace userservice
