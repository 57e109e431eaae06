#include "server/service/user_service_impl.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "absl/time/clock.h"
#include "server/common/batch_queue.h"
#include "server/common/log.h"
#include "server/observability/line_limiter.h"
#include "server/observability/request_id.h"
#include "server/service/consistency_token.h"
#include "server/service/grpc_status.h"
#include "server/service/page_token.h"
#include "server/service/user_mapper.h"

namespace userservice {

// Server-side failures are worth a log line; a caller's mistake is not.
// (Every call, failed or not, also gets an access line from the
// interceptor; both carry the call's request id.)
grpc::Status UserServiceImpl::Finish(const grpc::ServerContextBase& context,
                                     absl::string_view method,
                                     const absl::Status& status) const {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kFailedPrecondition: {
      const std::string code = absl::StatusCodeToString(status.code());
      // An outage fails every call the same way: a few lines per second,
      // each counting those left out, tell it as well as thousands.
      const std::optional<int64_t> left_out =
          failure_warnings_->Admit(absl::StrCat(method, " ", code));
      if (!left_out.has_value()) break;
      std::vector<log::Field> fields = {
          {"request_id", observability::RequestIdOf(context)},
          {"method", std::string(method)},
          {"code", code},
          {"error", std::string(status.message())}};
      observability::AddLeftOut(*left_out, fields);
      log::Warning("call failed", fields);
      break;
    }
    default:
      break;
  }
  return ToGrpcStatus(status);
}

namespace {

void ReplyCreated(CreateUserCall& call, const Written<User>& created) {
  ToProto(created.value, call.response().mutable_user());
  call.response().set_consistency_token(
      EncodeConsistencyToken(created.position));
  call.Reply(grpc::Status::OK);
}

void AddServedBy(grpc::ServerContextBase* context,
                 const std::string& endpoint) {
  if (!endpoint.empty()) {
    context->AddInitialMetadata(kServedByMetadataKey, endpoint);
  }
}

}  // namespace

struct UserServiceImpl::ParsedGetUser {
  GetUserCall* call;
  UserKey key;
  ReadPolicy policy;
  RequestContext ctx;
};

struct UserServiceImpl::ParsedCreateUser {
  CreateUserCall* call;
  NewUser user;
  RequestContext ctx;
};

namespace {

// The context of a call answered off its gRPC thread: cancellation as the
// completion queue reported it.
template <typename Call>
RequestContext CallContext(Call* call, absl::Time deadline) {
  RequestContext ctx;
  ctx.deadline = deadline;
  ctx.cancelled = [call] { return call->Cancelled(); };
  return ctx;
}

// One context for a statement that several calls share: it may run as long
// as the most patient caller waits (each call still ends at its own
// deadline), and is killed only when every caller in it has gone.
template <typename Parsed>
RequestContext SharedContext(absl::Span<Parsed* const> group) {
  RequestContext ctx;
  ctx.deadline = absl::InfinitePast();
  std::vector<std::function<bool()>> cancelled;
  cancelled.reserve(group.size());
  for (const Parsed* parsed : group) {
    ctx.deadline = std::max(ctx.deadline, parsed->ctx.deadline);
    if (parsed->ctx.cancelled) cancelled.push_back(parsed->ctx.cancelled);
  }
  if (cancelled.size() == group.size()) {
    ctx.cancelled = [cancelled = std::move(cancelled)] {
      for (const std::function<bool()>& gone : cancelled) {
        if (!gone()) return false;
      }
      return true;
    };
  }
  return ctx;
}

}  // namespace

UserServiceImpl::UserServiceImpl(UserWriter* writer, ReadRouter* router,
                                 ServiceOptions options)
    : writer_(writer),
      router_(router),
      options_(options),
      failure_warnings_(std::make_unique<observability::LineLimiter>(
          options_.failure_warnings_per_second)),
      lookups_(std::make_unique<BatchQueue<ParsedGetUser>>(
          options_.lookup_workers, 1,
          [this](std::vector<ParsedGetUser>& batch) {
            for (ParsedGetUser& read : batch) AnswerOne(read);
          })),
      creates_(std::make_unique<BatchQueue<ParsedCreateUser>>(
          options_.write_workers, options_.write_batch_max,
          [this](std::vector<ParsedCreateUser>& batch) {
            CreateBatch(batch);
          })) {}

