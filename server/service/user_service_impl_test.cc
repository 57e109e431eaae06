#include "server/service/user_service_impl.h"

#include <chrono>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/client_unary_call.h"
#include "grpcpp/impl/rpc_method.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "server/service/consistency_token.h"
#include "server/service/page_token.h"
#include "server/service/unparseable_request.h"
#include "server/testing/fake_user_reader.h"
#include "server/testing/fake_user_writer.h"
#include "server/testing/in_process_user_service.h"
#include "server/testing/log_capture.h"
#include "userservice/v1/user_service.grpc.pb.h"

// The gRPC surface: validation, mapping, errors, deadlines, x-served-by,
// and the "call failed" warnings, for every UserService method. How
// GetUser and CreateUser calls are batched is in read_batcher_test.cc and
// create_batcher_test.cc.

namespace userservice {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class UserServiceImplTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(ServiceOptions()); }
  void TearDown() override { Stop(); }

  void Start(ServiceOptions options) {
    service_.Start(&writer_, &primary_, &replica_, options);
    stub_ = service_.stub();
  }

  void Stop() {
    stub_ = nullptr;
    service_.Stop();
  }

  void Restart(ServiceOptions options) {
    Stop();
    Start(options);
  }

  void AddUserEverywhere(const User& user) {
    primary_.AddUser(user);
    replica_.AddUser(user);
  }

  // Deadline-bounded client context so a broken test never hangs.
  static void SetTestDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(20));
  }

  FakeUserWriter writer_;
  FakeUserReader primary_;
  FakeUserReader replica_;
  InProcessUserService service_;
  v1::UserService::Stub* stub_ = nullptr;
};

// --- Requests that do not parse --------------------------------------------

// `bytes` as the request of `method` ("GetUser") on `channel`.
grpc::Status CallWithBytes(grpc::Channel& channel, const std::string& method,
                           const std::string& bytes) {
  const std::string path = "/userservice.v1.UserService/" + method;
  const grpc::internal::RpcMethod rpc(path.c_str(),
                                      grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::Slice slice(bytes);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(20));
  return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      &channel, rpc, &context, request, &response);
}

TEST_F(UserServiceImplTest,
       RequestsThatDoNotParseAreInvalidArgumentOnEveryMethod) {
  const std::string truncated(
      "\x0a\x05"
      "ab",
      4);
  const std::vector<std::string> methods = {
      "GetUser",   "BatchGetUsers", "CreateUser",   // the dispatcher's
      "ListUsers", "UpdateUser",    "DeleteUser"};  // sync handlers
  for (const std::string& method : methods) {
    grpc::Status status = CallWithBytes(service_.channel(), method, truncated);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << method << ": " << status.error_message();
    EXPECT_EQ(status.error_message(),
              UnparseableRequestStatus("/userservice.v1.UserService/" + method)
                  .error_message());
  }
  std::vector<std::string> expected;
  for (const std::string& method : methods) {
    expected.push_back("/userservice.v1.UserService/" + method);
  }
  EXPECT_EQ(service_.unparseable(), expected);
  EXPECT_EQ(writer_.calls(), 0);
}

// --- CreateUser ----------------------------------------------------------

TEST_F(UserServiceImplTest, CreateUserReturnsTheUserAndAToken) {
  writer_.SetCreateResult(
      Positioned<User>{MakeUser(11, "alice"), WritePosition()});

  v1::CreateUserRequest request;
  request.set_username("alice");
  request.set_email("alice@example.com");
  request.set_request_id("req-123");
  v1::CreateUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->CreateUser(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  EXPECT_EQ(writer_.calls(), 1);
  EXPECT_EQ(writer_.last_new_user().username, "alice");
  EXPECT_EQ(writer_.last_new_user().email, "alice@example.com");
  EXPECT_EQ(writer_.last_new_user().request_id, "req-123");

  EXPECT_EQ(response.user().id(), 11u);
  EXPECT_EQ(response.user().username(), "alice");
  EXPECT_EQ(response.user().create_time().seconds(), 1700000000);
  EXPECT_EQ(response.user().create_time().nanos(), 11000);
  EXPECT_EQ(response.user().update_time().nanos(), 654321000);
  absl::StatusOr<ReplicationPosition> position =
      DecodeConsistencyToken("consistency_token", response.consistency_token());
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, WritePosition());
}

