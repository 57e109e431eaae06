#include "server/observability/call_log_interceptor.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/testing/log_capture.h"
#include "server/observability/request_id.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userservice::observability {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

// CreateUser and ListUsers are sync handlers, GetUser a callback one, as in
// a service halfway through moving to the callback API. Each answers with
// the request id its handler sees (in user.username).
class TestService final : public v1::UserService::WithCallbackMethod_GetUser<
                              v1::UserService::Service> {
 public:
  grpc::Status CreateUser(grpc::ServerContext* context,
                          const v1::CreateUserRequest* request,
                          v1::CreateUserResponse* response) override {
    response->mutable_user()->set_username(RequestIdOf(*context));
    return grpc::Status::OK;
  }

  grpc::Status ListUsers(grpc::ServerContext* context,
                         const v1::ListUsersRequest*,
                         v1::ListUsersResponse*) override {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "no user with username \"secret_name\"");
  }

  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const v1::GetUserRequest* request,
                                    v1::GetUserResponse* response) override {
    context->AddInitialMetadata("x-served-by", "replica-7");
    response->mutable_user()->set_username(RequestIdOf(*context));
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

google::protobuf::Struct Parse(const std::string& line) {
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok())
      << line;
  return parsed;
}

std::string Field(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? "<absent>" : it->second.string_value();
}

std::string ResponseRequestId(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find(kRequestIdMetadataKey);
  return it == metadata.end()
             ? ""
             : std::string(it->second.data(), it->second.size());
}

class CallLogInterceptorTest : public ::testing::Test {
 protected:
  // The defaults, but with every successful call logged, not one in 100.
  static CallLogOptions EveryCall() {
    CallLogOptions options;
    options.sample_ok_every = 1;
    return options;
  }

  void StartServer(CallLogOptions options) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        creators;
    creators.push_back(
        std::make_unique<CallLogInterceptorFactory>(std::move(options)));
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::UserService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& id = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    if (!id.empty()) context->AddMetadata("x-request-id", id);
    return context;
  }

  // Access lines are written before the status goes out, but the test
  // reads them after the client has the status: give the write a moment.
  std::vector<std::string> AccessLines(size_t expected) {
    std::vector<std::string> lines;
    for (int i = 0; i < 100; ++i) {
      lines = capture_.Lines();
      if (lines.size() >= expected) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return lines;
  }

  log::LogCapture capture_;
  TestService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::UserService::Stub> stub_;
};

TEST_F(CallLogInterceptorTest, SyncHandlerKeepsTheCallersIdAndLogsTheCall) {
  StartServer(EveryCall());
  auto context = Context("client-id-1");
  v1::CreateUserResponse response;
  ASSERT_TRUE(
      stub_->CreateUser(context.get(), v1::CreateUserRequest(), &response)
          .ok());
  EXPECT_EQ(response.user().username(), "client-id-1");
  EXPECT_EQ(ResponseRequestId(*context), "client-id-1");

  const std::vector<std::string> lines = AccessLines(1);
  ASSERT_THAT(lines, SizeIs(1));
  const google::protobuf::Struct line = Parse(lines[0]);
  EXPECT_EQ(Field(line, "level"), "info");
  EXPECT_EQ(Field(line, "message"), "rpc");
  EXPECT_EQ(Field(line, "request_id"), "client-id-1");
  EXPECT_EQ(Field(line, "method"), "/userservice.v1.UserService/CreateUser");
  EXPECT_EQ(Field(line, "grpc_code"), "OK");
  EXPECT_THAT(Field(line, "peer"), HasSubstr("127.0.0.1"));
  EXPECT_EQ(Field(line, "endpoint"), "<absent>");
  ASSERT_TRUE(line.fields().contains("duration_ms"));
  EXPECT_GE(line.fields().at("duration_ms").number_value(), 0);
  EXPECT_LT(line.fields().at("duration_ms").number_value(), 5000);
}

TEST_F(CallLogInterceptorTest, CallbackHandlerGetsAGeneratedIdAndEndpoint) {
  StartServer(EveryCall());
  auto context = Context();
  v1::GetUserResponse response;
  ASSERT_TRUE(
      stub_->GetUser(context.get(), v1::GetUserRequest(), &response).ok());
  const std::string id = ResponseRequestId(*context);
  EXPECT_TRUE(IsValidRequestId(id)) << id;
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(response.user().username(), id);

  const std::vector<std::string> lines = AccessLines(1);
  ASSERT_THAT(lines, SizeIs(1));
  const google::protobuf::Struct line = Parse(lines[0]);
  EXPECT_EQ(Field(line, "request_id"), id);
  EXPECT_EQ(Field(line, "method"), "/userservice.v1.UserService/GetUser");
  EXPECT_EQ(Field(line, "endpoint"), "replica-7");
}

