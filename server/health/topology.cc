#include "server/health/topology.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/common/log.h"

namespace userservice {
namespace {

// The claimant whose server `server_id` is, or -1.
int ClaimantOf(const Election& election,
               absl::Span<const RoleFacts> endpoints, int64_t server_id) {
  if (server_id == 0) return -1;
  for (int c : election.claimants) {
    if (endpoints[c].server_id == server_id) return c;
  }
  return -1;
}

// Endpoints replicating, without error, from claimant `c`'s server.
int FollowersOf(absl::Span<const RoleFacts> endpoints, int c) {
  const int64_t source = endpoints[c].server_id;
  int followers = 0;
  for (const RoleFacts& f : endpoints) {
    if (f.checked && f.reachable && f.replicating && !f.replication_broken &&
        source != 0 && f.source_server_id == source && f.server_id != source) {
      ++followers;
    }
  }
  return followers;
}

// Among several claimants: the one followed by the most replicas, else
// the current writer if it is one of them, else none.
int PickAmongClaimants(const Election& election,
                       absl::Span<const RoleFacts> endpoints, int current) {
  int best = -1;
  int best_followers = -1;
  bool tie = false;
  for (int c : election.claimants) {
    const int followers = FollowersOf(endpoints, c);
    if (followers > best_followers) {
      best = c;
      best_followers = followers;
      tie = false;
    } else if (followers == best_followers) {
      tie = true;
    }
  }
  if (!tie) return best;
  if (current >= 0 && static_cast<size_t>(current) < endpoints.size()) {
    return ClaimantOf(election, endpoints, endpoints[current].server_id);
  }
  return -1;
}

EndpointRole RoleOfOther(const Election& election,
                         absl::Span<const RoleFacts> endpoints, size_t i) {
  const RoleFacts& f = endpoints[i];
  if (!f.replicating || f.replication_broken) return EndpointRole::kDetached;
  const int source = ClaimantOf(election, endpoints, f.source_server_id);
  if (source >= 0 && source != election.writer) return EndpointRole::kDetached;
  return EndpointRole::kReplica;
}

// Fills the unreachable roles and the claimants; returns, per endpoint,
// the claimant whose server it reaches again under another name (-1:
// none), or all -1 with `*all_checked` false.
std::vector<int> FindClaimants(absl::Span<const RoleFacts> endpoints,
                               Election* election, bool* all_checked) {
  std::vector<int> alias_of(endpoints.size(), -1);
  *all_checked = true;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    const RoleFacts& f = endpoints[i];
    if (!f.checked) {
      *all_checked = false;
    } else if (!f.reachable) {
      election->roles[i] = EndpointRole::kUnreachable;
    } else if (!f.read_only && !f.replicating && !f.replication_broken) {
      alias_of[i] = ClaimantOf(*election, endpoints, f.server_id);
      if (alias_of[i] < 0) election->claimants.push_back(static_cast<int>(i));
    }
  }
  return alias_of;
}

std::string NoClaimantReason(const Election& election) {
  const auto unreachable = std::count(
      election.roles.begin(), election.roles.end(), EndpointRole::kUnreachable);
  if (unreachable == 0) {
    return "every database is read-only or replicates from another";
  }
  return absl::StrCat(
      "every reachable database is read-only or replicates from another; ",
      unreachable, " cannot be reached");
}

void AssignRoles(absl::Span<const RoleFacts> endpoints,
                 const std::vector<int>& alias_of, Election* election) {
  for (size_t i = 0; i < endpoints.size(); ++i) {
    if (!endpoints[i].checked || !endpoints[i].reachable) continue;
    const int self = static_cast<int>(i);
    const bool claims =
        std::count(election->claimants.begin(), election->claimants.end(),
                   self) > 0;
    if (claims) {
      election->roles[i] = self == election->writer ? EndpointRole::kWriter
                                                    : EndpointRole::kRival;
    } else if (alias_of[i] >= 0) {
      election->roles[i] = alias_of[i] == election->writer
                               ? EndpointRole::kAlias
                               : EndpointRole::kRival;
    } else {
      election->roles[i] = RoleOfOther(*election, endpoints, i);
    }
  }
}

}  // namespace

