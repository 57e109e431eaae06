#include "server/mysql/dedicated_connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/mysql/sql_status.h"

namespace userservice::mysql {
namespace {

// max_statement_time ends a statement on a server that answers by its
// deadline; only one still silent a moment later has its socket cut.
constexpr absl::Duration kCutGrace = absl::Milliseconds(50);

ConnectionSettings Bounded(ConnectionSettings settings,
                           absl::Duration timeout) {
  settings.connect_timeout = std::min(settings.connect_timeout, timeout);
  settings.socket_timeout = timeout;
  return settings;
}

}  // namespace

DedicatedConnection::DedicatedConnection(Endpoint endpoint,
                                         ConnectionSettings settings,
                                         absl::Duration timeout,
                                         SocketWatchdog* watchdog)
    : endpoint_(std::move(endpoint)),
      settings_(Bounded(std::move(settings), timeout)),
      watchdog_(watchdog != nullptr ? watchdog : &SocketWatchdog::Default()) {}

DedicatedConnection::~DedicatedConnection() = default;

absl::Status DedicatedConnection::Run(
    absl::Time deadline,
    absl::FunctionRef<absl::Status(MysqlConnection&)> body) {
  absl::MutexLock lock(&mu_);
  bool reused = false;
  absl::Status status = RunOnce(deadline, body, &reused);
  if (!status.ok() && reused && conn_ == nullptr && absl::Now() < deadline) {
    status = RunOnce(deadline, body, &reused);
  }
  return status;
}

absl::Status DedicatedConnection::RunOnce(
    absl::Time deadline, absl::FunctionRef<absl::Status(MysqlConnection&)> body,
    bool* reused) {
  *reused = conn_ != nullptr;
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(absl::StrCat(
        "deadline exceeded before reaching database ", endpoint_.name));
  }
  if (conn_ == nullptr) {
    absl::StatusOr<std::unique_ptr<MysqlConnection>> opened =
        MysqlConnection::Open(endpoint_, settings_, deadline);
    if (!opened.ok()) return opened.status();
    conn_ = *std::move(opened);
  }
  MysqlConnection& conn = *conn_;
  std::unique_ptr<SocketWatchdog::Watch> watch;
  if (conn.socket_fd() >= 0) {
    watch = watchdog_->WatchSocket(conn.socket_fd(), deadline + kCutGrace,
                                   absl::ZeroDuration(), nullptr);
  }
  SqlOutcome outcome;
  absl::Status status = RunSql(
      endpoint_.name, deadline,
      [&]() {
        conn.SetStatementBudget(deadline - absl::Now());
        return body(conn);
      },
      &outcome);
  const bool cut = watch != nullptr && watch->Finish();
  if (outcome.connection_broken || cut) conn_.reset();
  if (cut && !status.ok()) {
    return absl::DeadlineExceededError(
        absl::StrCat("database ", endpoint_.name,
                     " did not answer by the deadline; the statement was "
                     "abandoned (error ",
                     outcome.error_code, ")"));
  }
  return status;
}

void DedicatedConnection::Reset() {
  std::unique_ptr<MysqlConnection> closing;
  {
    absl::MutexLock lock(&mu_);
    closing = std::move(conn_);
  }
  // Closed outside the lock: closing a session talks to the server.
}

bool DedicatedConnection::connected() const {
  absl::MutexLock lock(&mu_);
  return conn_ != nullptr;
}

}  // namespace userservice::mysql
