#ifndef USERSERVICE_TESTS_E2E_E2E_FIXTURE_H_
#define USERSERVICE_TESTS_E2E_E2E_FIXTURE_H_

#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "tests/support/test_cluster.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userservice::testing {

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
