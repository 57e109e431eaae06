#include "server/service/read_batcher.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/service/call_context.h"
#include "server/service/consistency_token.h"
#include "server/service/served_by.h"
#include "server/service/user_mapper.h"

namespace userservice {
namespace {

using FoundUsers = absl::flat_hash_map<uint64_t, User>;

// Most missing ids a NOT_FOUND message lists.
constexpr size_t kMissingIdsListed = 10;

bool NeedsPosition(const ReadPolicy& policy) {
  return policy.consistency == ReadConsistency::kSession &&
         !policy.min_position.empty();
}

// Reads share a statement only with reads that ask the same of the
// endpoint: the router then decides for all of them as for one.
std::pair<int, absl::Duration> Requirement(const ParsedRead* read) {
  return std::make_pair(static_cast<int>(read->policy.consistency),
                        read->policy.max_staleness);
}

grpc::ServerContextBase& ContextOf(const ParsedRead& read) {
  return read.get_user != nullptr ? read.get_user->context()
                                  : read.batch_get_users->context();
}

const char* MethodOf(const ParsedRead& read) {
  return read.get_user != nullptr ? "GetUser" : "BatchGetUsers";
}

void Reply(ParsedRead& read, const grpc::Status& status) {
  if (read.get_user != nullptr) {
    read.get_user->Reply(status);
  } else {
    read.batch_get_users->Reply(status);
  }
}

// `missing`: each id once, in request order.
absl::Status NotFound(const ParsedRead& read,
                      const std::vector<uint64_t>& missing) {
  if (read.get_user != nullptr) {
    return absl::NotFoundError(absl::StrCat("user ", missing[0], " not found"));
  }
  const size_t requested =
      absl::flat_hash_set<uint64_t>(read.ids.begin(), read.ids.end()).size();
  std::string listed = absl::StrJoin(
      missing.begin(),
      missing.begin() + std::min(missing.size(), kMissingIdsListed), ", ");
  if (missing.size() > kMissingIdsListed) {
    absl::StrAppend(&listed, " and ", missing.size() - kMissingIdsListed,
                    " more");
  }
  return absl::NotFoundError(absl::StrCat(
      missing.size(), " of the ", requested,
      " requested users not found: ", listed, "; no user is returned"));
}

// Fills the response with the users of `read.ids`, or says which are
// missing.
std::string TokenFor(const ParsedRead& read,
                     const ReplicationPosition& served_at,
                     const std::string& served_token) {
  if (served_at.Covers(read.policy.min_position)) return served_token;
  return EncodeReadToken(read.policy.min_position, served_at);
}

// `served_token` is `served_at` encoded: the token of every read whose own
// tokens it already covers, encoded once per statement.
absl::Status Respond(ParsedRead& read, const FoundUsers& found,
                     const ReplicationPosition& served_at,
                     const std::string& served_token) {
  std::vector<uint64_t> missing;
  for (uint64_t id : read.ids) {
    if (!found.contains(id) &&
        std::find(missing.begin(), missing.end(), id) == missing.end()) {
      missing.push_back(id);
    }
  }
  if (!missing.empty()) return NotFound(read, missing);
  if (read.get_user != nullptr) {
    v1::GetUserResponse& response = read.get_user->response();
    ToProto(found.at(read.ids[0]), response.mutable_user());
    response.set_consistency_token(TokenFor(read, served_at, served_token));
    return absl::OkStatus();
  }
  v1::BatchGetUsersResponse& response = read.batch_get_users->response();
  response.mutable_users()->Reserve(static_cast<int>(read.ids.size()));
  for (uint64_t id : read.ids) ToProto(found.at(id), response.add_users());
  response.set_consistency_token(TokenFor(read, served_at, served_token));
  return absl::OkStatus();
}

}  // namespace

ParsedRead ParsedRead::GetUser(GetUserCall* call, UserKey key,
                               ReadPolicy policy, RequestContext ctx) {
  ParsedRead read;
  read.get_user = call;
  if (key.kind == UserKey::Kind::kId) read.ids.push_back(key.id);
  read.key = std::move(key);
  read.policy = std::move(policy);
  read.ctx = std::move(ctx);
  return read;
}

ParsedRead ParsedRead::BatchGetUsers(BatchGetUsersCall* call,
                                     absl::Span<const uint64_t> ids,
                                     ReadPolicy policy, RequestContext ctx) {
  ParsedRead read;
  read.batch_get_users = call;
  read.ids.assign(ids.begin(), ids.end());
  read.policy = std::move(policy);
  read.ctx = std::move(ctx);
  return read;
}

ReadBatcher::ReadBatcher(ReadRouter* router, const FailureWarnings* failures,
                         ReadBatcherOptions options)
    : router_(router),
      failures_(failures),
      lookup_workers_(options.lookup_workers, 1,
                      [this](std::vector<ParsedRead>& batch) {
                        for (ParsedRead& read : batch) ReadAlone(read);
                      }) {}

bool ReadBatcher::CanJoinBatch(const ParsedRead& read) const {
  if (read.key.kind != UserKey::Kind::kId) return false;
  // A session read that may wait for a replica would make the whole
  // statement, and the dispatcher's thread, wait.
  return !NeedsPosition(read.policy) ||
         router_->KnowsReplicaAt(read.policy.min_position);
}

void ReadBatcher::Answer(absl::Span<ParsedRead> reads) {
  std::vector<ParsedRead*> sorted;
  sorted.reserve(reads.size());
  for (ParsedRead& read : reads) {
    if (CanJoinBatch(read)) {
      read.policy.wait_for_replica = false;
      sorted.push_back(&read);
    } else {
      lookup_workers_.Push(std::move(read));
    }
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const ParsedRead* a, const ParsedRead* b) {
                     return Requirement(a) < Requirement(b);
                   });
  // Batches end where the requirement changes, and before a call's ids
  // would make the statement longer than one BatchGetUsers may be: each
  // call's users come from one statement, at one point in time.
  size_t begin = 0;
  size_t ids = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > begin && (Requirement(sorted[i]) != Requirement(sorted[begin]) ||
                      ids + sorted[i]->ids.size() > kMaxBatchGetIds)) {
      ReadByIds(absl::MakeConstSpan(sorted).subspan(begin, i - begin));
      begin = i;
      ids = 0;
    }
    ids += sorted[i]->ids.size();
  }
  if (begin < sorted.size()) {
    ReadByIds(absl::MakeConstSpan(sorted).subspan(begin));
  }
}

