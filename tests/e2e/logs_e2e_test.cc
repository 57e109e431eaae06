// The server's log, read whole after real traffic: one JSON object per line,
// an access line per call carrying the caller's request id, and nothing a
// log must never hold (emails, the database password, consistency and page
// tokens, SQL).

#include <csignal>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"

namespace userservice::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct LogLine {
  std::string raw;
  google::protobuf::Struct json;

  std::string Get(const std::string& key) const {
    auto it = json.fields().find(key);
    return it == json.fields().end() ? "" : it->second.string_value();
  }
};

// One call's expected trace in the log.
struct Call {
  std::string request_id;
  std::string method;
  std::string code;
  bool read = false;  // served by an endpoint, which the line must name
};

// The first line of `log` that contains `needle`, or "" if none: a failure
// shows the offending line, not the whole log.
std::string LineWith(const std::string& log, const std::string& needle) {
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, needle)) return std::string(line);
  }
  return "";
}

std::string ResponseRequestId(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find("x-request-id");
  return it == metadata.end()
             ? ""
             : std::string(it->second.data(), it->second.size());
}

class LogsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestCluster::Get();
    // Debug level: whatever the server can log, it logs here.
    auto server =
        E2eServer::Start({"--log-level=debug", "--access-log-sample=1"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- user_server log ----\n" << server_->process().Log();
    }
  }

  // A context carrying `request_id` (none if empty).
  std::unique_ptr<grpc::ClientContext> Context(const std::string& request_id) {
    auto context = ContextWithDeadline(absl::Seconds(10));
    if (!request_id.empty()) context->AddMetadata("x-request-id", request_id);
    return context;
  }

  // Checks the call's outcome, that the id came back, and remembers it.
  void Expect(const grpc::ClientContext& context, const grpc::Status& status,
              const std::string& request_id, const std::string& method,
              grpc::StatusCode code, bool read = false) {
    EXPECT_EQ(status.error_code(), code)
        << method << " " << request_id << ": " << status.error_message();
    EXPECT_EQ(ResponseRequestId(context), request_id) << method;
    calls_.push_back({request_id, "/userservice.v1.UserService/" + method,
                      CodeName(code), read});
  }

  std::unique_ptr<E2eServer> server_;
  std::vector<Call> calls_;
};

