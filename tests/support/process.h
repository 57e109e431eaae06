#ifndef USERSERVICE_TESTS_SUPPORT_PROCESS_H_
#define USERSERVICE_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace userservice::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed at the timeout or by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] with its arguments, collecting stdout and stderr; killed at
// `timeout`. `env` entries ("NAME=value") are added to the environment.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         absl::Duration timeout = absl::Seconds(30),
                         const std::vector<std::string>& env = {});

// A free TCP port on 127.0.0.1 (bound and released, so it is free now).
int FreePort();

// A user_server child process listening on 127.0.0.1:port, its stderr in a
// log file. Killed if still running on destruction.
class ServerProcess {
 public:
  // Starts the server with `args` (plus --listen) and waits until it
  // accepts connections. Fails if it exits or does not listen in time.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      std::vector<std::string> args,
      absl::Duration timeout = absl::Seconds(60));

  ~ServerProcess();

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits for the exit status (-1 when killed by a
  // signal or still running after `timeout`).
  int Stop(int signal, absl::Duration timeout = absl::Seconds(30));
  bool Running();
  std::string Log() const;

 private:
  ServerProcess() = default;

  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
  int exit_code_ = -1;
};

// Arguments that point a server at the test cluster, with the app user.
std::vector<std::string> ClusterServerArgs();

std::string UserServerPath();
std::string UserctlPath();
std::string BufPath();

}  // namespace userservice::testing

#endif  // USERSERVICE_TESTS_SUPPORT_PROCESS_H_
