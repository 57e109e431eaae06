#include "server/metrics/grpc_server_metrics.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/testing/metric_test_util.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userservice::metrics {
namespace {

constexpr char kService[] = "userservice.v1.UserService";

// Sync handlers: GetUser answers NOT_FOUND for id 0 and OK otherwise;
// every other method is UNIMPLEMENTED (the generated default).
class SyncUsers final : public v1::UserService::Service {
  grpc::Status GetUser(grpc::ServerContext*, const v1::GetUserRequest* request,
                       v1::GetUserResponse*) override {
    if (request->id() == 0) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such user");
    }
    return grpc::Status::OK;
  }
};

// The same GetUser on the callback API.
class CallbackUsers final : public v1::UserService::CallbackService {
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const v1::GetUserRequest* request,
                                    v1::GetUserResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(request->id() == 0
                        ? grpc::Status(grpc::StatusCode::NOT_FOUND, "no")
                        : grpc::Status::OK);
    return reactor;
  }
};

std::map<std::string, std::string> MethodLabels(const std::string& method) {
  return {{"grpc_service", kService}, {"grpc_method", method}};
}

std::map<std::string, std::string> CodeLabels(const std::string& method,
                                              const std::string& code) {
  auto labels = MethodLabels(method);
  labels["grpc_code"] = code;
  return labels;
}

class GrpcServerMetricsTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    metrics_ = std::make_unique<GrpcServerMetrics>(
        *registry_, MethodsOfServices({kService}));
    grpc::ServerBuilder builder;
    if (GetParam()) {
      builder.RegisterService(&callback_);
    } else {
      builder.RegisterService(&sync_);
    }
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        creators;
    creators.push_back(metrics_->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    stub_ = v1::UserService::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void TearDown() override { server_->Shutdown(); }

  grpc::StatusCode GetUser(uint64_t id) {
    grpc::ClientContext context;
    v1::GetUserRequest request;
    request.set_id(id);
    v1::GetUserResponse response;
    return stub_->GetUser(&context, request, &response).error_code();
  }

  double Counter(const std::string& name,
                 const std::map<std::string, std::string>& labels) {
    return Value(*registry_, name, labels).value_or(-1);
  }

  std::shared_ptr<prometheus::Registry> registry_ =
      std::make_shared<prometheus::Registry>();
  std::unique_ptr<GrpcServerMetrics> metrics_;
  SyncUsers sync_;
  CallbackUsers callback_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::UserService::Stub> stub_;
};

TEST_P(GrpcServerMetricsTest, EveryMethodAndCodeStartsAtZero) {
  for (const char* method :
       {"CreateUser", "GetUser", "ListUsers", "UpdateUser", "DeleteUser"}) {
    EXPECT_EQ(Counter("grpc_server_started_total", MethodLabels(method)), 0)
        << method;
    EXPECT_EQ(Counter("grpc_server_in_flight", MethodLabels(method)), 0);
    for (const char* code : {"OK", "NOT_FOUND", "UNAVAILABLE",
                             "UNAUTHENTICATED", "INVALID_ARGUMENT"}) {
      EXPECT_EQ(Counter("grpc_server_handled_total", CodeLabels(method, code)),
                0)
          << method << " " << code;
    }
    EXPECT_EQ(HistogramCount(*registry_, "grpc_server_handling_seconds",
                             MethodLabels(method)),
              0u);
  }
}

TEST_P(GrpcServerMetricsTest, CountsCallsByMethodAndCode) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(GetUser(7), grpc::StatusCode::OK);
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(GetUser(0), grpc::StatusCode::NOT_FOUND);

  EXPECT_EQ(Counter("grpc_server_started_total", MethodLabels("GetUser")), 5);
  EXPECT_EQ(Counter("grpc_server_handled_total", CodeLabels("GetUser", "OK")),
            3);
  EXPECT_EQ(
      Counter("grpc_server_handled_total", CodeLabels("GetUser", "NOT_FOUND")),
      2);
  EXPECT_EQ(HistogramCount(*registry_, "grpc_server_handling_seconds",
                           MethodLabels("GetUser")),
            5u);
  EXPECT_EQ(Counter("grpc_server_in_flight", MethodLabels("GetUser")), 0);
  EXPECT_EQ(Counter("grpc_server_started_total", MethodLabels("CreateUser")),
            0);
}

TEST_P(GrpcServerMetricsTest, UnimplementedMethodsAreCountedToo) {
  grpc::ClientContext context;
  v1::DeleteUserResponse response;
  ASSERT_EQ(stub_->DeleteUser(&context, v1::DeleteUserRequest(), &response)
                .error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(Counter("grpc_server_handled_total",
                    CodeLabels("DeleteUser", "UNIMPLEMENTED")),
            1);
}

INSTANTIATE_TEST_SUITE_P(SyncAndCallback, GrpcServerMetricsTest,
                         ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Callback" : "Sync";
                         });

TEST(GrpcServerMetricsUnitTest, MethodsOfServicesListsEveryMethod) {
  EXPECT_EQ(
      MethodsOfServices({kService, "no.such.Service"}),
      (std::vector<std::string>{"/userservice.v1.UserService/CreateUser",
                                "/userservice.v1.UserService/GetUser",
                                "/userservice.v1.UserService/BatchGetUsers",
                                "/userservice.v1.UserService/ListUsers",
                                "/userservice.v1.UserService/UpdateUser",
                                "/userservice.v1.UserService/DeleteUser"}));
}

TEST(GrpcServerMetricsUnitTest, UnknownMethodsGetNoSeries) {
  prometheus::Registry registry;
  GrpcServerMetrics metrics(registry, {"/a.B/C"});
  EXPECT_NE(metrics.Find("/a.B/C"), nullptr);
  EXPECT_EQ(metrics.Find("/a.B/Other"), nullptr);
  EXPECT_EQ(metrics.Find(nullptr), nullptr);
}

TEST(GrpcServerMetricsUnitTest, CodeNamesAreCanonical) {
  EXPECT_STREQ(GrpcCodeName(0), "OK");
  EXPECT_STREQ(GrpcCodeName(5), "NOT_FOUND");
  EXPECT_STREQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_STREQ(GrpcCodeName(99), "UNKNOWN");
}

}  // namespace
}  // namespace userservice::metrics