TEST_F(UserServiceImplTest, CreateUserRejectsBadInputWithoutTouchingTheWriter) {
  struct Case {
    std::string username, email, request_id, field;
  };
  for (const Case& c : std::vector<Case>{
           {"al", "alice@example.com", "", "username"},
           {"alice!", "alice@example.com", "", "username"},
           {"", "alice@example.com", "", "username"},
           {"alice", "alice", "", "email"},
           {"alice", "alice @example.com", "", "email"},
           {"alice", "", "", "email"},
           {"alice", "alice@example.com", "with space", "request_id"},
           {"alice", "alice@example.com", std::string(129, 'r'),
            "request_id"}}) {
    SCOPED_TRACE(absl::StrCat(c.username, " / ", c.email, " / ", c.request_id));
    v1::CreateUserRequest request;
    request.set_username(c.username);
    request.set_email(c.email);
    request.set_request_id(c.request_id);
    v1::CreateUserResponse response;
    grpc::ClientContext context;
    SetTestDeadline(&context);
    grpc::Status status = stub_->CreateUser(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith(c.field + ":"));
    EXPECT_TRUE(response.consistency_token().empty());
  }
  EXPECT_EQ(writer_.calls(), 0);
}

struct PassThroughCase {
  absl::StatusCode absl_code;
  grpc::StatusCode grpc_code;
};

void PrintTo(const PassThroughCase& c, std::ostream* os) {
  *os << absl::StatusCodeToString(c.absl_code);
}

class WriteErrorPassThroughTest
    : public UserServiceImplTest,
      public ::testing::WithParamInterface<PassThroughCase> {};

TEST_P(WriteErrorPassThroughTest, CreateUserPassesWriterErrorsThrough) {
  const std::string message = absl::StrCat(
      "writer says ", absl::StatusCodeToString(GetParam().absl_code));
  writer_.SetCreateResult(absl::Status(GetParam().absl_code, message));
  v1::CreateUserRequest request;
  request.set_username("alice");
  request.set_email("alice@example.com");
  v1::CreateUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->CreateUser(&context, request, &response);
  EXPECT_EQ(status.error_code(), GetParam().grpc_code);
  EXPECT_EQ(status.error_message(), message);
  EXPECT_FALSE(response.has_user());
  EXPECT_EQ(writer_.calls(), 1);
  // Not taken for a request that did not parse, INTERNAL included.
  EXPECT_TRUE(service_.unparseable().empty());
}