UserServiceImpl::~UserServiceImpl() {
  creates_.reset();
  lookups_.reset();
}

absl::Time UserServiceImpl::DeadlineOf(
    const grpc::ServerContextBase& context) const {
  if (context.deadline() == std::chrono::system_clock::time_point::max()) {
    return absl::Now() + options_.default_deadline;
  }
  return std::min(absl::FromChrono(context.deadline()),
                  absl::Now() + options_.max_deadline);
}

RequestContext UserServiceImpl::MakeContext(
    grpc::ServerContextBase& context) const {
  RequestContext ctx;
  grpc::ServerContextBase* call = &context;
  ctx.cancelled = [call] { return call->IsCancelled(); };
  ctx.deadline = DeadlineOf(context);
  return ctx;
}

void UserServiceImpl::AnswerCreateUsers(
    absl::Span<CreateUserCall* const> calls) {
  for (CreateUserCall* call : calls) {
    absl::StatusOr<NewUser> user = FromProto(call->request());
    if (!user.ok()) {
      call->Reply(Finish(call->context(), "CreateUser", user.status()));
      continue;
    }
    creates_->Push(ParsedCreateUser{
        call, *std::move(user),
        CallContext(call, DeadlineOf(call->context()))});
  }
}

void UserServiceImpl::CreateBatch(std::vector<ParsedCreateUser>& batch) {
  std::vector<ParsedCreateUser*> shareable;
  shareable.reserve(batch.size());
  for (ParsedCreateUser& create : batch) {
    CreateUserCall& call = *create.call;
    // A caller that left while its call was queued gets no user created
    // behind its back.
    if (create.ctx.Cancelled()) {
      call.Reply(Finish(call.context(), "CreateUser",
                        absl::CancelledError(
                            "the call was cancelled by the client")));
    } else if (create.ctx.Expired()) {
      call.Reply(Finish(call.context(), "CreateUser",
                        absl::DeadlineExceededError(
                            "deadline exceeded before the user was "
                            "written; nothing was created")));
    } else if (!create.user.request_id.empty()) {
      // An idempotent create looks up and records its request_id in a
      // transaction of its own.
      CreateOne(create);
    } else {
      shareable.push_back(&create);
    }
  }
  CreateTogether(shareable);
}

void UserServiceImpl::CreateTogether(
    absl::Span<ParsedCreateUser* const> group) {
  if (group.empty()) return;
  if (group.size() == 1) {
    CreateOne(*group.front());
    return;
  }
  std::vector<NewUser> users;
  users.reserve(group.size());
  for (const ParsedCreateUser* create : group) users.push_back(create->user);
  if (options_.create_observer != nullptr) {
    options_.create_observer->OnInsert(static_cast<int>(group.size()));
  }
  absl::StatusOr<std::vector<Written<User>>> created =
      writer_->CreateUsers(users, SharedContext(group));
  if (absl::IsAlreadyExists(created.status())) {
    if (options_.create_observer != nullptr) {
      options_.create_observer->OnSharedInsertClash();
    }
    // Some of them clash, with existing users or with each other. Halving
    // finds the culprits in a few statements and lets the rest through
    // together; a lone culprit learns what it clashes with.
    const size_t half = group.size() / 2;
    CreateTogether(group.subspan(0, half));
    CreateTogether(group.subspan(half));
    return;
  }
  for (size_t i = 0; i < group.size(); ++i) {
    CreateUserCall& call = *group[i]->call;
    if (!created.ok()) {
      call.Reply(Finish(call.context(), "CreateUser", created.status()));
      continue;
    }
    ReplyCreated(call, (*created)[i]);
  }
}

