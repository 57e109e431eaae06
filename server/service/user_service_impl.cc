#include "server/service/user_service_impl.h"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/common/log.h"
#include "server/service/consistency_token.h"
#include "server/service/grpc_status.h"
#include "server/service/page_token.h"
#include "server/service/user_mapper.h"

namespace userservice {
namespace {

// Server-side failures are worth a log line; a caller's mistake is not.
grpc::Status Finish(absl::string_view method, const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kFailedPrecondition:
      log::Warning("call failed",
                   {{"method", std::string(method)},
                    {"code", absl::StatusCodeToString(status.code())},
                    {"error", std::string(status.message())}});
      break;
    default:
      break;
  }
  return ToGrpcStatus(status);
}

void AddServedBy(grpc::ServerContext* context, const std::string& endpoint) {
  if (!endpoint.empty()) {
    context->AddInitialMetadata(kServedByMetadataKey, endpoint);
  }
}

}  // namespace

UserServiceImpl::UserServiceImpl(UserWriter* writer, ReadRouter* router,
                                 ServiceOptions options)
    : writer_(writer), router_(router), options_(options) {}

RequestContext UserServiceImpl::MakeContext(
    grpc::ServerContext& context) const {
  RequestContext ctx;
  grpc::ServerContext* call = &context;
  ctx.cancelled = [call] { return call->IsCancelled(); };
  const absl::Time fallback = absl::Now() + options_.default_deadline;
  if (context.deadline() == std::chrono::system_clock::time_point::max()) {
    ctx.deadline = fallback;
  } else {
    ctx.deadline = std::min(absl::FromChrono(context.deadline()),
                            absl::Now() + options_.max_deadline);
  }
  return ctx;
}

grpc::Status UserServiceImpl::CreateUser(grpc::ServerContext* context,
                                         const v1::CreateUserRequest* request,
                                         v1::CreateUserResponse* response) {
  absl::StatusOr<NewUser> user = FromProto(*request);
  if (!user.ok()) return Finish("CreateUser", user.status());
  absl::StatusOr<Written<User>> created =
      writer_->CreateUser(*user, MakeContext(*context));
  if (!created.ok()) return Finish("CreateUser", created.status());
  ToProto(created->value, response->mutable_user());
  response->set_consistency_token(EncodeConsistencyToken(created->position));
  return grpc::Status::OK;
}

grpc::Status UserServiceImpl::GetUser(grpc::ServerContext* context,
                                      const v1::GetUserRequest* request,
                                      v1::GetUserResponse* response) {
  absl::StatusOr<UserKey> key = FromProto(*request);
  if (!key.ok()) return Finish("GetUser", key.status());
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(request->read_options(), options_.default_consistency);
  if (!policy.ok()) return Finish("GetUser", policy.status());

  const RequestContext ctx = MakeContext(*context);
  std::string served_by;
  absl::Status status = router_->Read(
      *policy, ctx,
      [&](UserReader& reader) {
        absl::StatusOr<User> user = reader.GetUser(*key, ctx);
        if (!user.ok()) return user.status();
        ToProto(*user, response->mutable_user());
        return absl::OkStatus();
      },
      &served_by);
  AddServedBy(context, served_by);
  return Finish("GetUser", status);
}

grpc::Status UserServiceImpl::ListUsers(grpc::ServerContext* context,
                                        const v1::ListUsersRequest* request,
                                        v1::ListUsersResponse* response) {
  absl::StatusOr<int> page_size = EffectivePageSize(request->page_size());
  if (!page_size.ok()) return Finish("ListUsers", page_size.status());
  uint64_t after_id = 0;
  if (!request->page_token().empty()) {
    absl::StatusOr<uint64_t> decoded =
        DecodePageToken("page_token", request->page_token());
    if (!decoded.ok()) return Finish("ListUsers", decoded.status());
    after_id = *decoded;
  }
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(request->read_options(), options_.default_consistency);
  if (!policy.ok()) return Finish("ListUsers", policy.status());

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
  return Finish("ListUsers", status);
}

grpc::Status UserServiceImpl::UpdateUser(grpc::ServerContext* context,
                                         const v1::UpdateUserRequest* request,
                                         v1::UpdateUserResponse* response) {
  absl::StatusOr<UserUpdate> update = FromProto(*request);
  if (!update.ok()) return Finish("UpdateUser", update.status());
  absl::StatusOr<Written<User>> updated =
      writer_->UpdateUser(*update, MakeContext(*context));
  if (!updated.ok()) return Finish("UpdateUser", updated.status());
  ToProto(updated->value, response->mutable_user());
  response->set_consistency_token(EncodeConsistencyToken(updated->position));
  return grpc::Status::OK;
}

grpc::Status UserServiceImpl::DeleteUser(grpc::ServerContext* context,
                                         const v1::DeleteUserRequest* request,
                                         v1::DeleteUserResponse* response) {
  if (request->id() == 0) {
    return Finish("DeleteUser",
                  absl::InvalidArgumentError("id: must be a non-zero user id"));
  }
  if (request->expected_version() < 0) {
    return Finish("DeleteUser",
                  absl::InvalidArgumentError(
                      "expected_version: must be 0 (unconditional) or a "
                      "version"));
  }
  absl::StatusOr<ReplicationPosition> position = writer_->DeleteUser(
      request->id(), request->expected_version(), MakeContext(*context));
  if (!position.ok()) return Finish("DeleteUser", position.status());
  response->set_consistency_token(EncodeConsistencyToken(*position));
  return grpc::Status::OK;
}

}  // namespace userservice
