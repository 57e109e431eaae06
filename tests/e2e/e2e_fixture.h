#ifndef USERSERVICE_TESTS_E2E_E2E_FIXTURE_H_
#define USERSERVICE_TESTS_E2E_E2E_FIXTURE_H_

#include <atomic>
#include <csignal>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/impl/rpc_method.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "tests/support/test_cluster.h"
#include "userservice/admin/v1/admin_service.grpc.pb.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userservice::testing {

// A fresh client context with a deadline.
inline std::unique_ptr<grpc::ClientContext> ContextWithDeadline(
    absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

// The x-served-by initial metadata of a finished call ("" if none).
inline std::string ServedByOf(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find("x-served-by");
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// A valid username that no other call in this run uses (thread-safe).
inline std::string UniqueUsername(absl::string_view prefix) {
  static std::atomic<int> counter{0};
  return absl::StrCat(prefix, absl::ToUnixMicros(absl::Now()) % 100000000, "_",
                      ++counter);
}

// Polls `condition` every `poll` until it holds or `timeout` passed; true
// if it held.
inline bool WaitFor(absl::Duration timeout,
                    const std::function<bool()>& condition,
                    absl::Duration poll = absl::Milliseconds(50)) {
  const absl::Time give_up = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= give_up) return false;
    absl::SleepFor(poll);
  }
}

// The value of "id" in userctl's JSON output ("" if there is none).
inline std::string UserctlId(const std::string& json) {
  const size_t key = json.find("\"id\"");
  if (key == std::string::npos) return "";
  const size_t start = json.find_first_of("0123456789", key);
  if (start == std::string::npos) return "";
  const size_t end = json.find_first_not_of("0123456789", start);
  return json.substr(start, end - start);
}

inline std::string CodeName(grpc::StatusCode code) {
  // gRPC's codes are Abseil's, number for number.
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// grpc.health.v1.Health/Check for `service`, as the kubelet's native gRPC
// probes ask it.
inline absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
CheckHealth(grpc::Channel& channel, const std::string& service) {
  static const grpc::internal::RpcMethod kCheck(
      "/grpc.health.v1.Health/Check", grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  auto context = ContextWithDeadline(absl::Seconds(2));
  grpc::Status status =
      grpc::internal::BlockingUnaryCall<grpc::health::v1::HealthCheckRequest,
                                        grpc::health::v1::HealthCheckResponse,
                                        grpc::protobuf::MessageLite,
                                        grpc::protobuf::MessageLite>(
          &channel, kCheck, context.get(), request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("Health/Check: ", CodeName(status.error_code()), " ",
                     status.error_message()));
  }
  return response.status();
}

// A user_server started for one test with extra flags, and stubs for the
// user, admin and health services on its port.
class E2eServer {
 public:
  static absl::StatusOr<std::unique_ptr<E2eServer>> Start(
      const std::vector<std::string>& extra_flags) {
    std::vector<std::string> args = ClusterServerArgs();
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    absl::StatusOr<std::unique_ptr<ServerProcess>> process =
        ServerProcess::Start(args);
    if (!process.ok()) return process.status();
    auto server = std::unique_ptr<E2eServer>(new E2eServer());
    server->process_ = std::move(*process);
    server->channel_ = grpc::CreateChannel(server->process_->address(),
                                           grpc::InsecureChannelCredentials());
    server->users_ = v1::UserService::NewStub(server->channel_);
    server->admin_ = admin::v1::AdminService::NewStub(server->channel_);
    return server;
  }

  ServerProcess& process() { return *process_; }
  const std::shared_ptr<grpc::Channel>& channel() { return channel_; }
  v1::UserService::Stub& users() { return *users_; }

  absl::StatusOr<admin::v1::GetStatusResponse> Status() {
    admin::v1::GetStatusResponse response;
    auto context = ContextWithDeadline(absl::Seconds(2));
    grpc::Status status = admin_->GetStatus(
        context.get(), admin::v1::GetStatusRequest(), &response);
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat("GetStatus: ", CodeName(status.error_code()), " ",
                       status.error_message()));
    }
    return response;
  }

  // The status of endpoint `name` ("primary", "replica-N").
  absl::StatusOr<admin::v1::EndpointStatus> Endpoint(const std::string& name) {
    absl::StatusOr<admin::v1::GetStatusResponse> status = Status();
    if (!status.ok()) return status.status();
    for (const admin::v1::EndpointStatus& endpoint : status->endpoints()) {
      if (endpoint.name() == name) return endpoint;
    }
    return absl::NotFoundError(absl::StrCat("GetStatus has no endpoint ", name,
                                            ": ", status->ShortDebugString()));
  }

  // Whether GetStatus reports `name` in `state` (false if the call fails).
  bool EndpointIs(const std::string& name, admin::v1::EndpointState state) {
    absl::StatusOr<admin::v1::EndpointStatus> endpoint = Endpoint(name);
    return endpoint.ok() && endpoint->state() == state;
  }

  // grpc.health.v1.Health/Check for `service`.
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> Health(
      const std::string& service = "userservice.v1.UserService") {
    return CheckHealth(*channel_, service);
  }

 private:
  E2eServer() = default;

  std::unique_ptr<ServerProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::UserService::Stub> users_;
  std::unique_ptr<admin::v1::AdminService::Stub> admin_;
};