void UserServiceImpl::CreateOne(ParsedCreateUser& create) {
  CreateUserCall& call = *create.call;
  if (options_.create_observer != nullptr) {
    options_.create_observer->OnInsert(1);
  }
  absl::StatusOr<Written<User>> created =
      writer_->CreateUser(create.user, create.ctx);
  if (!created.ok()) {
    call.Reply(Finish(call.context(), "CreateUser", created.status()));
    return;
  }
  ReplyCreated(call, *created);
}

void UserServiceImpl::AnswerGetUsers(absl::Span<GetUserCall* const> calls) {
  std::vector<ParsedGetUser> batchable;
  batchable.reserve(calls.size());
  for (GetUserCall* call : calls) {
    absl::StatusOr<UserKey> key = FromProto(call->request());
    if (!key.ok()) {
      call->Reply(Finish(call->context(), "GetUser", key.status()));
      continue;
    }
    absl::StatusOr<ReadPolicy> policy = ToReadPolicy(
        call->request().read_options(), options_.default_consistency);
    if (!policy.ok()) {
      call->Reply(Finish(call->context(), "GetUser", policy.status()));
      continue;
    }
    ParsedGetUser read{call, *std::move(key), *std::move(policy),
                       CallContext(call, DeadlineOf(call->context()))};
    // A session read with a position may wait for a replica to catch up;
    // a statement shared with others would make them all wait, and so
    // would this thread.
    const bool shareable =
        read.key.kind == UserKey::Kind::kId &&
        !(read.policy.consistency == ReadConsistency::kSession &&
          read.policy.min_position.has_value());
    if (shareable) {
      batchable.push_back(std::move(read));
    } else {
      lookups_->Push(std::move(read));
    }
  }
  // Reads share a statement only with reads that ask the same of the
  // endpoint: the router then decides for all of them as for one.
  std::vector<ParsedGetUser*> sorted;
  sorted.reserve(batchable.size());
  for (ParsedGetUser& read : batchable) sorted.push_back(&read);
  auto requirement = [](const ParsedGetUser* call) {
    return std::make_pair(static_cast<int>(call->policy.consistency),
                          call->policy.max_staleness);
  };
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const ParsedGetUser* a, const ParsedGetUser* b) {
                     return requirement(a) < requirement(b);
                   });
  size_t begin = 0;
  for (size_t i = 1; i <= sorted.size(); ++i) {
    if (i == sorted.size() ||
        requirement(sorted[i]) != requirement(sorted[begin])) {
      AnswerGroup(absl::MakeConstSpan(sorted).subspan(begin, i - begin));
      begin = i;
    }
  }
}

void UserServiceImpl::AnswerOne(ParsedGetUser& parsed) {
  GetUserCall& call = *parsed.call;
  const RequestContext& ctx = parsed.ctx;
  std::string served_by;
  absl::Status status = router_->Read(
      parsed.policy, ctx,
      [&](UserReader& reader) {
        absl::StatusOr<User> user = reader.GetUser(parsed.key, ctx);
        if (!user.ok()) return user.status();
        ToProto(*user, call.response().mutable_user());
        return absl::OkStatus();
      },
      &served_by);
  AddServedBy(&call.context(), served_by);
  call.Reply(Finish(call.context(), "GetUser", status));
}

