#include "client/bench/direct_dataset.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/bench/db_session.h"
#include "client/bench/names.h"

namespace userbench {
namespace {

// Setup statements (big inserts, replication waits) get more time than
// measured calls.
constexpr absl::Duration kSetupTimeout = absl::Seconds(60);

// Fills (*ids)[i] for every dataset row found; returns how many are
// missing.
absl::StatusOr<int64_t> FindRows(DbSession& primary, const std::string& prefix,
                                 std::vector<uint64_t>* ids) {
  absl::StatusOr<std::map<std::string, uint64_t>> found =
      primary.SelectIdsByPrefix(DatasetUsername(prefix, 0).substr(
          0, prefix.size() + 2));  // "<prefix>-d"
  if (!found.ok()) return found.status();
  for (const auto& [username, id] : *found) {
    std::optional<int64_t> index = DatasetIndex(prefix, username);
    if (index.has_value() && *index < static_cast<int64_t>(ids->size())) {
      (*ids)[*index] = id;
    }
  }
  int64_t missing = 0;
  for (uint64_t id : *ids) missing += id == 0 ? 1 : 0;
  return missing;
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> PrepareDirectDataset(
    const BenchConfig& config, const DbLogin& login, std::ostream& log) {
  absl::StatusOr<std::unique_ptr<DbSession>> primary =
      DbSession::Open(config.db.primary, login, kSetupTimeout);
  if (!primary.ok()) return primary.status();

  std::vector<uint64_t> ids(config.dataset, 0);
  absl::StatusOr<int64_t> missing = FindRows(**primary, config.prefix, &ids);
  if (!missing.ok()) return missing.status();
  const int64_t created = *missing;
  if (created > 0) {
    std::vector<std::string> usernames;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == 0) usernames.push_back(DatasetUsername(config.prefix, i));
    }
    if (absl::Status s = (*primary)->InsertUsers(usernames); !s.ok()) return s;
    missing = FindRows(**primary, config.prefix, &ids);
    if (!missing.ok()) return missing.status();
    if (*missing > 0) {
      return absl::InternalError(
          absl::StrCat(*missing,
                       " dataset rows are still missing after "
                       "inserting them"));
    }
  }
  log << "dataset: " << config.dataset << " rows with prefix \""
      << config.prefix << "\", " << created << " created now\n";

  // Rows made by this or an earlier run (maybe through the service a
  // moment ago) must be on every replica before reads are measured.
  absl::StatusOr<std::string> position = (*primary)->BinlogPosition();
  if (!position.ok()) return position.status();
  for (const HostPort& endpoint : config.db.replicas) {
    absl::StatusOr<std::unique_ptr<DbSession>> replica =
        DbSession::Open(endpoint, login, kSetupTimeout);
    if (!replica.ok()) return replica.status();
    absl::Status synced = (*replica)->AwaitPosition(*position, kSetupTimeout);
    if (!synced.ok()) return synced;
  }
  return ids;
}

}  // namespace userbench
