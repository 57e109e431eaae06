#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/test_cluster.h"

extern char** environ;

namespace userservice::testing {
namespace {

int ExitCodeOf(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Waits for `pid` until `deadline`; the exit code, or nullopt if running.
bool WaitUntil(pid_t pid, absl::Time deadline, int* exit_code) {
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      *exit_code = ExitCodeOf(status);
      return true;
    }
    if (r < 0) {
      *exit_code = -1;
      return true;
    }
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> EnvironmentWith(const std::vector<std::string>& add) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  env.insert(env.end(), add.begin(), add.end());
  return env;
}

}  // namespace

std::string UserServerPath() { return USER_SERVER_PATH; }
std::string UserctlPath() { return USERCTL_PATH; }
std::string BufPath() {
  const char* buf = std::getenv("BUF");
  if (buf != nullptr && *buf != '\0') return buf;
  return SourceDir() + "/.tools/node_modules/.bin/buf";
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         absl::Duration timeout,
                         const std::vector<std::string>& env) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return result;
  std::vector<std::string> args = argv;
  std::vector<std::string> environment = EnvironmentWith(env);
  std::vector<char*> c_args = CStrings(args);
  std::vector<char*> c_env = CStrings(environment);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    // Only stdout and stderr may hold the pipes: a daemon the command leaves
    // behind (podman's conmon) would otherwise keep them open, and this
    // would wait for their end until the timeout.
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    execve(c_args[0], c_args.data(), c_env.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  const absl::Time deadline = absl::Now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buffer[4096];
  while (open_fds > 0 && absl::Now() < deadline) {
    const int ready = poll(fds, 2, 50);
    if (ready <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buffer, n);
      }
    }
  }
  for (pollfd& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  if (!WaitUntil(pid, deadline, &result.exit_code)) {
    kill(pid, SIGKILL);
    WaitUntil(pid, absl::InfiniteFuture(), &result.exit_code);
    result.exit_code = -1;
  }
  return result;
}

namespace {

// Whether something accepts TCP connections on 127.0.0.1:port. A TCP
// check, not a gRPC one, so that it works for TLS and plaintext servers.
bool AcceptsTcp(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return connected;
}

}  // namespace

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::vector<std::string> ClusterServerArgs() {
  TestCluster& cluster = TestCluster::Get();
  return {"--primary=" + cluster.primary(),
          "--replicas=" + cluster.replicas_flag(),
          "--db-name=" + cluster.db_name(), "--db-user=" + cluster.db_user(),
          "--db-password-file=" + cluster.password_file()};
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    std::vector<std::string> args, absl::Duration timeout) {
  auto server = std::unique_ptr<ServerProcess>(new ServerProcess());
  server->port_ = FreePort();
  server->log_path_ = absl::StrCat(::testing::TempDir(), "/user_server-",
                                   server->port_, ".log");
  // Metrics on (so every test goes through the RPC interceptor) but never on
  // the default port, which parallel runs on one host would share; a test
  // that scrapes passes its own --metrics-listen, which comes later and wins.
  std::vector<std::string> argv = {
      UserServerPath(), absl::StrCat("--listen=127.0.0.1:", server->port_),
      "--metrics-listen=127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> environment = EnvironmentWith({});
  std::vector<char*> c_args = CStrings(argv);
  std::vector<char*> c_env = CStrings(environment);
  const int log_fd =
      open(server->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(log_fd, STDERR_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    execve(c_args[0], c_args.data(), c_env.data());
    _exit(127);
  }
  close(log_fd);
  server->pid_ = pid;

  // A plaintext server is ready once a gRPC channel connects; a TLS server
  // never accepts that channel, so for it an accepted TCP connection has to
  // do. (The gRPC check takes a reconnect backoff longer, which gives the
  // server's first health checks time to run; some tests rely on that.)
  bool tls = false;
  for (const std::string& arg : args) {
    tls = tls || arg.rfind("--tls-cert=", 0) == 0;
  }
  auto channel = grpc::CreateChannel(server->address(),
                                     grpc::InsecureChannelCredentials());
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int exit_code;
    if (WaitUntil(pid, absl::Now(), &exit_code)) {
      server->pid_ = -1;
      return absl::InternalError(
          absl::StrCat("user_server exited with ", exit_code,
                       " before listening; log:\n", server->Log()));
    }
    if (tls) {
      if (AcceptsTcp(server->port_)) return server;
      absl::SleepFor(absl::Milliseconds(100));
    } else if (channel->WaitForConnected(
                   absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)))) {
      return server;
    }
  }
  return absl::DeadlineExceededError(
      absl::StrCat("user_server did not listen within ",
                   absl::FormatDuration(timeout), "; log:\n", server->Log()));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop(SIGKILL, absl::Seconds(10));
}

std::string ServerProcess::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

bool ServerProcess::Running() {
  if (pid_ <= 0) return false;
  if (WaitUntil(pid_, absl::Now(), &exit_code_)) {
    pid_ = -1;
    return false;
  }
  return true;
}

int ServerProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return exit_code_;
  kill(pid_, signal);
  if (!WaitUntil(pid_, absl::Now() + timeout, &exit_code_)) {
    kill(pid_, SIGKILL);
    WaitUntil(pid_, absl::InfiniteFuture(), &exit_code_);
    exit_code_ = -1;
  }
  pid_ = -1;
  return exit_code_;
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace userservice::testing
