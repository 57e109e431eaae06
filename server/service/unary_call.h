#ifndef USERSERVICE_SERVER_SERVICE_UNARY_CALL_H_
#define USERSERVICE_SERVER_SERVICE_UNARY_CALL_H_

#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace userservice {

// One unary call handed to code that answers it when it can, on whatever
// thread: it fills response() and calls Reply exactly once.
template <typename Request, typename Response>
class UnaryCall {
 public:
  virtual ~UnaryCall() = default;

  virtual grpc::ServerContextBase& context() = 0;
  virtual const Request& request() const = 0;
  virtual Response& response() = 0;
  // True once the client gave up; safe from any thread.
  virtual bool Cancelled() const = 0;
  // Sends `status`, and response() when it is OK. The call must not be
  // touched afterwards.
  virtual void Reply(const grpc::Status& status) = 0;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_UNARY_CALL_H_
