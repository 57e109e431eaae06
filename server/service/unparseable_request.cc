#include "server/service/unparseable_request.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace userservice {
namespace {

using grpc::experimental::InterceptionHookPoints;

class UnparseableRequestInterceptor : public grpc::experimental::Interceptor {
 public:
  UnparseableRequestInterceptor(const UnparseableRequestObserver* observer,
                                std::string method)
      : observer_(observer), method_(std::move(method)) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    // gRPC hands interceptors no message when the request's bytes did not
    // deserialize, and the handler never runs.
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparseable_ = true;
    }
    if (unparseable_ &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() == grpc::StatusCode::INTERNAL) {
      methods->ModifySendStatus(UnparseableRequestStatus(method_));
      if (*observer_) (*observer_)(method_);
    }
    methods->Proceed();
  }

 private:
  const UnparseableRequestObserver* const observer_;
  const std::string method_;
  bool unparseable_ = false;
};

class UnparseableRequestInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit UnparseableRequestInterceptorFactory(
      UnparseableRequestObserver observer)
      : observer_(std::move(observer)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // A stream's reads end without a message too; only a unary request
    // that did not parse is what this is about.
    if (info->type() != grpc::experimental::ServerRpcInfo::Type::UNARY) {
      return nullptr;
    }
    return new UnparseableRequestInterceptor(&observer_, info->method());
  }

 private:
  const UnparseableRequestObserver observer_;
};

}  // namespace

grpc::Status UnparseableRequestStatus(absl::string_view method) {
  return grpc::Status(
      grpc::StatusCode::INVALID_ARGUMENT,
      absl::StrCat("the request to ", method,
                   " is not a valid serialized message of its request type "
                   "(malformed protobuf, or a string field that is not "
                   "UTF-8)"));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeUnparseableRequestInterceptorFactory(UnparseableRequestObserver observer) {
  return std::make_unique<UnparseableRequestInterceptorFactory>(
      std::move(observer));
}

}  // namespace userservice