void UserServiceImpl::AnswerGroup(absl::Span<ParsedGetUser* const> group) {
  if (group.size() == 1) {
    AnswerOne(*group.front());
    return;
  }
  std::vector<uint64_t> ids;
  ids.reserve(group.size());
  for (const ParsedGetUser* parsed : group) ids.push_back(parsed->key.id);
  const RequestContext ctx = SharedContext(group);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

  absl::flat_hash_map<uint64_t, User> found;
  std::string served_by;
  absl::Status status = router_->Read(
      group.front()->policy, ctx,
      [&](UserReader& reader) {
        absl::StatusOr<std::vector<User>> users =
            reader.GetUsersByIds(ids, ctx);
        if (!users.ok()) return users.status();
        found.clear();
        for (User& user : *users) found.emplace(user.id, std::move(user));
        return absl::OkStatus();
      },
      &served_by, static_cast<int>(group.size()));
  for (const ParsedGetUser* parsed : group) {
    GetUserCall& call = *parsed->call;
    AddServedBy(&call.context(), served_by);
    if (!status.ok()) {
      call.Reply(Finish(call.context(), "GetUser", status));
      continue;
    }
    auto user = found.find(parsed->key.id);
    if (user == found.end()) {
      call.Reply(Finish(call.context(), "GetUser",
                        absl::NotFoundError(absl::StrCat(
                            "user ", parsed->key.id, " not found"))));
      continue;
    }
    ToProto(user->second, call.response().mutable_user());
    call.Reply(grpc::Status::OK);
  }
}

grpc::Status UserServiceImpl::ListUsers(grpc::ServerContext* context,
                                        const v1::ListUsersRequest* request,
                                        v1::ListUsersResponse* response) {
  absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
  if (!page_size.ok()) return Finish(*context, "ListUsers", page_size.status());
  uint64_t after_id = 0;
  if (!request->page_token().empty()) {
    absl::StatusOr<uint64_t> decoded =
        DecodePageToken("page_token", request->page_token());
    if (!decoded.ok()) return Finish(*context, "ListUsers", decoded.status());
    after_id = *decoded;
  }
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(request->read_options(), options_.default_consistency);
  if (!policy.ok()) return Finish(*context, "ListUsers", policy.status());

  const RequestContext ctx = MakeContext(*context);
  std::string served_by;
  absl::Status status = router_->Read(
      *policy, ctx,
      [&](UserReader& reader) {
        // One extra row tells whether another page follows, so the last
        // page never hands out a token that leads to an empty page.
        absl::StatusOr<std::vector<User>> users =
            reader.ListUsers(after_id, *page_size + 1, ctx);
        if (!users.ok()) return users.status();
        response->Clear();
        const bool more = static_cast<int>(users->size()) > *page_size;
        if (more) users->pop_back();
        for (const User& user : *users) ToProto(user, response->add_users());
        if (more) {
          response->set_next_page_token(EncodePageToken(users->back().id));
        }
        return absl::OkStatus();
      },
      &served_by);
  AddServedBy(context, served_by);
  return Finish(*context, "ListUsers", status);
}

grpc::Status UserServiceImpl::UpdateUser(grpc::ServerContext* context,
                                         const v1::UpdateUserRequest* request,
                                         v1::UpdateUserResponse* response) {
  absl::StatusOr<UserUpdate> update = FromProto(*request);
  if (!update.ok()) return Finish(*context, "UpdateUser", update.status());
  absl::StatusOr<Written<User>> updated =
      writer_->UpdateUser(*update, MakeContext(*context));
  if (!updated.ok()) return Finish(*context, "UpdateUser", updated.status());
  ToProto(updated->value, response->mutable_user());
  response->set_consistency_token(EncodeConsistencyToken(updated->position));
  return grpc::Status::OK;
}

grpc::Status UserServiceImpl::DeleteUser(grpc::ServerContext* context,
                                         const v1::DeleteUserRequest* request,
                                         v1::DeleteUserResponse* response) {
  if (request->id() == 0) {
    return Finish(*context, "DeleteUser",
                  absl::InvalidArgumentError("id: must be a non-zero user id"));
  }
  if (request->expected_version() < 0) {
    return Finish(*context, "DeleteUser",
                  absl::InvalidArgumentError(
                      "expected_version: must be 0 (unconditional) or a "
                      "version"));
  }
  absl::StatusOr<ReplicationPosition> position = writer_->DeleteUser(
      request->id(), request->expected_version(), MakeContext(*context));
  if (!position.ok()) return Finish(*context, "DeleteUser", position.status());
  response->set_consistency_token(EncodeConsistencyToken(*position));
  return grpc::Status::OK;
}

}  // namespace userservice
