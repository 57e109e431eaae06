#ifndef USERSERVICE_SERVER_SERVICE_UNARY_CALL_H_
#define USERSERVICE_SERVER_SERVICE_UNARY_CALL_H_

#include <functional>

#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace userservice {

// One unary call handed to code that answers several at once: it sets
// `status`, and `response` when the status is OK.
template <typename Request, typename Response>
struct UnaryCall {
  grpc::ServerContextBase* context;
  const Request* request;
  Response* response;
  // True once the client gave up; called from other threads.
  std::function<bool()> cancelled;
  grpc::Status status;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_UNARY_CALL_H_
