#include "server/mysql/query_killer.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cppconn/prepared_statement.h"
#include "server/common/log.h"

namespace userservice::mysql {
namespace {

// MariaDB accepts KILL's id as a placeholder, so no SQL is built from text.
constexpr char kKillQuery[] = "KILL QUERY ?";

// A KILL is one short round trip; one that takes longer will not arrive in
// time to matter.
constexpr absl::Duration kKillTimeout = absl::Seconds(1);
// How quickly a cancellation turns into a KILL.
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);
// max_statement_time normally ends a statement at its deadline, on the
// server; the watchdog steps in only when that did not happen.
constexpr absl::Duration kDeadlineGrace = absl::Milliseconds(50);

}  // namespace

QueryKiller::Watch::~Watch() { killer_->Unwatch(key_); }

QueryKiller::QueryKiller(Endpoint endpoint, ConnectionSettings settings)
    : endpoint_name_(endpoint.name),
      conn_(std::move(endpoint), std::move(settings), kKillTimeout) {}

QueryKiller::~QueryKiller() {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

absl::Status QueryKiller::Kill(uint64_t connection_id) {
  if (connection_id == 0) {
    return absl::InvalidArgumentError("no connection id to kill");
  }
  // KILL QUERY is safe to repeat, as DedicatedConnection::Run may do.
  return conn_.Run(absl::Now() + kKillTimeout, [&](MysqlConnection& conn) {
    sql::PreparedStatement& kill = conn.Prepare(kKillQuery);
    kill.setUInt64(1, connection_id);
    kill.execute();
    return absl::OkStatus();
  });
}

std::unique_ptr<QueryKiller::Watch> QueryKiller::WatchQuery(
    uint64_t connection_id, absl::Time deadline,
    std::function<bool()> cancelled) {
  absl::MutexLock lock(&mu_);
  const bool was_idle = watches_.empty();
  const uint64_t key = next_key_++;
  watches_.emplace(key, Entry{connection_id, deadline, std::move(cancelled)});
  if (!thread_.joinable() && !stopping_) {
    thread_ = std::thread([this] { Loop(); });
  }
  // Only an idle loop sleeps until told; a busy one looks again within
  // kPollInterval anyway. Waking it for every statement cost a thread
  // switch per query.
  if (was_idle) changed_.SignalAll();
  return std::unique_ptr<Watch>(new Watch(this, key));
}

void QueryKiller::Unwatch(uint64_t key) {
  absl::MutexLock lock(&mu_);
  auto it = watches_.find(key);
  // A KILL on its way must land before the session runs anything else.
  while (it != watches_.end() && it->second.state == State::kKilling) {
    changed_.Wait(&mu_);
    it = watches_.find(key);
  }
  if (it != watches_.end()) watches_.erase(it);
}

void QueryKiller::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (watches_.empty()) {
      // Idle: sleep until a watch arrives instead of polling.
      changed_.Wait(&mu_);
      continue;
    }
    changed_.WaitWithTimeout(&mu_, kPollInterval);
    if (stopping_) break;

    const absl::Time now = absl::Now();
    std::vector<Due> due;
    for (auto& [key, entry] : watches_) {
      if (entry.state != State::kWatching) continue;
      const bool cancelled = entry.cancelled && entry.cancelled();
      if (cancelled || now > entry.deadline + kDeadlineGrace) {
        entry.state = State::kKilling;
        due.push_back(Due{key, entry.connection_id, cancelled});
      }
    }
    if (due.empty()) continue;

    // The KILLs talk to the database: not under the lock, so new watches
    // and finished ones are not held up.
    mu_.Unlock();
    for (const Due& d : due) {
      const absl::Status status = Kill(d.connection_id);
      const std::string why = d.cancelled ? "call cancelled" : "past deadline";
      if (status.ok()) {
        log::Info("stopped a database statement",
                  {{"endpoint", endpoint_name_},
                   {"connection_id", absl::StrCat(d.connection_id)},
                   {"why", why}});
      } else {
        log::Warning("could not stop a database statement",
                     {{"endpoint", endpoint_name_},
                      {"connection_id", absl::StrCat(d.connection_id)},
                      {"why", why},
                      {"reason", std::string(status.message())}});
      }
    }
    mu_.Lock();
    for (const Due& d : due) {
      auto it = watches_.find(d.key);
      if (it != watches_.end()) it->second.state = State::kDone;
    }
    changed_.SignalAll();
  }
}

}  // namespace userservice::mysql