// One real user_server, started once per test suite against the test
// cluster and called through the generated stubs.
class ServerE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestCluster::Get();
    std::vector<std::string> args = ClusterServerArgs();
    args.push_back("--pool-acquire-timeout=1s");
    absl::StatusOr<std::unique_ptr<ServerProcess>> started =
        ServerProcess::Start(args);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = started->release();
    channel_ = new std::shared_ptr<grpc::Channel>(grpc::CreateChannel(
        server_->address(), grpc::InsecureChannelCredentials()));
  }

  static void TearDownTestSuite() {
    delete channel_;
    channel_ = nullptr;
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Log();
      delete server_;
      server_ = nullptr;
    }
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    stub_ = v1::UserService::NewStub(*channel_);
  }

  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- user_server log ----\n" << server_->Log();
    }
  }

  // A fresh client context with a deadline.
  static std::unique_ptr<grpc::ClientContext> Context(
      absl::Duration timeout = absl::Seconds(5)) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return context;
  }

  static std::string ServedBy(const grpc::ClientContext& context) {
    const auto& metadata = context.GetServerInitialMetadata();
    auto it = metadata.find("x-served-by");
    if (it == metadata.end()) return "";
    return std::string(it->second.data(), it->second.size());
  }

  static std::string UniqueName(absl::string_view prefix) {
    static int counter = 0;
    return absl::StrCat(prefix, absl::ToUnixMicros(absl::Now()) % 100000000,
                        "_", ++counter);
  }

  v1::CreateUserResponse CreateOrDie(const std::string& name) {
    v1::CreateUserRequest request;
    request.set_username(name);
    request.set_email(name + "@example.com");
    v1::CreateUserResponse response;
    auto context = Context();
    grpc::Status status = stub_->CreateUser(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Get(uint64_t id, v1::Consistency consistency,
                   const std::string& token, v1::GetUserResponse* response,
                   std::string* served_by) {
    v1::GetUserRequest request;
    request.set_id(id);
    request.mutable_read_options()->set_consistency(consistency);
    request.mutable_read_options()->set_consistency_token(token);
    auto context = Context();
    grpc::Status status = stub_->GetUser(context.get(), request, response);
    *served_by = ServedBy(*context);
    return status;
  }

  static inline ServerProcess* server_ = nullptr;
  static inline std::shared_ptr<grpc::Channel>* channel_ = nullptr;
  std::unique_ptr<v1::UserService::Stub> stub_;
};

}  // namespace userservice::testing

#endif  // USERSERVICE_TESTS_E2E_E2E_FIXTURE_H_
