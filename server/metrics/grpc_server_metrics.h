#ifndef USERSERVICE_SERVER_METRICS_GRPC_SERVER_METRICS_H_
#define USERSERVICE_SERVER_METRICS_GRPC_SERVER_METRICS_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace userservice::metrics {

// The canonical upper-case name of a gRPC status code ("NOT_FOUND"), as
// go-grpc-prometheus writes it in grpc_code.
const char* GrpcCodeName(int code);

// Every method ("/package.Service/Method") of the named services, from the
// descriptors compiled into the binary. Services not linked in are skipped.
std::vector<std::string> MethodsOfServices(
    const std::vector<std::string>& services);

// Per-RPC metrics under go-grpc-prometheus's names, so its dashboards work:
// grpc_server_started_total, grpc_server_handled_total,
// grpc_server_handling_seconds and grpc_server_in_flight; and
// userservice_unparseable_requests_total, the calls whose request bytes
// did not parse (answered INVALID_ARGUMENT: a broken or hostile client).
//
// They are recorded by a server interceptor, which sees every call of sync
// and callback handlers alike. Only the methods given to the constructor
// are observed, and every series of theirs exists from the start (at 0), so
// rate() and absent-series alerts work before the first call; a call to an
// unknown method name is not recorded, which keeps the label set bounded
// whatever names clients send.
class GrpcServerMetrics {
 public:
  GrpcServerMetrics(prometheus::Registry& registry,
                    const std::vector<std::string>& methods);
  GrpcServerMetrics(const GrpcServerMetrics&) = delete;
  GrpcServerMetrics& operator=(const GrpcServerMetrics&) = delete;

  // For grpc::ServerBuilder::experimental().SetInterceptorCreators. This
  // object must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

  // Counts one request to `method` that did not parse (unknown methods are
  // not counted). From any thread.
  void CountUnparseable(const std::string& method) const;

  static constexpr int kCodeCount = 17;  // OK .. UNAUTHENTICATED

  struct Method {
    prometheus::Counter* started = nullptr;
    std::array<prometheus::Counter*, kCodeCount> handled{};
    prometheus::Histogram* handling = nullptr;
    prometheus::Gauge* in_flight = nullptr;
    prometheus::Counter* unparseable = nullptr;
  };

  // The series of `method`, or null if it is not observed.
  const Method* Find(const char* method) const;

 private:
  absl::flat_hash_map<std::string, Method> methods_;
};

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_GRPC_SERVER_METRICS_H_
