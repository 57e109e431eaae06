#ifndef USERSERVICE_SERVER_OBSERVABILITY_CALL_LOG_INTERCEPTOR_H_
#define USERSERVICE_SERVER_OBSERVABILITY_CALL_LOG_INTERCEPTOR_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/common/log.h"
#include "server/observability/line_limiter.h"

namespace userservice::observability {

struct CallLogOptions {
  // Write one access line per call (at `level`, so only when --log-level
  // lets it through).
  bool enabled = true;
  log::Level level = log::Level::kInfo;
  // Of the calls that end OK, log one in this many (1: all). Failed calls
  // are all logged, they are the ones someone will look for, up to this
  // many per second for each method and code (0: no limit); the next line
  // written says how many were left out ("similar_left_out").
  int sample_ok_every = 100;
  int failure_lines_per_second = 20;
  // Response initial metadata naming the database endpoint that served a
  // read; logged as "endpoint" when present.
  std::string endpoint_metadata_key = "x-served-by";
};

// --access-log-level: "off", "debug" or "info".
absl::StatusOr<CallLogOptions> ParseAccessLogLevel(absl::string_view text);

// For every call, on any service and with sync or callback handlers:
//  - settles its request id (RequestIdOf() in request_id.h) from the
//    x-request-id request metadata or a new one, and returns it in the
//    response's initial metadata;
//  - writes the access line when the call ends: method, peer, grpc_code,
//    duration_ms, endpoint, request_id. Never request or response
//    contents, and never the status message (it may quote a username).
// Health checks (kubelet probes every few seconds) are logged at debug.
class CallLogInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallLogInterceptorFactory(CallLogOptions options);

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  const CallLogOptions options_;
  std::atomic<uint64_t> ok_calls_{0};
  LineLimiter failures_;
};

}  // namespace userservice::observability

#endif  // USERSERVICE_SERVER_OBSERVABILITY_CALL_LOG_INTERCEPTOR_H_
