#ifndef USERSERVICE_SERVER_SERVICE_BATCHED_USER_METHODS_H_
#define USERSERVICE_SERVER_SERVICE_BATCHED_USER_METHODS_H_

#include "grpcpp/server_builder.h"
#include "server/service/batched_method_server.h"
#include "server/service/user_service_impl.h"
#include "userservice/v1/user_service.pb.h"

namespace userservice {

struct BatchedUserMethodsOptions {
  BatchedMethodOptions get_user;
  BatchedMethodOptions create_user{/*threads=*/2, /*max_batch=*/64};
};

// The completion queues and threads behind UserServiceImpl's async methods
// (GetUser and CreateUser), each with its own so that reads never wait
// behind a commit.
//
// Order: construct, AddTo(builder) after registering the service,
// BuildAndStart, Start(); on the way out Server::Shutdown, then Shutdown()
// (or the destructor).
class BatchedUserMethods {
 public:
  // `service` must outlive this object.
  BatchedUserMethods(UserServiceImpl* service,
                     BatchedUserMethodsOptions options);

  void AddTo(grpc::ServerBuilder& builder);
  void Start();
  void Shutdown();

 private:
  BatchedMethodServer<v1::GetUserRequest, v1::GetUserResponse> get_user_;
  BatchedMethodServer<v1::CreateUserRequest, v1::CreateUserResponse>
      create_user_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_BATCHED_USER_METHODS_H_
