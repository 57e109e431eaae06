#include "client/userctl/user_client.h"

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/userctl/exit_codes.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "userservice/v1/user_service.grpc.pb.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {

namespace v1 = ::userservice::v1;

UserClient::UserClient(v1::UserService::StubInterface* stub,
                       absl::Duration timeout, std::ostream* verbose_log,
                       std::string request_id)
    : stub_(stub),
      timeout_(timeout),
      verbose_log_(verbose_log),
      request_id_(std::move(request_id)) {}

template <typename Request, typename Response>
absl::StatusOr<Response> UserClient::Call(Method<Request, Response> method,
                                          CallKind kind,
                                          const Request& request) {
  grpc::ClientContext context;
  const absl::Time start = absl::Now();
  context.set_deadline(absl::ToChronoTime(start + timeout_));
  if (!request_id_.empty()) context.AddMetadata("x-request-id", request_id_);
  Response response;
  const grpc::Status status = (stub_->*method)(&context, request, &response);
  LogCall(context, kind, status.ok(), absl::Now() - start);
  if (!status.ok()) return FromRpcStatus(status);
  return response;
}

void UserClient::LogCall(const grpc::ClientContext& context, CallKind kind,
                         bool succeeded, absl::Duration elapsed) {
  if (verbose_log_ == nullptr) return;
  // A blocking unary call always asks for initial metadata, so it is there
  // (possibly empty) once the call returned, failed or not.
  const auto& metadata = context.GetServerInitialMetadata();
  // The server's id for this call: what to search its log for.
  const auto request_id = metadata.find("x-request-id");
  if (request_id != metadata.end()) {
    *verbose_log_ << "request-id: "
                  << std::string(request_id->second.data(),
                                 request_id->second.size())
                  << "\n";
  }
  if (kind == CallKind::kRead && succeeded) {
    const auto served_by = metadata.find("x-served-by");
    if (served_by != metadata.end()) {
      *verbose_log_ << "served-by: "
                    << std::string(served_by->second.data(),
                                   served_by->second.size())
                    << "\n";
    }
  }
  *verbose_log_ << "duration: "
                << absl::FormatDuration(
                       absl::Trunc(elapsed, absl::Microseconds(1)))
                << "\n";
}

absl::StatusOr<v1::CreateUserResponse> UserClient::CreateUser(
    const v1::CreateUserRequest& request) {
  return Call(&v1::UserService::StubInterface::CreateUser, CallKind::kWrite,
              request);
}

absl::StatusOr<v1::GetUserResponse> UserClient::GetUser(
    const v1::GetUserRequest& request) {
  return Call(&v1::UserService::StubInterface::GetUser, CallKind::kRead,
              request);
}

absl::StatusOr<v1::BatchGetUsersResponse> UserClient::BatchGetUsers(
    const v1::BatchGetUsersRequest& request) {
  return Call(&v1::UserService::StubInterface::BatchGetUsers, CallKind::kRead,
              request);
}

absl::StatusOr<v1::ListUsersResponse> UserClient::ListUsers(
    const v1::ListUsersRequest& request) {
  return Call(&v1::UserService::StubInterface::ListUsers, CallKind::kRead,
              request);
}

absl::StatusOr<v1::UpdateUserResponse> UserClient::UpdateUser(
    const v1::UpdateUserRequest& request) {
  return Call(&v1::UserService::StubInterface::UpdateUser, CallKind::kWrite,
              request);
}

absl::StatusOr<v1::DeleteUserResponse> UserClient::DeleteUser(
    const v1::DeleteUserRequest& request) {
  return Call(&v1::UserService::StubInterface::DeleteUser, CallKind::kWrite,
              request);
}

}  // namespace userctl
