#include "server/service/read_batcher.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "server/service/call_context.h"
#include "server/service/served_by.h"
#include "server/service/user_mapper.h"

namespace userservice {
namespace {

// A session read with a position may wait for a replica to catch up; a
// statement shared with others would make them all wait, and so would the
// dispatcher's thread.
bool CanJoinBatch(const ParsedGetUser& read) {
  return read.key.kind == UserKey::Kind::kId &&
         !(read.policy.consistency == ReadConsistency::kSession &&
           read.policy.min_position.has_value());
}

// Reads share a statement only with reads that ask the same of the
// endpoint: the router then decides for all of them as for one.
std::pair<int, absl::Duration> Requirement(const ParsedGetUser* read) {
  return std::make_pair(static_cast<int>(read->policy.consistency),
                        read->policy.max_staleness);
}

}  // namespace

ReadBatcher::ReadBatcher(ReadRouter* router, const FailureWarnings* failures,
                         ReadBatcherOptions options)
    : router_(router),
      failures_(failures),
      lookup_workers_(options.lookup_workers, 1,
                      [this](std::vector<ParsedGetUser>& batch) {
                        for (ParsedGetUser& read : batch) ReadAlone(read);
                      }) {}

void ReadBatcher::Answer(absl::Span<ParsedGetUser> reads) {
  std::vector<ParsedGetUser*> sorted;
  sorted.reserve(reads.size());
  for (ParsedGetUser& read : reads) {
    if (CanJoinBatch(read)) {
      sorted.push_back(&read);
    } else {
      lookup_workers_.Push(std::move(read));
    }
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const ParsedGetUser* a, const ParsedGetUser* b) {
                     return Requirement(a) < Requirement(b);
                   });
  size_t begin = 0;
  for (size_t i = 1; i <= sorted.size(); ++i) {
    if (i == sorted.size() ||
        Requirement(sorted[i]) != Requirement(sorted[begin])) {
      ReadBatch(absl::MakeConstSpan(sorted).subspan(begin, i - begin));
      begin = i;
    }
  }
}

void ReadBatcher::ReadAlone(ParsedGetUser& read) {
  GetUserCall& call = *read.call;
  const RequestContext& ctx = read.ctx;
  std::string served_by;
  absl::Status status = router_->Read(
      read.policy, ctx,
      [&](UserReader& reader) {
        absl::StatusOr<User> user = reader.GetUser(read.key, ctx);
        if (!user.ok()) return user.status();
        ToProto(*user, call.response().mutable_user());
        return absl::OkStatus();
      },
      &served_by);
  AddServedBy(&call.context(), served_by);
  call.Reply(failures_->ToReply(call.context(), "GetUser", status));
}

void ReadBatcher::ReadBatch(absl::Span<ParsedGetUser* const> batch) {
  if (batch.size() == 1) {
    ReadAlone(*batch.front());
    return;
  }
  std::vector<uint64_t> ids;
  ids.reserve(batch.size());
  for (const ParsedGetUser* read : batch) ids.push_back(read->key.id);
  const RequestContext ctx = SharedContext(batch);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

  absl::flat_hash_map<uint64_t, User> found;
  std::string served_by;
  absl::Status status = router_->Read(
      batch.front()->policy, ctx,
      [&](UserReader& reader) {
        absl::StatusOr<std::vector<User>> users =
            reader.GetUsersByIds(ids, ctx);
        if (!users.ok()) return users.status();
        found.clear();
        for (User& user : *users) found.emplace(user.id, std::move(user));
        return absl::OkStatus();
      },
      &served_by, static_cast<int>(batch.size()));
  for (const ParsedGetUser* read : batch) {
    GetUserCall& call = *read->call;
    AddServedBy(&call.context(), served_by);
    if (!status.ok()) {
      call.Reply(failures_->ToReply(call.context(), "GetUser", status));
      continue;
    }
    auto user = found.find(read->key.id);
    if (user == found.end()) {
      call.Reply(failures_->ToReply(call.context(), "GetUser",
                                    absl::NotFoundError(absl::StrCat(
                                        "user ", read->key.id, " not found"))));
      continue;
    }
    ToProto(user->second, call.response().mutable_user());
    call.Reply(grpc::Status::OK);
  }
}

}  // namespace userservice
