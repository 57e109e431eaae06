#include "server/service/user_service_impl.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "server/service/call_context.h"
#include "server/service/call_dispatcher.h"
#include "server/service/consistency_token.h"
#include "server/service/page_token.h"
#include "server/service/user_mapper.h"
#include "server/service/validation.h"

namespace userservice {

namespace {

// `users`, read with one row more than `page_size` to tell whether another
// page follows, as a page of `response`.
void FillPage(std::vector<User>& users, int page_size,
              v1::ListUsersResponse* response) {
  response->Clear();
  const bool more = static_cast<int>(users.size()) > page_size;
  if (more) users.pop_back();
  for (const User& user : users) ToProto(user, response->add_users());
  if (more) response->set_next_page_token(EncodePageToken(users.back().id));
}

}  // namespace

UserServiceImpl::UserServiceImpl(UserWriter* writer, ReadRouter* router,
                                 ServiceOptions options)
    : writer_(writer),
      router_(router),
      options_(options),
      failure_warnings_(options_.failure_warnings_per_second),
      read_batcher_(router, &failure_warnings_, options_.reads),
      create_batcher_(writer, &failure_warnings_, options_.creates) {}

void UserServiceImpl::AddAsyncMethodsTo(CompletionQueueDispatcher& dispatcher) {
  using Responder = grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>;
  auto name = [](absl::string_view method) {
    return absl::StrCat("/", v1::UserService::service_full_name(), "/", method);
  };
  dispatcher.AddMethod<v1::GetUserRequest, v1::GetUserResponse>(
      name("GetUser"),
      [this](grpc::ServerContext* context, grpc::ByteBuffer* payload,
             Responder* responder, grpc::ServerCompletionQueue* cq, void* tag) {
        RequestGetUser(context, payload, responder, cq, cq, tag);
      },
      [this](absl::Span<GetUserCall* const> calls) { AnswerGetUsers(calls); });
  dispatcher.AddMethod<v1::BatchGetUsersRequest, v1::BatchGetUsersResponse>(
      name("BatchGetUsers"),
      [this](grpc::ServerContext* context, grpc::ByteBuffer* payload,
             Responder* responder, grpc::ServerCompletionQueue* cq, void* tag) {
        RequestBatchGetUsers(context, payload, responder, cq, cq, tag);
      },
      [this](absl::Span<BatchGetUsersCall* const> calls) {
        AnswerBatchGetUsers(calls);
      });
  dispatcher.AddMethod<v1::CreateUserRequest, v1::CreateUserResponse>(
      name("CreateUser"),
      [this](grpc::ServerContext* context, grpc::ByteBuffer* payload,
             Responder* responder, grpc::ServerCompletionQueue* cq, void* tag) {
        RequestCreateUser(context, payload, responder, cq, cq, tag);
      },
      [this](absl::Span<CreateUserCall* const> calls) {
        AnswerCreateUsers(calls);
      });
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

void UserServiceImpl::AnswerGetUsers(absl::Span<GetUserCall* const> calls) {
  std::vector<ParsedRead> reads;
  reads.reserve(calls.size());
  for (GetUserCall* call : calls) {
    absl::StatusOr<UserKey> key = FromProto(call->request());
    if (!key.ok()) {
      call->Reply(
          failure_warnings_.ToReply(call->context(), "GetUser", key.status()));
      continue;
    }
    absl::StatusOr<ReadPolicy> policy = ToReadPolicy(
        call->request().read_options(), options_.default_consistency);
    if (!policy.ok()) {
      call->Reply(failure_warnings_.ToReply(call->context(), "GetUser",
                                            policy.status()));
      continue;
    }
    reads.push_back(
        ParsedRead::GetUser(call, *std::move(key), *std::move(policy),
                            CallContext(call, DeadlineOf(call->context()))));
  }
  read_batcher_.Answer(absl::MakeSpan(reads));
}

void UserServiceImpl::AnswerBatchGetUsers(
    absl::Span<BatchGetUsersCall* const> calls) {
  std::vector<ParsedRead> reads;
  reads.reserve(calls.size());
  for (BatchGetUsersCall* call : calls) {
    auto reply = [&](const absl::Status& status) {
      call->Reply(
          failure_warnings_.ToReply(call->context(), "BatchGetUsers", status));
    };
    absl::StatusOr<std::vector<uint64_t>> ids = FromProto(call->request());
    if (!ids.ok()) {
      reply(ids.status());
      continue;
    }
    absl::StatusOr<ReadPolicy> policy = ToReadPolicy(
        call->request().read_options(), options_.default_consistency);
    if (!policy.ok()) {
      reply(policy.status());
      continue;
    }
    if (ids->empty()) {
      // Nothing to read; the tokens still travel on.
      if (!policy->min_position.empty()) {
        call->response().set_consistency_token(
            EncodeConsistencyToken(policy->min_position));
      }
      reply(absl::OkStatus());
      continue;
    }
    reads.push_back(ParsedRead::BatchGetUsers(
        call, *ids, *std::move(policy),
        CallContext(call, DeadlineOf(call->context()))));
  }
  read_batcher_.Answer(absl::MakeSpan(reads));
}

void UserServiceImpl::AnswerCreateUsers(
    absl::Span<CreateUserCall* const> calls) {
  for (CreateUserCall* call : calls) {
    absl::StatusOr<NewUser> user = FromProto(call->request());
    if (!user.ok()) {
      call->Reply(failure_warnings_.ToReply(call->context(), "CreateUser",
                                            user.status()));
      continue;
    }
    create_batcher_.Add(
        ParsedCreateUser{call, *std::move(user),
                         CallContext(call, DeadlineOf(call->context()))});
  }
}

grpc::Status UserServiceImpl::ListUsers(grpc::ServerContext* context,
                                        const v1::ListUsersRequest* request,
                                        v1::ListUsersResponse* response) {
  auto reply = [&](const absl::Status& status) {
    return failure_warnings_.ToReply(*context, "ListUsers", status);
  };
  absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
  if (!page_size.ok()) return reply(page_size.status());
  uint64_t after_id = 0;
  if (!request->page_token().empty()) {
    absl::StatusOr<uint64_t> decoded =
        DecodePageToken("page_token", request->page_token());
    if (!decoded.ok()) return reply(decoded.status());
    after_id = *decoded;
  }
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(request->read_options(), options_.default_consistency);
  if (!policy.ok()) return reply(policy.status());

  const RequestContext ctx = MakeContext(*context);
  std::string served_by;
  absl::Status status = router_->Read(
      *policy, ctx,
      [&](UserReader& reader) {
        // One extra row tells whether another page follows, so the last
        // page never hands out a token that leads to an empty page.
        absl::StatusOr<Positioned<std::vector<User>>> page =
            reader.ListUsers(after_id, *page_size + 1, ctx);
        if (!page.ok()) return page.status();
        FillPage(page->value, *page_size, response);
        response->set_consistency_token(
            EncodeReadToken(policy->min_position, page->position));
        return absl::OkStatus();
      },
      &served_by);
  AddServedBy(context, served_by);
  return reply(status);
}

grpc::Status UserServiceImpl::UpdateUser(grpc::ServerContext* context,
                                         const v1::UpdateUserRequest* request,
                                         v1::UpdateUserResponse* response) {
  auto reply = [&](const absl::Status& status) {
    return failure_warnings_.ToReply(*context, "UpdateUser", status);
  };
  absl::StatusOr<UserUpdate> update = FromProto(*request);
  if (!update.ok()) return reply(update.status());
  absl::StatusOr<Positioned<User>> updated =
      writer_->UpdateUser(*update, MakeContext(*context));
  if (!updated.ok()) return reply(updated.status());
  ToProto(updated->value, response->mutable_user());
  response->set_consistency_token(EncodeConsistencyToken(updated->position));
  return grpc::Status::OK;
}

grpc::Status UserServiceImpl::DeleteUser(grpc::ServerContext* context,
                                         const v1::DeleteUserRequest* request,
                                         v1::DeleteUserResponse* response) {
  auto reply = [&](const absl::Status& status) {
    return failure_warnings_.ToReply(*context, "DeleteUser", status);
  };
  if (absl::Status s = ValidateUserId("id", request->id()); !s.ok()) {
    return reply(s);
  }
  if (absl::Status s = ValidateExpectedVersion("expected_version",
                                               request->expected_version());
      !s.ok()) {
    return reply(s);
  }
  absl::StatusOr<ReplicationPosition> position = writer_->DeleteUser(
      request->id(), request->expected_version(), MakeContext(*context));
  if (!position.ok()) return reply(position.status());
  response->set_consistency_token(EncodeConsistencyToken(*position));
  return grpc::Status::OK;
}

}  // namespace userservice