const char* EndpointRoleName(EndpointRole role) {
  switch (role) {
    case EndpointRole::kUnknown:
      return "unknown";
    case EndpointRole::kUnreachable:
      return "unreachable";
    case EndpointRole::kWriter:
      return "writer";
    case EndpointRole::kReplica:
      return "replica";
    case EndpointRole::kRival:
      return "rival";
    case EndpointRole::kAlias:
      return "alias";
    case EndpointRole::kDetached:
      return "detached";
  }
  return "unknown";
}

RoleFacts RoleFacts::Of(const ProbeResult& result) {
  RoleFacts f;
  f.checked = true;
  f.reachable = result.reachable;
  if (!result.reachable) return f;
  f.server_id = result.server_id;
  f.read_only = result.read_only;
  f.source_server_id = result.source_server_id;
  if (!result.replication_status_known) {
    // Without SLAVE MONITOR the threads cannot be seen: a read-only server
    // is taken for a replica, a writable one for a writer.
    f.replicating = result.read_only;
    return f;
  }
  if (!result.replication_configured) return f;
  const bool io_alive = result.io_running || result.io_connecting;
  f.replicating = io_alive || result.sql_running;
  f.replication_broken =
      (!result.sql_running && result.last_sql_errno != 0) ||
      (!io_alive && result.last_io_errno != 0);
  return f;
}

Election ElectWriter(absl::Span<const RoleFacts> endpoints, int current) {
  Election election;
  election.roles.assign(endpoints.size(), EndpointRole::kUnknown);
  bool all_checked = false;
  const std::vector<int> alias_of =
      FindClaimants(endpoints, &election, &all_checked);
  if (!all_checked) {
    election.no_writer_reason = "waiting for a check of every database";
  } else if (election.claimants.empty()) {
    election.no_writer_reason = NoClaimantReason(election);
  } else if (election.claimants.size() == 1) {
    election.writer = election.claimants.front();
  } else {
    election.writer = PickAmongClaimants(election, endpoints, current);
    if (election.writer < 0) {
      election.no_writer_reason =
          "several databases are writable and as many replicas follow each";
    }
  }
  AssignRoles(endpoints, alias_of, &election);
  return election;
}

Topology::Topology(std::vector<std::string> names, TopologyOptions options,
                   std::function<void()> recheck, Clock clock)
    : names_(std::move(names)),
      options_(options),
      recheck_(std::move(recheck)),
      clock_(std::move(clock)),
      roles_(new std::atomic<int>[names_.size()]),
      facts_(names_.size()),
      latest_(names_.size()) {
  for (size_t i = 0; i < names_.size(); ++i) {
    roles_[i].store(static_cast<int>(EndpointRole::kUnknown));
  }
  election_.roles.assign(names_.size(), EndpointRole::kUnknown);
  election_.no_writer_reason = "waiting for a check of every database";
  writerless_since_ = clock_();
}

void Topology::Record(size_t endpoint, const ProbeResult& result) {
  absl::MutexLock lock(&mu_);
  latest_[endpoint] = result;
  facts_[endpoint] = RoleFacts::Of(result);
  ElectLocked();
}

void Topology::WriterFailed(size_t endpoint, absl::string_view reason) {
  {
    absl::MutexLock lock(&mu_);
    if (election_.writer != static_cast<int>(endpoint)) return;
    log::Warning("the writer failed a call; checking every database now",
                 {{"endpoint", names_[endpoint]},
                  {"reason", std::string(reason)}});
    facts_[endpoint] = RoleFacts();
    ElectLocked();
  }
  if (recheck_) recheck_();
}

std::string Topology::gtid_position(size_t endpoint) const {
  absl::MutexLock lock(&mu_);
  return latest_[endpoint].gtid_position;
}

int64_t Topology::server_id(size_t endpoint) const {
  absl::MutexLock lock(&mu_);
  return latest_[endpoint].server_id;
}

