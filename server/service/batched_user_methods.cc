#include "server/service/batched_user_methods.h"

#include "userservice/v1/user_service.pb.h"

namespace userservice {

BatchedUserMethods::BatchedUserMethods(UserServiceImpl* service,
                                       AsyncUnaryServerOptions options)
    : server_(options) {
  server_.AddMethod<v1::GetUserRequest, v1::GetUserResponse>(
      [service](grpc::ServerContext* context, v1::GetUserRequest* request,
                grpc::ServerAsyncResponseWriter<v1::GetUserResponse>* responder,
                grpc::ServerCompletionQueue* cq, void* tag) {
        service->RequestGetUser(context, request, responder, cq, cq, tag);
      },
      [service](absl::Span<GetUserCall* const> calls) {
        service->AnswerGetUsers(calls);
      });
  server_.AddMethod<v1::CreateUserRequest, v1::CreateUserResponse>(
      [service](grpc::ServerContext* context, v1::CreateUserRequest* request,
                grpc::ServerAsyncResponseWriter<v1::CreateUserResponse>*
                    responder,
                grpc::ServerCompletionQueue* cq, void* tag) {
        service->RequestCreateUser(context, request, responder, cq, cq, tag);
      },
      [service](absl::Span<CreateUserCall* const> calls) {
        service->AnswerCreateUsers(calls);
      });
}

}  // namespace userservice
