#ifndef USERSERVICE_SERVER_SERVICE_FAILURE_WARNINGS_H_
#define USERSERVICE_SERVER_SERVICE_FAILURE_WARNINGS_H_

// The status every UserService call is answered with, and the rate-limited
// "call failed" warning for the calls that failed on the server's side.

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace userservice {

namespace observability {
class LineLimiter;
}  // namespace observability

// Thread-safe: the surface, the dispatcher's threads and the worker pools
// all answer calls through one instance.
class FailureWarnings {
 public:
  // At most `per_second` warnings per second for each method and code; the
  // next one written counts those left out. 0: no limit.
  explicit FailureWarnings(int per_second);
  ~FailureWarnings();

  // The grpc::Status a call that ended in `status` is answered with
  // (ToGrpcStatus). Server-side failures (UNAVAILABLE, INTERNAL,
  // RESOURCE_EXHAUSTED, FAILED_PRECONDITION) also get a "call failed"
  // warning; a caller's mistake does not.
  grpc::Status ToReply(const grpc::ServerContextBase& context,
                       absl::string_view method,
                       const absl::Status& status) const;

 private:
  const std::unique_ptr<observability::LineLimiter> limiter_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_FAILURE_WARNINGS_H_