void Topology::ElectLocked() {
  Election election = ElectWriter(facts_, election_.writer);
  LogChangesLocked(election);
  stats_.writable_servers = static_cast<int>(election.claimants.size());
  for (size_t i = 0; i < names_.size(); ++i) {
    roles_[i].store(static_cast<int>(election.roles[i]),
                    std::memory_order_release);
  }
  writer_.store(election.writer, std::memory_order_release);
  election_ = std::move(election);
}

void Topology::LogChangesLocked(const Election& next) {
  LogRoleChangesLocked(next);
  if (next.writer != election_.writer) LogWriterChangeLocked(next);
  LogSplitBrainLocked(next);
}

void Topology::LogRoleChangesLocked(const Election& next) {
  for (size_t i = 0; i < names_.size(); ++i) {
    const EndpointRole from = election_.roles[i];
    const EndpointRole to = next.roles[i];
    if (from == to) continue;
    ++stats_.role_changes;
    // A voided check (WriterFailed) and the check that follows it are
    // not news; the writer change is.
    if (from == EndpointRole::kUnknown || to == EndpointRole::kUnknown) {
      continue;
    }
    log::Info("database role changed",
              {{"endpoint", names_[i]},
               {"from", EndpointRoleName(from)},
               {"to", EndpointRoleName(to)},
               {"server_id", absl::StrCat(latest_[i].server_id)}});
  }
}

void Topology::LogWriterChangeLocked(const Election& next) {
  ++stats_.writer_changes;
  const std::string previous =
      election_.writer >= 0 ? names_[election_.writer] : "none";
  if (next.writer < 0) {
    writerless_since_ = clock_();
    log::Warning("no writer: writes wait for one, then fail",
                 {{"previous", previous}, {"reason", next.no_writer_reason}});
    return;
  }
  log::Info("writer elected",
            {{"endpoint", names_[next.writer]},
             {"previous", previous},
             {"writerless_for",
              election_.writer >= 0
                  ? "0s"
                  : absl::FormatDuration(clock_() - writerless_since_)}});
}

void Topology::LogSplitBrainLocked(const Election& next) {
  std::vector<std::string> claimants;
  for (int c : next.claimants) claimants.push_back(names_[c]);
  const std::string split =
      claimants.size() > 1 ? absl::StrJoin(claimants, ",") : "";
  if (split == logged_split_) return;
  if (!split.empty()) {
    log::Error(
        "split brain: more than one database is writable and replicates "
        "from nobody; only the elected writer gets writes and heartbeats",
        {{"endpoints", split},
         {"writer", next.writer >= 0 ? names_[next.writer] : "none"}});
  } else {
    log::Info("split brain over: one writable database left",
              {{"endpoints", logged_split_}});
  }
  logged_split_ = split;
}

absl::StatusOr<size_t> Topology::AwaitWriter(absl::Time deadline) {
  const int current = writer();
  if (current >= 0) return static_cast<size_t>(current);
  absl::MutexLock lock(&mu_);
  if (election_.writer >= 0) return static_cast<size_t>(election_.writer);
  if (stats_.held_now >= options_.max_held_calls) {
    ++stats_.holds_refused;
    return absl::UnavailableError(absl::StrCat(
        "no writer is elected and ", options_.max_held_calls,
        " calls already wait for one; retry with backoff"));
  }
  ++stats_.held_now;
  const absl::Time start = absl::Now();
  mu_.AwaitWithDeadline(absl::Condition(this, &Topology::HasWriterLocked),
                        std::min(deadline, start + options_.write_hold));
  --stats_.held_now;
  const absl::Duration waited = absl::Now() - start;
  stats_.hold_time_total += waited;
  if (election_.writer >= 0) {
    ++stats_.holds_ended_with_writer;
    return static_cast<size_t>(election_.writer);
  }
  ++stats_.holds_timed_out;
  return absl::UnavailableError(absl::StrCat(
      "no writable database (", election_.no_writer_reason, "); waited ",
      absl::FormatDuration(absl::Trunc(waited, absl::Milliseconds(1))),
      " for one: a switchover or failover may be under way, retry with "
      "backoff"));
}

bool Topology::HasWriterLocked() const { return election_.writer >= 0; }

TopologyStats Topology::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace userservice
