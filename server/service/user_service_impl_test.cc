#include "server/service/user_service_impl.h"

#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/testing/log_capture.h"
#include "server/testing/fake_user_reader.h"
#include "server/routing/read_router.h"
#include "server/service/consistency_token.h"
#include "server/service/batched_user_methods.h"
#include "server/service/page_token.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Records every write and answers with configurable results.
class FakeUserWriter : public UserWriter {
 public:
  void SetCreateResult(absl::StatusOr<Written<User>> result) {
    absl::MutexLock lock(&mu_);
    create_result_ = std::move(result);
  }
  void SetUpdateResult(absl::StatusOr<Written<User>> result) {
    absl::MutexLock lock(&mu_);
    update_result_ = std::move(result);
  }
  void SetDeleteResult(absl::StatusOr<ReplicationPosition> result) {
    absl::MutexLock lock(&mu_);
    delete_result_ = std::move(result);
  }

  absl::StatusOr<Written<User>> CreateUser(const NewUser& user,
                                           const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_new_user_ = user;
    last_ctx_ = ctx;
    return create_result_;
  }
  absl::StatusOr<std::vector<Written<User>>> CreateUsers(
      absl::Span<const NewUser> users, const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_new_user_ = users.back();
    last_ctx_ = ctx;
    if (!create_result_.ok()) return create_result_.status();
    return std::vector<Written<User>>(users.size(), *create_result_);
  }
  absl::StatusOr<Written<User>> UpdateUser(const UserUpdate& update,
                                           const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_update_ = update;
    last_ctx_ = ctx;
    return update_result_;
  }
  absl::StatusOr<ReplicationPosition> DeleteUser(
      uint64_t id, int64_t expected_version,
      const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_delete_id_ = id;
    last_delete_version_ = expected_version;
    last_ctx_ = ctx;
    return delete_result_;
  }

  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  NewUser last_new_user() const {
    absl::MutexLock lock(&mu_);
    return last_new_user_;
  }
  UserUpdate last_update() const {
    absl::MutexLock lock(&mu_);
    return last_update_;
  }
  uint64_t last_delete_id() const {
    absl::MutexLock lock(&mu_);
    return last_delete_id_;
  }
  int64_t last_delete_version() const {
    absl::MutexLock lock(&mu_);
    return last_delete_version_;
  }
  RequestContext last_ctx() const {
    absl::MutexLock lock(&mu_);
    return last_ctx_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::StatusOr<Written<User>> create_result_ ABSL_GUARDED_BY(mu_) =
      absl::InternalError("create result not set");
  absl::StatusOr<Written<User>> update_result_ ABSL_GUARDED_BY(mu_) =
      absl::InternalError("update result not set");
  absl::StatusOr<ReplicationPosition> delete_result_ ABSL_GUARDED_BY(mu_) =
      absl::InternalError("delete result not set");
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  NewUser last_new_user_ ABSL_GUARDED_BY(mu_);
  UserUpdate last_update_ ABSL_GUARDED_BY(mu_);
  uint64_t last_delete_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_delete_version_ ABSL_GUARDED_BY(mu_) = 0;
  RequestContext last_ctx_ ABSL_GUARDED_BY(mu_);
};

User MakeUser(uint64_t id, absl::string_view username) {
  User user;
  user.id = id;
  user.username = std::string(username);
  user.email = absl::StrCat(username, "@example.com");
  user.create_time = absl::FromUnixMicros(1700000000000000 + id);
  user.update_time = absl::FromUnixMicros(1700000500654321);
  user.version = static_cast<int64_t>(id % 5) + 1;
  return user;
}

ReplicationPosition WritePosition() {
  return ReplicationPosition{kFlavorMariaDb, "0-1-4242"};
}

std::string NoMetadata() { return "<no x-served-by>"; }

// The x-served-by initial metadata of a finished call.
std::string ServedBy(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  if (metadata.count(kServedByMetadataKey) != 1) {
    return metadata.count(kServedByMetadataKey) == 0 ? NoMetadata()
                                                     : "<repeated>";
  }
  const grpc::string_ref value = metadata.find(kServedByMetadataKey)->second;
  return std::string(value.data(), value.size());
}

// UserServiceImpl over a primary and one replica ("replica-0"), with its
// GetUser and CreateUser completion queues, behind an in-process gRPC
// server.
class InProcessUserService {
 public:
  ~InProcessUserService() { Stop(); }