void ReadBatcher::ReadAlone(ParsedRead& read) {
  if (read.key.kind == UserKey::Kind::kId) {
    ParsedRead* alone = &read;
    ReadByIds(absl::MakeConstSpan(&alone, 1));
  } else {
    ReadByKey(read);
  }
}

void ReadBatcher::ReadByKey(ParsedRead& read) {
  GetUserCall& call = *read.get_user;
  std::string served_by;
  absl::Status status = router_->Read(
      read.policy, read.ctx,
      [&](UserReader& reader) {
        absl::StatusOr<Positioned<User>> user =
            reader.GetUser(read.key, read.ctx);
        if (!user.ok()) return user.status();
        ToProto(user->value, call.response().mutable_user());
        call.response().set_consistency_token(
            EncodeReadToken(read.policy.min_position, user->position));
        return absl::OkStatus();
      },
      &served_by);
  AddServedBy(&call.context(), served_by);
  call.Reply(failures_->ToReply(call.context(), "GetUser", status));
}

void ReadBatcher::ReadByIds(absl::Span<ParsedRead* const> batch) {
  std::vector<uint64_t> ids;
  ReadPolicy policy = batch.front()->policy;
  for (const ParsedRead* read : batch) {
    ids.insert(ids.end(), read->ids.begin(), read->ids.end());
    policy.min_position.Merge(read->policy.min_position);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  const RequestContext ctx =
      batch.size() == 1 ? batch.front()->ctx : SharedContext(batch);

  FoundUsers found;
  ReplicationPosition served_at;
  std::string served_by;
  absl::Status status = router_->Read(
      policy, ctx,
      [&](UserReader& reader) {
        absl::StatusOr<Positioned<std::vector<User>>> users =
            reader.GetUsersByIds(ids, ctx);
        if (!users.ok()) return users.status();
        found.clear();
        for (User& user : users->value) found.emplace(user.id, std::move(user));
        served_at = std::move(users->position);
        return absl::OkStatus();
      },
      &served_by, static_cast<int>(batch.size()));
  const std::string served_token =
      status.ok() ? EncodeConsistencyToken(served_at) : std::string();
  for (ParsedRead* read : batch) {
    AddServedBy(&ContextOf(*read), served_by);
    if (status.ok()) {
      absl::Status answer = Respond(*read, found, served_at, served_token);
      Reply(*read,
            failures_->ToReply(ContextOf(*read), MethodOf(*read), answer));
    } else {
      Reply(*read,
            failures_->ToReply(ContextOf(*read), MethodOf(*read), status));
    }
  }
}

}  // namespace userservice