TEST_F(LogsE2eTest, JsonLinesWithRequestIdsAndNoSecrets) {
  // Every email of this test contains `tag`, so finding `tag` anywhere in
  // the log finds any of them.
  const std::string tag =
      absl::StrCat("lgx", absl::ToUnixMicros(absl::Now()) % 1000000000);
  const std::string name = UniqueUsername("logs_");
  const std::string email_a = tag + ".alice@leak-check.example";
  const std::string email_b = tag + ".bob@leak-check.example";
  std::vector<std::string> tokens;
  v1::UserService::Stub& users = server_->users();

  v1::CreateUserResponse created;
  {
    v1::CreateUserRequest request;
    request.set_username(name);
    request.set_email(email_a);
    request.set_request_id("idem-" + tag);
    auto context = Context("e2e-create-1");
    grpc::Status status = users.CreateUser(context.get(), request, &created);
    Expect(*context, status, "e2e-create-1", "CreateUser",
           grpc::StatusCode::OK);
    ASSERT_TRUE(status.ok());
    tokens.push_back(created.consistency_token());
  }
  {  // Same email, other username: ALREADY_EXISTS.
    v1::CreateUserRequest request;
    request.set_username(name + "_dup");
    request.set_email(email_a);
    v1::CreateUserResponse response;
    auto context = Context("e2e-dup-email");
    Expect(*context, users.CreateUser(context.get(), request, &response),
           "e2e-dup-email", "CreateUser", grpc::StatusCode::ALREADY_EXISTS);
  }
  {  // Malformed email: INVALID_ARGUMENT.
    v1::CreateUserRequest request;
    request.set_username(name + "_bad");
    request.set_email(tag + " not an email");
    v1::CreateUserResponse response;
    auto context = Context("e2e-bad-email");
    Expect(*context, users.CreateUser(context.get(), request, &response),
           "e2e-bad-email", "CreateUser", grpc::StatusCode::INVALID_ARGUMENT);
  }
  {  // Read-your-write by email, with the token: served by some endpoint.
    v1::GetUserRequest request;
    request.set_email(email_a);
    request.mutable_read_options()->set_consistency(v1::CONSISTENCY_SESSION);
    request.mutable_read_options()->set_consistency_token(tokens[0]);
    v1::GetUserResponse response;
    auto context = Context("e2e-get-by-email");
    Expect(*context, users.GetUser(context.get(), request, &response),
           "e2e-get-by-email", "GetUser", grpc::StatusCode::OK, true);
  }
  {  // Unknown email: NOT_FOUND.
    v1::GetUserRequest request;
    request.set_email(tag + ".nobody@leak-check.example");
    request.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
    v1::GetUserResponse response;
    auto context = Context("e2e-get-missing");
    Expect(*context, users.GetUser(context.get(), request, &response),
           "e2e-get-missing", "GetUser", grpc::StatusCode::NOT_FOUND, true);
  }
  {  // A malformed consistency token is refused without being echoed.
    v1::GetUserRequest request;
    request.set_id(created.user().id());
    request.mutable_read_options()->set_consistency_token("v1.bogus" + tag);
    v1::GetUserResponse response;
    auto context = Context("e2e-bad-token");
    Expect(*context, users.GetUser(context.get(), request, &response),
           "e2e-bad-token", "GetUser", grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    v1::UpdateUserRequest request;
    request.mutable_user()->set_id(created.user().id());
    request.mutable_user()->set_email(email_b);
    request.mutable_update_mask()->add_paths("email");
    v1::UpdateUserResponse response;
    auto context = Context("e2e-update");
    grpc::Status status = users.UpdateUser(context.get(), request, &response);
    Expect(*context, status, "e2e-update", "UpdateUser", grpc::StatusCode::OK);
    tokens.push_back(response.consistency_token());
  }
  {  // A second user, so a page of one has a next page.
    v1::CreateUserRequest request;
    request.set_username(name + "_2");
    request.set_email(tag + ".carol@leak-check.example");
    v1::CreateUserResponse response;
    auto context = Context("e2e-create-2");
    grpc::Status status = users.CreateUser(context.get(), request, &response);
    Expect(*context, status, "e2e-create-2", "CreateUser",
           grpc::StatusCode::OK);
    tokens.push_back(response.consistency_token());
  }
  std::string page_token;
  {
    v1::ListUsersRequest request;
    request.set_page_size(1);
    request.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
    v1::ListUsersResponse response;
    auto context = Context("e2e-list");
    Expect(*context, users.ListUsers(context.get(), request, &response),
           "e2e-list", "ListUsers", grpc::StatusCode::OK, true);
    page_token = response.next_page_token();
  }
  {
    v1::DeleteUserRequest request;
    request.set_id(created.user().id());
    v1::DeleteUserResponse response;
    auto context = Context("e2e-delete");
    grpc::Status status = users.DeleteUser(context.get(), request, &response);
    Expect(*context, status, "e2e-delete", "DeleteUser", grpc::StatusCode::OK);
    tokens.push_back(response.consistency_token());
  }
  {  // The idempotency key of a deleted user: FAILED_PRECONDITION, a
     // server-side condition the service warns about.
    v1::CreateUserRequest request;
    request.set_username(name);
    request.set_email(email_a);
    request.set_request_id("idem-" + tag);
    v1::CreateUserResponse response;
    auto context = Context("e2e-idem-deleted");
    Expect(*context, users.CreateUser(context.get(), request, &response),
           "e2e-idem-deleted", "CreateUser",
           grpc::StatusCode::FAILED_PRECONDITION);
  }
  std::string generated_id;
  {  // No x-request-id: the server makes one and returns it.
    v1::GetUserRequest request;
    request.set_id(created.user().id());
    request.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
    v1::GetUserResponse response;
    auto context = Context("");
    grpc::Status status = users.GetUser(context.get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    generated_id = ResponseRequestId(*context);
    EXPECT_EQ(generated_id.size(), 32u) << generated_id;
    EXPECT_EQ(generated_id.find_first_not_of("0123456789abcdef"),
              std::string::npos)
        << generated_id;
    calls_.push_back({generated_id, "/userservice.v1.UserService/GetUser",
                      "NOT_FOUND", true});
  }
  {  // An x-request-id that is not a valid id (here, an email) is replaced.
    v1::GetUserRequest request;
    request.set_id(created.user().id());
    v1::GetUserResponse response;
    auto context = Context(tag + ".header@leak-check.example");
    users.GetUser(context.get(), request, &response);
    const std::string replaced = ResponseRequestId(*context);
    EXPECT_EQ(replaced.size(), 32u) << replaced;
    EXPECT_NE(replaced, generated_id);
  }
  for (const std::string& token : tokens) ASSERT_FALSE(token.empty());
  ASSERT_FALSE(page_token.empty());

  ASSERT_EQ(server_->process().Stop(SIGTERM), 0);
  const std::string log = server_->process().Log();

  // Nothing secret, anywhere, whatever the line.
  const std::string password = TestCluster::Get().AppPassword();
  ASSERT_GE(password.size(), 8u);
  EXPECT_EQ(LineWith(log, tag), "") << "a test email is in the log";
  EXPECT_EQ(LineWith(log, "leak-check"), "") << "a test email domain";
  EXPECT_EQ(LineWith(log, password), "") << "the database password";
  EXPECT_EQ(LineWith(log, TestCluster::Get().admin_password()), "")
      << "the admin password";
  for (const std::string& token : tokens) {
    EXPECT_EQ(LineWith(log, token), "") << "a consistency token";
    // Its payload too, in case something decoded it.
    EXPECT_EQ(LineWith(log, token.substr(3)), "") << "a token's payload";
  }
  EXPECT_EQ(LineWith(log, page_token), "") << "a page token";
  for (const char* sql : {"SELECT ", "INSERT ", "UPDATE ", "DELETE "}) {
    EXPECT_EQ(LineWith(log, sql), "") << "SQL text";
  }

  // Every line one JSON object with time, level and message.
  std::vector<LogLine> lines;
  for (absl::string_view raw : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    LogLine line;
    line.raw = std::string(raw);
    const auto parsed =
        google::protobuf::util::JsonStringToMessage(line.raw, &line.json);
    ASSERT_TRUE(parsed.ok()) << "not a JSON object: " << line.raw;
    EXPECT_THAT(line.Get("time"),
                ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
                                        "[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z"))
        << line.raw;
    EXPECT_THAT(line.Get("level"),
                ::testing::AnyOf("debug", "info", "warning", "error"))
        << line.raw;
    EXPECT_FALSE(line.Get("message").empty()) << line.raw;
    lines.push_back(std::move(line));
  }
  ASSERT_FALSE(lines.empty());

  // One access line per call, with the caller's request id.
  for (const Call& call : calls_) {
    std::vector<const LogLine*> access;
    for (const LogLine& line : lines) {
      if (line.Get("message") == "rpc" &&
          line.Get("request_id") == call.request_id) {
        access.push_back(&line);
      }
    }
    ASSERT_EQ(access.size(), 1u) << "access lines for " << call.request_id;
    const LogLine& line = *access[0];
    EXPECT_EQ(line.Get("level"), "info") << line.raw;
    EXPECT_EQ(line.Get("method"), call.method) << line.raw;
    EXPECT_EQ(line.Get("grpc_code"), call.code) << line.raw;
    EXPECT_THAT(line.Get("peer"), HasSubstr("127.0.0.1")) << line.raw;
    ASSERT_TRUE(line.json.fields().contains("duration_ms")) << line.raw;
    EXPECT_GE(line.json.fields().at("duration_ms").number_value(), 0);
    if (call.read && call.code == "OK") {
      EXPECT_THAT(line.Get("endpoint"),
                  ::testing::AnyOf("primary", ::testing::StartsWith("replica")))
          << line.raw;
    }
  }

  // The service's own warning about a server-side failure names the call.
  bool warned = false;
  for (const LogLine& line : lines) {
    if (line.Get("message") == "call failed" &&
        line.Get("request_id") == "e2e-idem-deleted") {
      warned = true;
      EXPECT_EQ(line.Get("level"), "warning");
      EXPECT_EQ(line.Get("code"), "FAILED_PRECONDITION");
    }
  }
  EXPECT_TRUE(warned) << "no 'call failed' line with the call's request id";
}

TEST_F(LogsE2eTest, UserctlSendsAndPrintsTheRequestId) {
  const std::string name = UniqueUsername("ctlid_");
  CommandResult created =
      RunCommand({UserctlPath(), "--addr=" + server_->process().address(),
                  "--x-request-id=ctl-trace-1", "--verbose", "create",
                  "--username=" + name, "--email=" + name + "@example.com"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.err, HasSubstr("request-id: ctl-trace-1\n"));

  CommandResult missing =
      RunCommand({UserctlPath(), "--addr=" + server_->process().address(),
                  "--verbose", "get", "--username=" + name + "_none"});
  EXPECT_EQ(missing.exit_code, 15) << missing.err;  // 10 + NOT_FOUND
  EXPECT_THAT(missing.err,
              ::testing::ContainsRegex("request-id: [0-9a-f]{32}\n"));

  ASSERT_EQ(server_->process().Stop(SIGTERM), 0);
  const std::string log = server_->process().Log();
  EXPECT_THAT(log, HasSubstr("\"request_id\":\"ctl-trace-1\""));
}

TEST_F(LogsE2eTest, AccessLogOffStillReturnsRequestIds) {
  ASSERT_EQ(server_->process().Stop(SIGTERM), 0);
  auto server = E2eServer::Start({"--access-log-level=off"});
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  v1::GetUserRequest request;
  request.set_id(1);
  v1::GetUserResponse response;
  auto context = Context("quiet-call");
  server_->users().GetUser(context.get(), request, &response);
  EXPECT_EQ(ResponseRequestId(*context), "quiet-call");
  ASSERT_EQ(server_->process().Stop(SIGTERM), 0);
  EXPECT_THAT(server_->process().Log(), Not(HasSubstr("quiet-call")));
  EXPECT_THAT(server_->process().Log(), HasSubstr("\"message\":\"stopped\""));
}

}  // namespace
}  // namespace userservice::testing
