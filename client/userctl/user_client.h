#ifndef CLIENT_USERCTL_USER_CLIENT_H_
#define CLIENT_USERCTL_USER_CLIENT_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "userservice/v1/user_service.grpc.pb.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {

// Issues UserService RPCs, each with its own deadline of `timeout` from the
// moment it starts, and returns RPC failures as FromRpcStatus errors. With a
// `verbose_log`, writes after each call "request-id: ID" (the server's id
// for the call, from the x-request-id initial metadata), "served-by:
// ENDPOINT" (successful reads, from x-served-by) and "duration: D".
class UserClient {
 public:
  // `stub` and `verbose_log` (may be null) must outlive the client. A
  // non-empty `request_id` is sent as every call's x-request-id.
  UserClient(userservice::v1::UserService::StubInterface* stub,
             absl::Duration timeout, std::ostream* verbose_log,
             std::string request_id = "");

  absl::StatusOr<userservice::v1::CreateUserResponse> CreateUser(
      const userservice::v1::CreateUserRequest& request);
  absl::StatusOr<userservice::v1::GetUserResponse> GetUser(
      const userservice::v1::GetUserRequest& request);
  absl::StatusOr<userservice::v1::BatchGetUsersResponse> BatchGetUsers(
      const userservice::v1::BatchGetUsersRequest& request);
  absl::StatusOr<userservice::v1::ListUsersResponse> ListUsers(
      const userservice::v1::ListUsersRequest& request);
  absl::StatusOr<userservice::v1::UpdateUserResponse> UpdateUser(
      const userservice::v1::UpdateUserRequest& request);
  absl::StatusOr<userservice::v1::DeleteUserResponse> DeleteUser(
      const userservice::v1::DeleteUserRequest& request);

 private:
  enum class CallKind { kRead, kWrite };

  template <typename Request, typename Response>
  using Method = grpc::Status (userservice::v1::UserService::StubInterface::*)(
      grpc::ClientContext*, const Request&, Response*);

  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(Method<Request, Response> method, CallKind kind,
                                const Request& request);

  void LogCall(const grpc::ClientContext& context, CallKind kind,
               bool succeeded, absl::Duration elapsed);

  userservice::v1::UserService::StubInterface* stub_;
  absl::Duration timeout_;
  std::ostream* verbose_log_;
  std::string request_id_;
};

}  // namespace userctl

#endif  // CLIENT_USERCTL_USER_CLIENT_H_
