#ifndef USERSERVICE_SERVER_SERVICE_UNPARSEABLE_REQUEST_H_
#define USERSERVICE_SERVER_SERVICE_UNPARSEABLE_REQUEST_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"

namespace userservice {

// A request whose bytes do not parse as its method's request message
// (malformed protobuf, or a string field that is not UTF-8) is the client's
// mistake. gRPC answers it with INTERNAL, which reads as a server fault and
// counts toward the error-ratio alert; this service answers INVALID_ARGUMENT
// instead, on every unary method, and reports each one (a metric) so
// operators can see a broken client without being paged for it.

// Told the full method name ("/package.Service/Method") of each.
using UnparseableRequestObserver = std::function<void(const std::string&)>;

// What the client gets.
grpc::Status UnparseableRequestStatus(absl::string_view method);

// For handlers that gRPC's generated code deserializes (sync and callback
// methods): the call whose request did not parse ends with
// UnparseableRequestStatus instead of INTERNAL, and `observer` is told. Add
// it before the interceptors that record the status.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeUnparseableRequestInterceptorFactory(UnparseableRequestObserver observer);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_UNPARSEABLE_REQUEST_H_