TEST_F(CallLogInterceptorTest, AnInvalidIdIsReplacedAndNeverLogged) {
  StartServer(EveryCall());
  auto context = Context("alice@example.com");
  v1::CreateUserResponse response;
  ASSERT_TRUE(
      stub_->CreateUser(context.get(), v1::CreateUserRequest(), &response)
          .ok());
  const std::string id = ResponseRequestId(*context);
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(response.user().username(), id);
  const std::vector<std::string> lines = AccessLines(1);
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_EQ(Field(Parse(lines[0]), "request_id"), id);
  EXPECT_THAT(capture_.Text(), Not(HasSubstr("alice")));
}

TEST_F(CallLogInterceptorTest, FailedCallsCarryTheIdButNotTheMessage) {
  StartServer(EveryCall());
  auto context = Context("failing-call");
  v1::ListUsersResponse response;
  const grpc::Status status =
      stub_->ListUsers(context.get(), v1::ListUsersRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ResponseRequestId(*context), "failing-call");
  const std::vector<std::string> lines = AccessLines(1);
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_EQ(Field(Parse(lines[0]), "grpc_code"), "NOT_FOUND");
  EXPECT_THAT(capture_.Text(), Not(HasSubstr("secret_name")));
}

TEST_F(CallLogInterceptorTest, OffOrBelowTheLogLevelWritesNothing) {
  for (const char* level : {"off", "debug"}) {
    absl::StatusOr<CallLogOptions> options = ParseAccessLogLevel(level);
    ASSERT_TRUE(options.ok());
    StartServer(*options);
    auto context = Context("quiet");
    v1::CreateUserResponse response;
    ASSERT_TRUE(
        stub_->CreateUser(context.get(), v1::CreateUserRequest(), &response)
            .ok());
    // The id still comes back.
    EXPECT_EQ(ResponseRequestId(*context), "quiet");
    server_->Shutdown();
    server_.reset();
  }
  EXPECT_THAT(capture_.Lines(), SizeIs(0));
}

TEST_F(CallLogInterceptorTest, SamplingKeepsEveryFailure) {
  CallLogOptions options;
  options.sample_ok_every = 3;
  StartServer(options);
  for (int i = 0; i < 6; ++i) {
    auto context = Context();
    v1::CreateUserResponse response;
    ASSERT_TRUE(
        stub_->CreateUser(context.get(), v1::CreateUserRequest(), &response)
            .ok());
  }
  for (int i = 0; i < 2; ++i) {
    auto context = Context();
    v1::ListUsersResponse response;
    stub_->ListUsers(context.get(), v1::ListUsersRequest(), &response)
        .error_code();
  }
  const std::vector<std::string> lines = AccessLines(4);
  ASSERT_THAT(lines, SizeIs(4));
  int ok = 0, not_found = 0;
  for (const std::string& line : lines) {
    const std::string code = Field(Parse(line), "grpc_code");
    ok += code == "OK";
    not_found += code == "NOT_FOUND";
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(not_found, 2);
}

TEST_F(CallLogInterceptorTest, FailuresBeyondTheLimitAreCountedNotWritten) {
  CallLogOptions options;
  options.failure_lines_per_second = 2;
  StartServer(options);
  auto fail = [&] {
    auto context = Context();
    v1::ListUsersResponse response;
    stub_->ListUsers(context.get(), v1::ListUsersRequest(), &response);
  };
  for (int i = 0; i < 5; ++i) fail();
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_THAT(capture_.Lines(), SizeIs(2));
  // Another second: the next failure is written and counts the three left
  // out.
  absl::SleepFor(absl::Seconds(1));
  fail();
  const std::vector<std::string> lines = AccessLines(3);
  ASSERT_THAT(lines, SizeIs(3));
  const google::protobuf::Struct last = Parse(lines.back());
  EXPECT_EQ(Field(last, "grpc_code"), "NOT_FOUND");
  ASSERT_TRUE(last.fields().contains("similar_left_out")) << lines.back();
  EXPECT_EQ(last.fields().at("similar_left_out").number_value(), 3);
  EXPECT_FALSE(Parse(lines[0]).fields().contains("similar_left_out"));
}

TEST(ParseAccessLogLevelTest, KnownValues) {
  EXPECT_FALSE(ParseAccessLogLevel("off")->enabled);
  EXPECT_EQ(ParseAccessLogLevel("INFO")->level, log::Level::kInfo);
  EXPECT_EQ(ParseAccessLogLevel("debug")->level, log::Level::kDebug);
  EXPECT_FALSE(ParseAccessLogLevel("loud").ok());
}

}  // namespace
}  // namespace userservice::observability
