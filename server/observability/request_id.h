#ifndef USERSERVICE_SERVER_OBSERVABILITY_REQUEST_ID_H_
#define USERSERVICE_SERVER_OBSERVABILITY_REQUEST_ID_H_

#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"

// The request id ties every log line about one call together, and to the
// caller's own logs: taken from the `x-request-id` request metadata when it
// is a valid id, generated otherwise, and returned in the response's
// initial metadata (CallLogInterceptor does both).
namespace userservice::observability {

inline constexpr char kRequestIdMetadataKey[] = "x-request-id";
inline constexpr size_t kMaxRequestIdLength = 128;

// 1 to 128 characters of [A-Za-z0-9._:-]: enough for UUIDs, hex ids and
// W3C trace ids, and it keeps out what must never reach a log line (an
// email needs '@', JSON and control characters are out too).
bool IsValidRequestId(absl::string_view id);

// 32 lowercase hex digits: 128 random bits.
std::string NewRequestId();

// The request id of the call `context` belongs to, as CallLogInterceptor
// settled it (it stores the generated id in the call's client metadata), so
// it works for sync and callback handlers alike. Empty when the
// interceptor is not installed and the caller sent no valid id.
std::string RequestIdOf(const grpc::ServerContextBase& context);

}  // namespace userservice::observability

#endif  // USERSERVICE_SERVER_OBSERVABILITY_REQUEST_ID_H_