  void Start(UserWriter* writer, UserReader* primary, UserReader* replica,
             ServiceOptions options,
             AsyncUnaryServerOptions async = AsyncUnaryServerOptions()) {
    router_ = std::make_unique<ReadRouter>(
        NamedReader{"primary", primary},
        std::vector<NamedReader>{{"replica-0", replica}}, RouterOptions());
    service_ = std::make_unique<UserServiceImpl>(writer, router_.get(),
                                                 std::move(options));
    batched_ =
        std::make_unique<BatchedUserMethods>(service_.get(), async);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    batched_->AddTo(builder);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    batched_->Start();
    stub_ = v1::UserService::NewStub(
        server_->InProcessChannel(grpc::ChannelArguments()));
  }

  void Stop() {
    stub_.reset();
    if (server_ != nullptr) {
      server_->Shutdown();
      server_->Wait();
    }
    batched_.reset();
    server_.reset();
    service_.reset();
    router_.reset();
  }

  v1::UserService::Stub* stub() { return stub_.get(); }

 private:
  std::unique_ptr<ReadRouter> router_;
  std::unique_ptr<UserServiceImpl> service_;
  std::unique_ptr<BatchedUserMethods> batched_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::UserService::Stub> stub_;
};

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

// --- CreateUser ----------------------------------------------------------

TEST_F(UserServiceImplTest, CreateUserReturnsTheUserAndAToken) {
  writer_.SetCreateResult(
      Written<User>{MakeUser(11, "alice"), WritePosition()});

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
  writer_.SetUpdateResult(Written<User>{updated, WritePosition()});

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
  EXPECT_EQ(replica_.get_user_calls(), 1);
  EXPECT_EQ(primary_.get_user_calls(), 0);
  EXPECT_EQ(replica_.last_key().kind, UserKey::Kind::kId);
  EXPECT_EQ(replica_.last_key().id, 5u);
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
  EXPECT_EQ(status.error_message(), "user not found");
  EXPECT_EQ(ServedBy(context), "replica-0");
  EXPECT_EQ(primary_.get_user_calls(), 0);
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
  EXPECT_EQ(replica_.get_user_calls(), 1);
  EXPECT_EQ(primary_.get_user_calls(), 1);
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

// --- ListUsers -----------------------------------------------------------

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
  writer_.SetCreateResult(Written<User>{MakeUser(1, "alice"), WritePosition()});
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

// --- GetUser batching ----------------------------------------------------

// Holds GetUser by username until Release(), so a test can keep the single
// GetUser thread busy while other calls arrive.
// A call started with the stub's callback API, and what it ended with.
template <typename Response>
struct AsyncReply {
  grpc::ClientContext context;
  Response response;
  grpc::Status status;
  absl::Notification done;
};

// Starts a call without waiting for it; `start(context, request, response,
// on_done)` is the stub's async method. The reply lives in `replies`.
template <typename Response, typename Request, typename Start>
AsyncReply<Response>* SendAsync(
    std::vector<std::unique_ptr<AsyncReply<Response>>>& replies,
    const Request& request, Start start) {
  replies.push_back(std::make_unique<AsyncReply<Response>>());
  AsyncReply<Response>* reply = replies.back().get();
  reply->context.set_deadline(std::chrono::system_clock::now() +
                              std::chrono::seconds(20));
  start(&reply->context, &request, &reply->response,
        [reply](grpc::Status status) {
          reply->status = std::move(status);
          reply->done.Notify();
        });
  return reply;
}

// Sends `held`, which `gate` holds in the only thread that could answer
// the rest, sends `requests` meanwhile, then lets everything go and waits
// for all; returns the replies to `requests`.
template <typename Response, typename Request, typename Gate, typename Send>
std::vector<AsyncReply<Response>*> SendWhileHeld(
    Gate& gate, Send send, const Request& held,
    const std::vector<Request>& requests) {
  AsyncReply<Response>* first = send(held);
  gate.WaitUntilHeld();
  std::vector<AsyncReply<Response>*> replies;
  for (const Request& request : requests) replies.push_back(send(request));
  // The calls must be queued before the thread is let go; in-process
  // delivery takes microseconds, this allows for a loaded machine.
  absl::SleepFor(absl::Milliseconds(300));
  gate.Release();
  EXPECT_TRUE(first->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_TRUE(first->status.ok()) << first->status.error_message();
  for (AsyncReply<Response>* reply : replies) {
    EXPECT_TRUE(reply->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  }
  return replies;
}

// Holds the first GetUser of one key until released.
class GatedReader : public FakeUserReader {
 public:
  void Gate(UserKey key) {
    absl::MutexLock lock(&mu_);
    gated_ = std::move(key);
  }
  absl::StatusOr<User> GetUser(const UserKey& key,
                               const RequestContext& ctx) override {
    bool hold = false;
    {
      absl::MutexLock lock(&mu_);
      hold = key.kind == gated_.kind && key.id == gated_.id &&
             key.text == gated_.text && !entered_.HasBeenNotified();
    }
    if (hold) {
      entered_.Notify();
      gate_.WaitForNotificationWithTimeout(absl::Seconds(20));
    }
    return FakeUserReader::GetUser(key, ctx);
  }
  void WaitUntilHeld() {
    entered_.WaitForNotificationWithTimeout(absl::Seconds(20));
  }
  void Release() {
    if (!gate_.HasBeenNotified()) gate_.Notify();
  }

 private:
  absl::Mutex mu_;
  UserKey gated_ ABSL_GUARDED_BY(mu_) = UserKey::Id(5);
  absl::Notification entered_;
  absl::Notification gate_;
};

class GetUserBatchingTest : public ::testing::Test {
 protected:
  using Reply = AsyncReply<v1::GetUserResponse>;

  void SetUp() override {
    AsyncUnaryServerOptions options;
    options.threads = 1;  // so that calls pile up behind a held one
    service_.Start(&writer_, &primary_, &replica_, ServiceOptions(), options);
    stub_ = service_.stub();
    for (uint64_t id = 1; id <= 5; ++id) {
      const User user = MakeUser(id, absl::StrCat("user", id));
      primary_.AddUser(user);
      replica_.AddUser(user);
    }
  }

  void TearDown() override {
    replica_.Release();
    primary_.Release();
    service_.Stop();
  }

  // Starts a GetUser without waiting for it.
  Reply* Send(const v1::GetUserRequest& request) {
    return SendAsync(replies_, request, [this](auto... args) {
      stub_->async()->GetUser(args...);
    });
  }

  static v1::GetUserRequest ById(uint64_t id, v1::Consistency consistency =
                                                  v1::CONSISTENCY_EVENTUAL) {
    v1::GetUserRequest request;
    request.set_id(id);
    request.mutable_read_options()->set_consistency(consistency);
    return request;
  }

  // Holds the only GetUser thread with a read of user 5 on `reader`, sends
  // `requests` meanwhile, then lets everything go and waits for all.
  std::vector<Reply*> SendWhileHeld(GatedReader& reader,
                                    v1::Consistency held_consistency,
                                    std::vector<v1::GetUserRequest> requests) {
    return userservice::SendWhileHeld<v1::GetUserResponse>(
        reader, [this](const v1::GetUserRequest& r) { return Send(r); },
        ById(5, held_consistency), requests);
  }

  FakeUserWriter writer_;
  GatedReader primary_;
  GatedReader replica_;
  InProcessUserService service_;
  v1::UserService::Stub* stub_ = nullptr;
  std::vector<std::unique_ptr<Reply>> replies_;
};

TEST_F(GetUserBatchingTest, ReadsThatArriveTogetherShareOneStatement) {
  std::vector<v1::GetUserRequest> requests;
  for (uint64_t id : {3, 1, 404, 5, 3}) requests.push_back(ById(id));
  std::vector<Reply*> replies =
      SendWhileHeld(replica_, v1::CONSISTENCY_EVENTUAL, requests);

  EXPECT_EQ(replica_.get_users_by_ids_calls(), 1);
  EXPECT_EQ(replica_.get_user_calls(), 1);  // the held read
  EXPECT_EQ(primary_.read_calls(), 0);
  const std::vector<uint64_t> expected = {3, 1, 0, 5, 3};
  for (size_t i = 0; i < replies.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(ServedBy(replies[i]->context), "replica-0");
    if (expected[i] == 0) {
      EXPECT_EQ(replies[i]->status.error_code(), grpc::StatusCode::NOT_FOUND);
      EXPECT_EQ(replies[i]->status.error_message(), "user 404 not found");
      continue;
    }
    ASSERT_TRUE(replies[i]->status.ok()) << replies[i]->status.error_message();
    EXPECT_EQ(replies[i]->response.user().id(), expected[i]);
    EXPECT_EQ(replies[i]->response.user().username(),
              absl::StrCat("user", expected[i]));
  }
}

TEST_F(GetUserBatchingTest, OnlyReadsWithTheSameConsistencyShareAStatement) {
  std::vector<v1::GetUserRequest> requests = {
      ById(1, v1::CONSISTENCY_STRONG), ById(2), ById(3, v1::CONSISTENCY_STRONG),
      ById(4)};
  std::vector<Reply*> replies =
      SendWhileHeld(replica_, v1::CONSISTENCY_EVENTUAL, requests);

  EXPECT_EQ(primary_.get_users_by_ids_calls(), 1);
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 1);
  for (size_t i = 0; i < replies.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(replies[i]->status.ok()) << replies[i]->status.error_message();
    EXPECT_EQ(replies[i]->response.user().id(), i + 1);
    EXPECT_EQ(ServedBy(replies[i]->context), i % 2 == 0 ? "primary" : "replica-0");
  }
}

TEST_F(GetUserBatchingTest, AFailedSharedStatementIsRetriedLikeOneRead) {
  replica_.FailReads(absl::UnavailableError("replica-0 unreachable"));
  std::vector<v1::GetUserRequest> requests = {ById(1), ById(2), ById(404)};
  // The held read goes to the primary (STRONG) while the replica is down.
  std::vector<Reply*> replies =
      SendWhileHeld(primary_, v1::CONSISTENCY_STRONG, requests);

  EXPECT_EQ(replica_.get_users_by_ids_calls(), 1);
  EXPECT_EQ(primary_.get_users_by_ids_calls(), 1);
  for (Reply* reply : replies) EXPECT_EQ(ServedBy(reply->context), "primary");
  EXPECT_TRUE(replies[0]->status.ok());
  EXPECT_EQ(replies[1]->response.user().id(), 2u);
  EXPECT_EQ(replies[2]->status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(GetUserBatchingTest, SessionReadsWithAPositionAreAnsweredAlone) {
  v1::GetUserRequest session = ById(2, v1::CONSISTENCY_SESSION);
  session.mutable_read_options()->set_consistency_token(
      EncodeConsistencyToken(WritePosition()));
  std::vector<Reply*> replies = SendWhileHeld(
      replica_, v1::CONSISTENCY_EVENTUAL, {session, ById(1), ById(3)});

  EXPECT_EQ(replica_.wait_calls(), 1);
  // The two eventual reads together; the session read alone.
  EXPECT_EQ(replica_.get_users_by_ids_calls(), 1);
  EXPECT_EQ(replica_.get_user_calls(), 2);
  for (size_t i = 0; i < replies.size(); ++i) {
    ASSERT_TRUE(replies[i]->status.ok()) << replies[i]->status.error_message();
  }
  EXPECT_EQ(replies[0]->response.user().id(), 2u);
}

TEST_F(GetUserBatchingTest, ALookupThatWaitsDoesNotHoldUpReadsById) {
  // A lookup by username stands in for any read that may wait (a session
  // read waits up to --session-wait for a replica).
  replica_.Gate(UserKey::Username("user1"));
  v1::GetUserRequest lookup;
  lookup.set_username("user1");
  lookup.mutable_read_options()->set_consistency(v1::CONSISTENCY_EVENTUAL);
  Reply* held = Send(lookup);
  replica_.WaitUntilHeld();

  Reply* by_id = Send(ById(2));
  EXPECT_TRUE(by_id->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_TRUE(by_id->status.ok()) << by_id->status.error_message();
  EXPECT_FALSE(held->done.HasBeenNotified());
  replica_.Release();
  EXPECT_TRUE(held->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_EQ(held->response.user().id(), 1u);
}

// Keeps usernames unique as the users table does, answers a batch all or
// nothing, and can hold one create until released.
class UniqueUsersWriter : public UserWriter {
 public:
  void AddExisting(const std::string& username) {
    absl::MutexLock lock(&mu_);
    taken_.insert(username);
  }
  // The next single create waits in the writer until Release().
  void HoldNextCreate() {
    absl::MutexLock lock(&mu_);
    hold_next_ = true;
  }
  void WaitUntilHeld() {
    entered_.WaitForNotificationWithTimeout(absl::Seconds(20));
  }
  void Release() {
    if (!gate_.HasBeenNotified()) gate_.Notify();
  }

  absl::StatusOr<Written<User>> CreateUser(const NewUser& user,
                                           const RequestContext&) override {
    bool hold = false;
    {
      absl::MutexLock lock(&mu_);
      hold = std::exchange(hold_next_, false);
    }
    if (hold) {
      entered_.Notify();
      gate_.WaitForNotificationWithTimeout(absl::Seconds(20));
    }
    absl::MutexLock lock(&mu_);
    single_creates_.push_back(user.username);
    if (!user.request_id.empty()) idempotent_creates_.push_back(user.username);
    if (taken_.contains(user.username)) {
      return absl::AlreadyExistsError(
          absl::StrCat("username \"", user.username, "\" is already taken"));
    }
    return Record(user, ++commits_);
  }
  absl::StatusOr<std::vector<Written<User>>> CreateUsers(
      absl::Span<const NewUser> users, const RequestContext&) override {
    absl::MutexLock lock(&mu_);
    batch_sizes_.push_back(users.size());
    absl::flat_hash_set<std::string> in_batch;
    for (const NewUser& user : users) {
      if (taken_.contains(user.username) ||
          !in_batch.insert(user.username).second) {
        return absl::AlreadyExistsError("Duplicate entry");
      }
    }
    const int commit = ++commits_;
    std::vector<Written<User>> created;
    for (const NewUser& user : users) created.push_back(Record(user, commit));
    return created;
  }
  absl::StatusOr<Written<User>> UpdateUser(const UserUpdate&,
                                           const RequestContext&) override {
    return absl::UnimplementedError("not used");
  }
  absl::StatusOr<ReplicationPosition> DeleteUser(
      uint64_t, int64_t, const RequestContext&) override {
    return absl::UnimplementedError("not used");
  }

  std::vector<size_t> batch_sizes() const {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }
  std::vector<std::string> single_creates() const {
    absl::MutexLock lock(&mu_);
    return single_creates_;
  }
  std::vector<std::string> idempotent_creates() const {
    absl::MutexLock lock(&mu_);
    return idempotent_creates_;
  }

 private:
  Written<User> Record(const NewUser& user, int commit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    taken_.insert(user.username);
    Written<User> written;
    written.value = MakeUser(taken_.size() + 100, user.username);
    written.value.email = user.email;
    written.position =
        ReplicationPosition{kFlavorMariaDb, absl::StrCat("0-1-", commit)};
    return written;
  }

  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> taken_ ABSL_GUARDED_BY(mu_);
  bool hold_next_ ABSL_GUARDED_BY(mu_) = false;
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<size_t> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> single_creates_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> idempotent_creates_ ABSL_GUARDED_BY(mu_);
  absl::Notification entered_;
  absl::Notification gate_;
};

class CreateUserBatchingTest : public ::testing::Test {
 protected:
  using Reply = AsyncReply<v1::CreateUserResponse>;

  void SetUp() override {
    ServiceOptions options;
    options.write_workers = 1;  // so that calls pile up behind a held one
    AsyncUnaryServerOptions async;
    async.threads = 1;  // so that they are queued in the order they arrive
    service_.Start(&writer_, &primary_, &replica_, options, async);
    writer_.AddExisting("taken");
  }
  void TearDown() override {
    writer_.Release();
    service_.Stop();
  }

  static v1::CreateUserRequest NewUserRequest(const std::string& username,
                                              const std::string& request_id =
                                                  "") {
    v1::CreateUserRequest request;
    request.set_username(username);
    request.set_email(absl::StrCat(username, "@example.com"));
    request.set_request_id(request_id);
    return request;
  }

  Reply* Send(const v1::CreateUserRequest& request) {
    return SendAsync(replies_, request, [this](auto... args) {
      service_.stub()->async()->CreateUser(args...);
    });
  }

  // Holds the only write worker with one create, sends `requests`
  // meanwhile, then lets everything go and waits for all.
  std::vector<Reply*> SendWhileHeld(
      const std::vector<v1::CreateUserRequest>& requests) {
    writer_.HoldNextCreate();
    return userservice::SendWhileHeld<v1::CreateUserResponse>(
        writer_, [this](const v1::CreateUserRequest& r) { return Send(r); },
        NewUserRequest("held"), requests);
  }

  UniqueUsersWriter writer_;
  FakeUserReader primary_;
  FakeUserReader replica_;
  InProcessUserService service_;
  std::vector<std::unique_ptr<Reply>> replies_;
};

TEST_F(CreateUserBatchingTest, CreatesThatArriveTogetherShareOneInsert) {
  std::vector<Reply*> replies = SendWhileHeld(
      {NewUserRequest("anne"), NewUserRequest("bobby"), NewUserRequest("cyd")});

  EXPECT_THAT(writer_.batch_sizes(), ::testing::ElementsAre(3u));
  EXPECT_THAT(writer_.single_creates(), ::testing::ElementsAre("held"));
  const std::vector<std::string> names = {"anne", "bobby", "cyd"};
  for (size_t i = 0; i < replies.size(); ++i) {
    SCOPED_TRACE(names[i]);
    ASSERT_TRUE(replies[i]->status.ok()) << replies[i]->status.error_message();
    EXPECT_EQ(replies[i]->response.user().username(), names[i]);
    EXPECT_EQ(replies[i]->response.user().email(),
              absl::StrCat(names[i], "@example.com"));
    // One commit: every caller's token names it.
    EXPECT_EQ(replies[i]->response.consistency_token(),
              replies[0]->response.consistency_token());
  }
  EXPECT_NE(replies[0]->response.user().id(), replies[1]->response.user().id());
}

TEST_F(CreateUserBatchingTest, AClashIsFoundByHalvingAndTheRestAreCreated) {
  std::vector<Reply*> replies =
      SendWhileHeld({NewUserRequest("anne"), NewUserRequest("taken"),
                     NewUserRequest("bobby"), NewUserRequest("cyd")});

  // All four fail together; of the halves, the one with "taken" fails too
  // and its two go alone, the other goes through together. (Which name
  // shares a half with "taken" depends on the order the calls arrived.)
  EXPECT_THAT(writer_.batch_sizes(), ::testing::ElementsAre(4u, 2u, 2u));
  const std::vector<std::string> singles = writer_.single_creates();
  ASSERT_EQ(singles.size(), 3u);
  EXPECT_EQ(singles[0], "held");
  EXPECT_THAT(singles, ::testing::Contains("taken"));
  EXPECT_TRUE(replies[0]->status.ok());
  EXPECT_EQ(replies[1]->status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // The lone culprit gets the single create's precise message.
  EXPECT_EQ(replies[1]->status.error_message(),
            "username \"taken\" is already taken");
  EXPECT_TRUE(replies[2]->status.ok());
  EXPECT_TRUE(replies[3]->status.ok());
  EXPECT_EQ(replies[3]->response.user().username(), "cyd");
}

TEST_F(CreateUserBatchingTest, OfTwoEqualCreatesInOneBatchExactlyOneWins) {
  std::vector<Reply*> replies =
      SendWhileHeld({NewUserRequest("dupe"), NewUserRequest("dupe")});

  // Which one wins depends on the order the calls arrived.
  EXPECT_NE(replies[0]->status.ok(), replies[1]->status.ok());
  const Reply& lost = replies[0]->status.ok() ? *replies[1] : *replies[0];
  EXPECT_EQ(lost.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(CreateUserBatchingTest, IdempotentAndInvalidCreatesDoNotJoinTheInsert) {
  v1::CreateUserRequest invalid = NewUserRequest("anne");
  invalid.set_email("not-an-email");
  std::vector<Reply*> replies = SendWhileHeld(
      {NewUserRequest("idem", "7f1c2a9e-3b4d-4c5e-8f6a-1b2c3d4e5f60"), invalid,
       NewUserRequest("bobby"), NewUserRequest("cyd")});

  EXPECT_THAT(writer_.idempotent_creates(), ::testing::ElementsAre("idem"));
  EXPECT_THAT(writer_.batch_sizes(), ::testing::ElementsAre(2u));
  EXPECT_TRUE(replies[0]->status.ok()) << replies[0]->status.error_message();
  EXPECT_EQ(replies[1]->status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(replies[2]->status.ok());
  EXPECT_TRUE(replies[3]->status.ok());
}

TEST_F(CreateUserBatchingTest, ACallWhoseCallerLeftWhileQueuedWritesNothing) {
  writer_.HoldNextCreate();
  Reply* first = Send(NewUserRequest("held"));
  writer_.WaitUntilHeld();
  Reply* gone = Send(NewUserRequest("gone"));
  Reply* kept = Send(NewUserRequest("kept"));
  absl::SleepFor(absl::Milliseconds(300));
  gone->context.TryCancel();
  ASSERT_TRUE(gone->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  // The server learns of the cancellation before the queue is served.
  absl::SleepFor(absl::Milliseconds(300));
  writer_.Release();
  ASSERT_TRUE(first->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  ASSERT_TRUE(kept->done.WaitForNotificationWithTimeout(absl::Seconds(20)));

  EXPECT_EQ(gone->status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(kept->status.ok()) << kept->status.error_message();
  EXPECT_THAT(writer_.batch_sizes(), ::testing::IsEmpty());
  EXPECT_THAT(writer_.single_creates(), ::testing::ElementsAre("held", "kept"));
}

}  // namespace
}  // namespace userservice