TEST_F(UserServiceImplTest, CallFailedWarningsAreLimitedPerSecondAndCounted) {
  Stop();
  log::LogCapture capture;
  ServiceOptions options;
  options.failure_warnings_per_second = 2;
  Start(options);
  writer_.SetCreateResult(absl::UnavailableError("primary unreachable"));
  v1::CreateUserRequest request;
  request.set_username("alice");
  request.set_email("alice@example.com");
  auto create = [&] {
    v1::CreateUserResponse response;
    grpc::ClientContext context;
    SetTestDeadline(&context);
    EXPECT_EQ(stub_->CreateUser(&context, request, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  };
  for (int i = 0; i < 5; ++i) create();
  auto warnings = [&] {
    std::vector<std::string> lines;
    for (const std::string& line : capture.Lines()) {
      if (absl::StrContains(line, "\"message\":\"call failed\"")) {
        lines.push_back(line);
      }
    }
    return lines;
  };
  EXPECT_THAT(warnings(), ::testing::SizeIs(2));
  absl::SleepFor(absl::Seconds(1));
  create();
  const std::vector<std::string> lines = warnings();
  ASSERT_THAT(lines, ::testing::SizeIs(3));
  EXPECT_THAT(lines.back(), HasSubstr("\"similar_left_out\":3"));
  EXPECT_THAT(lines.front(), Not(HasSubstr("similar_left_out")));
}

TEST_P(WriteErrorPassThroughTest, UpdateUserPassesWriterErrorsThrough) {
  const std::string message = "update failed for a reason";
  writer_.SetUpdateResult(absl::Status(GetParam().absl_code, message));
  v1::UpdateUserRequest request;
  request.mutable_user()->set_id(3);
  request.mutable_user()->set_username("carol");
  request.mutable_update_mask()->add_paths("username");
  v1::UpdateUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->UpdateUser(&context, request, &response);
  EXPECT_EQ(status.error_code(), GetParam().grpc_code);
  EXPECT_EQ(status.error_message(), message);
  // The sync path's interceptor leaves a handler's own INTERNAL alone.
  EXPECT_TRUE(service_.unparseable().empty());
}

TEST_P(WriteErrorPassThroughTest, DeleteUserPassesWriterErrorsThrough) {
  const std::string message = "delete failed for a reason";
  writer_.SetDeleteResult(absl::Status(GetParam().absl_code, message));
  v1::DeleteUserRequest request;
  request.set_id(3);
  v1::DeleteUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->DeleteUser(&context, request, &response);
  EXPECT_EQ(status.error_code(), GetParam().grpc_code);
  EXPECT_EQ(status.error_message(), message);
  EXPECT_TRUE(response.consistency_token().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Codes, WriteErrorPassThroughTest,
    ::testing::Values(PassThroughCase{absl::StatusCode::kAlreadyExists,
                                      grpc::StatusCode::ALREADY_EXISTS},
                      PassThroughCase{absl::StatusCode::kAborted,
                                      grpc::StatusCode::ABORTED},
                      PassThroughCase{absl::StatusCode::kNotFound,
                                      grpc::StatusCode::NOT_FOUND},
                      PassThroughCase{absl::StatusCode::kFailedPrecondition,
                                      grpc::StatusCode::FAILED_PRECONDITION},
                      PassThroughCase{absl::StatusCode::kInvalidArgument,
                                      grpc::StatusCode::INVALID_ARGUMENT},
                      PassThroughCase{absl::StatusCode::kUnavailable,
                                      grpc::StatusCode::UNAVAILABLE},
                      PassThroughCase{absl::StatusCode::kDeadlineExceeded,
                                      grpc::StatusCode::DEADLINE_EXCEEDED},
                      PassThroughCase{absl::StatusCode::kResourceExhausted,
                                      grpc::StatusCode::RESOURCE_EXHAUSTED},
                      PassThroughCase{absl::StatusCode::kInternal,
                                      grpc::StatusCode::INTERNAL}),
    [](const ::testing::TestParamInfo<PassThroughCase>& info) {
      return absl::StatusCodeToString(info.param.absl_code);
    });

// --- UpdateUser / DeleteUser ---------------------------------------------

TEST_F(UserServiceImplTest, UpdateUserSendsTheMaskedFieldsAndReturnsAToken) {
  User updated = MakeUser(3, "carol");
  updated.version = 4;
  writer_.SetUpdateResult(Positioned<User>{updated, WritePosition()});

  v1::UpdateUserRequest request;
  request.mutable_user()->set_id(3);
  request.mutable_user()->set_username("carol");
  request.mutable_user()->set_email("not validated: not in the mask");
  request.mutable_update_mask()->add_paths("username");
  request.set_expected_version(3);
  v1::UpdateUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->UpdateUser(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  const UserUpdate sent = writer_.last_update();
  EXPECT_EQ(sent.id, 3u);
  EXPECT_EQ(sent.username, "carol");
  EXPECT_FALSE(sent.email.has_value());
  EXPECT_EQ(sent.expected_version, 3);
  EXPECT_EQ(response.user().version(), 4);
  absl::StatusOr<ReplicationPosition> position =
      DecodeConsistencyToken("consistency_token", response.consistency_token());
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, WritePosition());
}

TEST_F(UserServiceImplTest, UpdateUserRejectsBadInputWithoutTouchingTheWriter) {
  std::vector<std::pair<v1::UpdateUserRequest, std::string>> cases;
  {
    v1::UpdateUserRequest r;
    cases.push_back({r, "user:"});
  }
  {
    v1::UpdateUserRequest r;
    r.mutable_user()->set_username("carol");
    r.mutable_user()->set_email("carol@example.com");
    cases.push_back({r, "user.id:"});
  }
  {
    v1::UpdateUserRequest r;
    r.mutable_user()->set_id(3);
    r.mutable_user()->set_username("carol");
    r.mutable_update_mask()->add_paths("version");
    cases.push_back({r, "update_mask:"});
  }
  {
    v1::UpdateUserRequest r;
    r.mutable_user()->set_id(3);
    r.mutable_user()->set_username("carol");
    r.mutable_user()->set_email("carol@example.com");
    r.set_expected_version(-2);
    cases.push_back({r, "expected_version:"});
  }
  {
    v1::UpdateUserRequest r;  // empty mask: both fields must be valid
    r.mutable_user()->set_id(3);
    r.mutable_user()->set_username("carol");
    cases.push_back({r, "user.email:"});
  }
  for (const auto& [request, prefix] : cases) {
    SCOPED_TRACE(prefix);
    v1::UpdateUserResponse response;
    grpc::ClientContext context;
    SetTestDeadline(&context);
    grpc::Status status = stub_->UpdateUser(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith(prefix));
  }
  EXPECT_EQ(writer_.calls(), 0);
}

TEST_F(UserServiceImplTest, DeleteUserReturnsAToken) {
  writer_.SetDeleteResult(WritePosition());
  v1::DeleteUserRequest request;
  request.set_id(9);
  request.set_expected_version(2);
  v1::DeleteUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->DeleteUser(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(writer_.last_delete_id(), 9u);
  EXPECT_EQ(writer_.last_delete_version(), 2);
  absl::StatusOr<ReplicationPosition> position =
      DecodeConsistencyToken("consistency_token", response.consistency_token());
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, WritePosition());
}

TEST_F(UserServiceImplTest, DeleteUserRejectsBadInputWithoutTouchingTheWriter) {
  for (const auto& [id, version, prefix] :
       std::vector<std::tuple<uint64_t, int64_t, std::string>>{
           {0, 0, "id:"}, {5, -1, "expected_version:"}}) {
    v1::DeleteUserRequest request;
    request.set_id(id);
    request.set_expected_version(version);
    v1::DeleteUserResponse response;
    grpc::ClientContext context;
    SetTestDeadline(&context);
    grpc::Status status = stub_->DeleteUser(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith(prefix));
  }
  EXPECT_EQ(writer_.calls(), 0);
}

// --- GetUser -------------------------------------------------------------

TEST_F(UserServiceImplTest, GetUserReportsTheServingReplica) {
  AddUserEverywhere(MakeUser(5, "erin"));
  v1::GetUserRequest request;
  request.set_id(5);
  v1::GetUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->GetUser(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(ServedBy(context), "replica-0");
  EXPECT_EQ(response.user().id(), 5u);
  EXPECT_EQ(response.user().username(), "erin");
  EXPECT_EQ(response.user().email(), "erin@example.com");
  EXPECT_EQ(response.user().create_time().nanos(), 5000);
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 1);
  EXPECT_EQ(primary_.read_calls(), 0);
  EXPECT_EQ(replica_.last_ids(), std::vector<uint64_t>{5});
}

TEST_F(UserServiceImplTest, StrongGetUserIsServedByThePrimary) {
  AddUserEverywhere(MakeUser(5, "erin"));
  v1::GetUserRequest request;
  request.set_username("ERIN");
  request.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
  v1::GetUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->GetUser(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(ServedBy(context), "primary");
  EXPECT_EQ(response.user().id(), 5u);
  EXPECT_EQ(primary_.last_key().kind, UserKey::Kind::kUsername);
  EXPECT_EQ(primary_.last_key().text, "ERIN");
  EXPECT_EQ(replica_.get_user_calls(), 0);
}

TEST_F(UserServiceImplTest, SessionGetUserWaitsForTheTokensPosition) {
  AddUserEverywhere(MakeUser(5, "erin"));
  replica_.SetWaitResult(false);  // replica behind: read from the primary
  v1::GetUserRequest request;
  request.set_email("erin@example.com");
  request.mutable_read_options()->set_consistency_token(
      EncodeConsistencyToken(WritePosition()));
  v1::GetUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->GetUser(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(replica_.wait_calls(), 1);
  EXPECT_EQ(replica_.last_wait_position(), WritePosition());
  EXPECT_EQ(ServedBy(context), "primary");
  EXPECT_EQ(response.user().id(), 5u);
}

TEST_F(UserServiceImplTest, GetUserNotFoundStillNamesTheEndpoint) {
  v1::GetUserRequest request;
  request.set_id(404);
  v1::GetUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->GetUser(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "user 404 not found");
  EXPECT_EQ(ServedBy(context), "replica-0");
  EXPECT_EQ(primary_.read_calls(), 0);
}

TEST_F(UserServiceImplTest, GetUserFailingEverywhereHasNoServedBy) {
  replica_.FailReads(absl::UnavailableError("replica-0 unreachable"));
  primary_.FailReads(absl::UnavailableError("primary unreachable"));
  v1::GetUserRequest request;
  request.set_id(5);
  v1::GetUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->GetUser(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "primary unreachable");
  EXPECT_EQ(ServedBy(context), NoMetadata());
  EXPECT_EQ(replica_.read_calls(), 1);
  EXPECT_EQ(primary_.read_calls(), 1);
}

TEST_F(UserServiceImplTest, GetUserPassesReaderErrorsThrough) {
  for (const absl::Status& error :
       {absl::DeadlineExceededError("query stopped at the call's deadline"),
        absl::ResourceExhaustedError("no connection to replica-0 became free"),
        absl::InternalError("unexpected database error")}) {
    SCOPED_TRACE(error.ToString());
    replica_.FailReads(error);
    v1::GetUserRequest request;
    request.set_id(5);
    v1::GetUserResponse response;
    grpc::ClientContext context;
    SetTestDeadline(&context);
    grpc::Status status = stub_->GetUser(&context, request, &response);
    EXPECT_EQ(static_cast<int>(status.error_code()),
              static_cast<int>(error.code()));
    EXPECT_EQ(status.error_message(), error.message());
    EXPECT_EQ(ServedBy(context), NoMetadata());
  }
  EXPECT_EQ(primary_.get_user_calls(), 0);
}

TEST_F(UserServiceImplTest, GetUserRejectsBadInputWithoutReading) {
  std::vector<std::pair<v1::GetUserRequest, std::string>> cases;
  {
    v1::GetUserRequest r;
    cases.push_back({r, "key:"});
  }
  {
    v1::GetUserRequest r;
    r.set_id(0);
    cases.push_back({r, "id:"});
  }
  {
    v1::GetUserRequest r;
    r.set_email("nope");
    cases.push_back({r, "email:"});
  }
  {
    v1::GetUserRequest r;
    r.set_id(5);
    r.mutable_read_options()->set_consistency_token("garbage");
    cases.push_back({r, "read_options.consistency_token:"});
  }
  {
    v1::GetUserRequest r;
    r.set_id(5);
    r.mutable_read_options()->set_consistency(
        v1::CONSISTENCY_BOUNDED_STALENESS);
    cases.push_back({r, "read_options.max_staleness:"});
  }
  {
    v1::GetUserRequest r;
    r.set_id(5);
    r.mutable_read_options()->set_consistency(static_cast<v1::Consistency>(99));
    cases.push_back({r, "read_options.consistency:"});
  }
  for (const auto& [request, prefix] : cases) {
    SCOPED_TRACE(prefix);
    v1::GetUserResponse response;
    grpc::ClientContext context;
    SetTestDeadline(&context);
    grpc::Status status = stub_->GetUser(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith(prefix));
    EXPECT_EQ(ServedBy(context), NoMetadata());
  }
  EXPECT_EQ(replica_.read_calls() + primary_.read_calls(), 0);
  EXPECT_EQ(replica_.wait_calls(), 0);
}

TEST_F(UserServiceImplTest, GetUserByKeyReturnsATokenCoveringItsRequest) {
  AddUserEverywhere(MakeUser(5, "erin"));
  replica_.SetPosition(ReplicaPosition());
  v1::GetUserRequest request;
  request.set_username("erin");
  request.mutable_read_options()->set_consistency(v1::CONSISTENCY_EVENTUAL);
  request.mutable_read_options()->set_consistency_token(
      EncodeConsistencyToken(WritePosition()));
  v1::GetUserResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  ASSERT_TRUE(stub_->GetUser(&context, request, &response).ok());
  ReplicationPosition both = WritePosition();
  both.Merge(ReplicaPosition());
  EXPECT_EQ(response.consistency_token(), EncodeConsistencyToken(both));
}

// --- ListUsers -----------------------------------------------------------

TEST_F(UserServiceImplTest, ListUsersReturnsATokenCoveringThePageAndRequest) {
  AddUserEverywhere(MakeUser(5, "erin"));
  replica_.SetPosition(ReplicaPosition());
  v1::ListUsersRequest request;
  request.mutable_read_options()->set_consistency(v1::CONSISTENCY_EVENTUAL);
  v1::ListUsersResponse response;
  grpc::ClientContext plain;
  SetTestDeadline(&plain);
  ASSERT_TRUE(stub_->ListUsers(&plain, request, &response).ok());
  EXPECT_EQ(response.consistency_token(),
            EncodeConsistencyToken(ReplicaPosition()));

  request.mutable_read_options()->add_consistency_tokens(
      EncodeConsistencyToken(WritePosition()));
  grpc::ClientContext with_token;
  SetTestDeadline(&with_token);
  ASSERT_TRUE(stub_->ListUsers(&with_token, request, &response).ok());
  ReplicationPosition both = WritePosition();
  both.Merge(ReplicaPosition());
  EXPECT_EQ(response.consistency_token(), EncodeConsistencyToken(both));
}

TEST_F(UserServiceImplTest, ListUsersPagesThroughEveryUser) {
  for (uint64_t id : {3, 8, 15, 21, 40}) {
    AddUserEverywhere(MakeUser(id, absl::StrCat("user", id)));
  }
  std::vector<uint64_t> seen;
  std::vector<uint64_t> after_ids;
  std::string token;
  int pages = 0;
  do {
    v1::ListUsersRequest request;
    request.set_page_size(2);
    request.set_page_token(token);
    v1::ListUsersResponse response;
    grpc::ClientContext context;
    SetTestDeadline(&context);
    grpc::Status status = stub_->ListUsers(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ++pages;
    ASSERT_LE(pages, 3);
    EXPECT_EQ(replica_.last_limit(), 3);  // page size + 1
    after_ids.push_back(replica_.last_after_id());
    EXPECT_EQ(ServedBy(context), "replica-0");
    EXPECT_LE(response.users_size(), 2);
    for (const v1::User& user : response.users()) seen.push_back(user.id());
    token = response.next_page_token();
  } while (!token.empty());

  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<uint64_t>{3, 8, 15, 21, 40}));
  EXPECT_EQ(after_ids, (std::vector<uint64_t>{0, 8, 21}));
}

TEST_F(UserServiceImplTest, ListUsersGivesNoTokenWhenThePageIsExactlyFull) {
  for (uint64_t id : {1, 2, 3, 4}) {
    AddUserEverywhere(MakeUser(id, absl::StrCat("user", id)));
  }
  v1::ListUsersRequest request;
  request.set_page_size(2);
  v1::ListUsersResponse first;
  {
    grpc::ClientContext context;
    SetTestDeadline(&context);
    ASSERT_TRUE(stub_->ListUsers(&context, request, &first).ok());
  }
  ASSERT_EQ(first.users_size(), 2);
  ASSERT_FALSE(first.next_page_token().empty());
  absl::StatusOr<uint64_t> resume =
      DecodePageToken("page_token", first.next_page_token());
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(*resume, 2u);

  request.set_page_token(first.next_page_token());
  v1::ListUsersResponse second;
  {
    grpc::ClientContext context;
    SetTestDeadline(&context);
    ASSERT_TRUE(stub_->ListUsers(&context, request, &second).ok());
  }
  EXPECT_EQ(replica_.last_after_id(), 2u);
  ASSERT_EQ(second.users_size(), 2);
  EXPECT_EQ(second.users(0).id(), 3u);
  EXPECT_EQ(second.users(1).id(), 4u);
  EXPECT_TRUE(second.next_page_token().empty());
}

TEST_F(UserServiceImplTest, ListUsersOnAnEmptyTable) {
  v1::ListUsersRequest request;
  v1::ListUsersResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  ASSERT_TRUE(stub_->ListUsers(&context, request, &response).ok());
  EXPECT_EQ(response.users_size(), 0);
  EXPECT_TRUE(response.next_page_token().empty());
  EXPECT_EQ(replica_.last_after_id(), 0u);
  EXPECT_EQ(replica_.last_limit(), 51);  // default 50, plus one
}

TEST_F(UserServiceImplTest, ListUsersCapsThePageSize) {
  v1::ListUsersRequest request;
  request.set_page_size(5000);
  request.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
  v1::ListUsersResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  ASSERT_TRUE(stub_->ListUsers(&context, request, &response).ok());
  EXPECT_EQ(primary_.last_limit(), 1001);
  EXPECT_EQ(ServedBy(context), "primary");
}

TEST_F(UserServiceImplTest, ListUsersRejectsBadInputWithoutReading) {
  std::vector<std::pair<v1::ListUsersRequest, std::string>> cases;
  {
    v1::ListUsersRequest r;
    r.set_page_size(-1);
    cases.push_back({r, "page_size:"});
  }
  {
    v1::ListUsersRequest r;
    r.set_page_token("p1.garbage!");
    cases.push_back({r, "page_token:"});
  }
  {
    v1::ListUsersRequest r;
    r.set_page_token(EncodeConsistencyToken(WritePosition()));
    cases.push_back({r, "page_token:"});
  }
  {
    v1::ListUsersRequest r;
    r.mutable_read_options()->set_consistency_token("v1.nope");
    cases.push_back({r, "read_options.consistency_token:"});
  }
  for (const auto& [request, prefix] : cases) {
    SCOPED_TRACE(prefix);
    v1::ListUsersResponse response;
    grpc::ClientContext context;
    SetTestDeadline(&context);
    grpc::Status status = stub_->ListUsers(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith(prefix));
  }
  EXPECT_EQ(replica_.read_calls() + primary_.read_calls(), 0);
}

TEST_F(UserServiceImplTest,
       ListUsersAfterAReplicaFailureHasOnlyThePrimarysRows) {
  for (uint64_t id : {1, 2}) primary_.AddUser(MakeUser(id, "p"));
  replica_.FailReads(absl::UnavailableError("replica down"));
  v1::ListUsersRequest request;
  v1::ListUsersResponse response;
  grpc::ClientContext context;
  SetTestDeadline(&context);
  grpc::Status status = stub_->ListUsers(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(ServedBy(context), "primary");
  EXPECT_EQ(response.users_size(), 2);
}

// --- Deadlines -----------------------------------------------------------

TEST_F(UserServiceImplTest, CallWithoutDeadlineGetsTheDefaultDeadline) {
  ServiceOptions options;
  options.default_deadline = absl::Seconds(42);
  Restart(options);
  writer_.SetCreateResult(
      Positioned<User>{MakeUser(1, "alice"), WritePosition()});
  AddUserEverywhere(MakeUser(1, "alice"));

  v1::CreateUserRequest request;
  request.set_username("alice");
  request.set_email("alice@example.com");
  v1::CreateUserResponse response;
  grpc::ClientContext context;  // no deadline
  const absl::Time before = absl::Now();
  ASSERT_TRUE(stub_->CreateUser(&context, request, &response).ok());
  const absl::Time after = absl::Now();
  const absl::Time seen = writer_.last_ctx().deadline;
  EXPECT_NE(seen, absl::InfiniteFuture());
  EXPECT_GE(seen, before + absl::Seconds(42));
  EXPECT_LE(seen, after + absl::Seconds(42));

  v1::GetUserRequest get;
  get.set_id(1);
  v1::GetUserResponse got;
  grpc::ClientContext read_context;  // no deadline
  const absl::Time read_before = absl::Now();
  ASSERT_TRUE(stub_->GetUser(&read_context, get, &got).ok());
  const absl::Time read_after = absl::Now();
  const absl::Time read_seen = replica_.last_ctx().deadline;
  EXPECT_GE(read_seen, read_before + absl::Seconds(42));
  EXPECT_LE(read_seen, read_after + absl::Seconds(42));
}

TEST_F(UserServiceImplTest, DeadlineBeyondTheMaximumIsCapped) {
  ServiceOptions options;
  options.max_deadline = absl::Seconds(7);
  Restart(options);
  writer_.SetDeleteResult(WritePosition());
  v1::DeleteUserRequest request;
  request.set_id(3);
  v1::DeleteUserResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Hours(1)));
  const absl::Time before = absl::Now();
  ASSERT_TRUE(stub_->DeleteUser(&context, request, &response).ok());
  const absl::Time after = absl::Now();
  const absl::Time seen = writer_.last_ctx().deadline;
  EXPECT_GE(seen, before + absl::Seconds(7));
  EXPECT_LE(seen, after + absl::Seconds(7));
}

TEST_F(UserServiceImplTest, CallerDeadlineIsPassedDown) {
  writer_.SetDeleteResult(WritePosition());
  const absl::Time client_deadline = absl::Now() + absl::Seconds(60);
  v1::DeleteUserRequest request;
  request.set_id(3);
  v1::DeleteUserResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(client_deadline));
  ASSERT_TRUE(stub_->DeleteUser(&context, request, &response).ok());
  const absl::Time seen = writer_.last_ctx().deadline;
  // gRPC sends the deadline as a coarse timeout; allow for its rounding.
  EXPECT_GE(seen, client_deadline - absl::Seconds(2));
  EXPECT_LE(seen, client_deadline + absl::Seconds(2));

  AddUserEverywhere(MakeUser(3, "carol"));
  const absl::Time read_deadline = absl::Now() + absl::Seconds(90);
  v1::GetUserRequest get;
  get.set_id(3);
  v1::GetUserResponse got;
  grpc::ClientContext read_context;
  read_context.set_deadline(absl::ToChronoTime(read_deadline));
  ASSERT_TRUE(stub_->GetUser(&read_context, get, &got).ok());
  const absl::Time read_seen = replica_.last_ctx().deadline;
  EXPECT_GE(read_seen, read_deadline - absl::Seconds(2));
  EXPECT_LE(read_seen, read_deadline + absl::Seconds(2));
}

TEST_F(UserServiceImplTest, VeryDistantDeadlinesAreCappedAtADay) {
  ServiceOptions options;
  options.max_deadline = absl::Hours(24);
  Restart(options);
  writer_.SetDeleteResult(WritePosition());
  v1::DeleteUserRequest request;
  request.set_id(3);
  v1::DeleteUserResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Hours(24 * 30)));
  const absl::Time before = absl::Now();
  ASSERT_TRUE(stub_->DeleteUser(&context, request, &response).ok());
  const absl::Time after = absl::Now();
  const absl::Time seen = writer_.last_ctx().deadline;
  EXPECT_GE(seen, before + absl::Hours(24));
  EXPECT_LE(seen, after + absl::Hours(24));
}

TEST_F(UserServiceImplTest, DeadlinesAreCappedAtFiveMinutesByDefault) {
  writer_.SetDeleteResult(WritePosition());
  v1::DeleteUserRequest request;
  request.set_id(3);
  v1::DeleteUserResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Hours(1)));
  const absl::Time before = absl::Now();
  ASSERT_TRUE(stub_->DeleteUser(&context, request, &response).ok());
  const absl::Time after = absl::Now();
  const absl::Time seen = writer_.last_ctx().deadline;
  EXPECT_GE(seen, before + absl::Minutes(5));
  EXPECT_LE(seen, after + absl::Minutes(5));
}

}  // namespace
}  // namespace userservice
