#include "server/metrics/grpc_server_metrics.h"

#include <chrono>
#include <map>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/support/interceptor.h"
#include "server/metrics/buckets.h"

namespace userservice::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr const char* kCodeNames[GrpcServerMetrics::kCodeCount] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

// Observes one call from its start to the status its handler sends.
class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(const GrpcServerMetrics::Method* method)
      : method_(method), start_(std::chrono::steady_clock::now()) {
    method_->started->Increment();
    method_->in_flight->Increment();
  }

  // A call torn down without sending a status (the server shut down under
  // it) counts as cancelled, so in_flight returns to zero.
  ~MetricsInterceptor() override {
    if (!finished_) Finish(static_cast<int>(grpc::StatusCode::CANCELLED));
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    // Recorded before the status is sent, so a client that has its answer
    // already sees it counted.
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS) &&
        !finished_) {
      Finish(static_cast<int>(methods->GetSendStatus().error_code()));
    }
    methods->Proceed();
  }

 private:
  void Finish(int code) {
    finished_ = true;
    const std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start_;
    if (code < 0 || code >= GrpcServerMetrics::kCodeCount) {
      code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    }
    method_->handled[code]->Increment();
    method_->handling->Observe(elapsed.count());
    method_->in_flight->Decrement();
  }

  const GrpcServerMetrics::Method* const method_;
  const std::chrono::steady_clock::time_point start_;
  bool finished_ = false;
};

class MetricsInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(const GrpcServerMetrics* metrics)
      : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const GrpcServerMetrics::Method* method = metrics_->Find(info->method());
    if (method == nullptr) return nullptr;
    return new MetricsInterceptor(method);
  }

 private:
  const GrpcServerMetrics* const metrics_;
};

}  // namespace

const char* GrpcCodeName(int code) {
  if (code < 0 || code >= GrpcServerMetrics::kCodeCount) return "UNKNOWN";
  return kCodeNames[code];
}

std::vector<std::string> MethodsOfServices(
    const std::vector<std::string>& services) {
  std::vector<std::string> methods;
  const google::protobuf::DescriptorPool* pool =
      google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        pool->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      methods.push_back("/" + service->full_name() + "/" +
                        service->method(i)->name());
    }
  }
  return methods;
}

GrpcServerMetrics::GrpcServerMetrics(prometheus::Registry& registry,
                                     const std::vector<std::string>& methods) {
  auto& started = prometheus::BuildCounter()
                      .Name("grpc_server_started_total")
                      .Help("RPCs started on the server.")
                      .Register(registry);
  auto& handled = prometheus::BuildCounter()
                      .Name("grpc_server_handled_total")
                      .Help("RPCs completed on the server, by status code.")
                      .Register(registry);
  auto& handling =
      prometheus::BuildHistogram()
          .Name("grpc_server_handling_seconds")
          .Help("Time from the start of an RPC to its status being sent.")
          .Register(registry);
  auto& in_flight = prometheus::BuildGauge()
                        .Name("grpc_server_in_flight")
                        .Help("RPCs started and not yet completed.")
                        .Register(registry);
  auto& unparseable =
      prometheus::BuildCounter()
          .Name("userservice_unparseable_requests_total")
          .Help(
              "Requests whose bytes did not parse as the method's request "
              "message, answered INVALID_ARGUMENT.")
          .Register(registry);
  for (const std::string& full : methods) {
    // "/package.Service/Method"
    const absl::string_view path = absl::StripPrefix(full, "/");
    const size_t slash = path.rfind('/');
    if (slash == absl::string_view::npos) continue;
    const std::map<std::string, std::string> labels = {
        {"grpc_service", std::string(path.substr(0, slash))},
        {"grpc_method", std::string(path.substr(slash + 1))}};
    Method method;
    method.started = &started.Add(labels);
    for (int code = 0; code < kCodeCount; ++code) {
      std::map<std::string, std::string> with_code = labels;
      with_code["grpc_code"] = kCodeNames[code];
      method.handled[code] = &handled.Add(with_code);
    }
    method.handling = &handling.Add(labels, LatencyBuckets());
    method.in_flight = &in_flight.Add(labels);
    method.unparseable = &unparseable.Add(labels);
    methods_[full] = method;
  }
}

const GrpcServerMetrics::Method* GrpcServerMetrics::Find(
    const char* method) const {
  if (method == nullptr) return nullptr;
  auto it = methods_.find(absl::string_view(method));
  return it == methods_.end() ? nullptr : &it->second;
}

void GrpcServerMetrics::CountUnparseable(const std::string& method) const {
  if (const Method* found = Find(method.c_str()); found != nullptr) {
    found->unparseable->Increment();
  }
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcServerMetrics::InterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(this);
}

}  // namespace userservice::metrics
