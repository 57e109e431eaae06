#include "server/service/batched_user_methods.h"

namespace userservice {

BatchedUserMethods::BatchedUserMethods(UserServiceImpl* service,
                                       BatchedUserMethodsOptions options)
    : get_user_(
          [service](grpc::ServerContext* context, v1::GetUserRequest* request,
                    grpc::ServerAsyncResponseWriter<v1::GetUserResponse>*
                        responder,
                    grpc::ServerCompletionQueue* cq, void* tag) {
            service->RequestGetUser(context, request, responder, cq, cq, tag);
          },
          [service](absl::Span<GetUserCall* const> calls) {
            service->AnswerGetUsers(calls);
          },
          options.get_user),
      create_user_(
          [service](grpc::ServerContext* context,
                    v1::CreateUserRequest* request,
                    grpc::ServerAsyncResponseWriter<v1::CreateUserResponse>*
                        responder,
                    grpc::ServerCompletionQueue* cq, void* tag) {
            service->RequestCreateUser(context, request, responder, cq, cq,
                                       tag);
          },
          [service](absl::Span<CreateUserCall* const> calls) {
            service->AnswerCreateUsers(calls);
          },
          options.create_user) {}

void BatchedUserMethods::AddTo(grpc::ServerBuilder& builder) {
  get_user_.AddTo(builder);
  create_user_.AddTo(builder);
}

void BatchedUserMethods::Start() {
  get_user_.Start();
  create_user_.Start();
}

void BatchedUserMethods::Shutdown() {
  get_user_.Shutdown();
  create_user_.Shutdown();
}

}  // namespace userservice
