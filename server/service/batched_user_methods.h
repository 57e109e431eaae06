#ifndef USERSERVICE_SERVER_SERVICE_BATCHED_USER_METHODS_H_
#define USERSERVICE_SERVER_SERVICE_BATCHED_USER_METHODS_H_

#include "grpcpp/server_builder.h"
#include "server/service/async_unary_server.h"
#include "server/service/user_service_impl.h"

namespace userservice {

// The completion queue and threads behind UserServiceImpl's async methods,
// GetUser and CreateUser.
//
// Order: construct, AddTo(builder) after registering the service,
// BuildAndStart, Start(); on the way out Server::Shutdown, then Shutdown()
// (or the destructor), before the service goes.
class BatchedUserMethods {
 public:
  // `service` must outlive this object.
  BatchedUserMethods(UserServiceImpl* service,
                     AsyncUnaryServerOptions options);

  void AddTo(grpc::ServerBuilder& builder) { server_.AddTo(builder); }
  void Start() { server_.Start(); }
  void Shutdown() { server_.Shutdown(); }

 private:
  AsyncUnaryServer server_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_BATCHED_USER_METHODS_H_
