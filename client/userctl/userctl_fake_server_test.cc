// Runs the real userctl binary against an in-process fake UserService, so
// that flags, output, stderr and exit codes are checked exactly as scripts
// will see them.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"
#include "userservice/v1/user_service.grpc.pb.h"
#include "userservice/v1/user_service.pb.h"

extern char** environ;

namespace userctl {
namespace {

namespace v1 = ::userservice::v1;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int64_t kCreateSeconds = 1700000000;  // 2023-11-14T22:13:20Z

// An in-memory UserService with the documented semantics userctl relies on:
// ids from 1, keyset page tokens (the last id as text), version checks, and
// x-served-by and a consistency token on reads. It records the last read,
// batch and update request and every page request.
class FakeUserService final : public v1::UserService::Service {
 public:
  grpc::Status CreateUser(grpc::ServerContext* context,
                          const v1::CreateUserRequest* request,
                          v1::CreateUserResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, user] : users_) {
      if (absl::EqualsIgnoreCase(user.username(), request->username())) {
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                            "username is taken");
      }
    }
    v1::User& user = users_[next_id_];
    user.set_id(next_id_++);
    user.set_username(request->username());
    user.set_email(request->email());
    user.set_version(1);
    user.mutable_create_time()->set_seconds(kCreateSeconds);
    user.mutable_create_time()->set_nanos(123456000);
    *user.mutable_update_time() = user.create_time();
    *response->mutable_user() = user;
    response->set_consistency_token(NextToken());
    return grpc::Status::OK;
  }

  grpc::Status GetUser(grpc::ServerContext* context,
                       const v1::GetUserRequest* request,
                       v1::GetUserResponse* response) override {
    context->AddInitialMetadata("x-served-by", "replica-0");
    std::lock_guard<std::mutex> lock(mu_);
    last_read_options_ = request->read_options();
    for (const auto& [id, user] : users_) {
      if ((request->has_id() && request->id() == id) ||
          (request->has_username() &&
           absl::EqualsIgnoreCase(request->username(), user.username())) ||
          (request->has_email() &&
           absl::EqualsIgnoreCase(request->email(), user.email()))) {
        *response->mutable_user() = user;
        response->set_consistency_token(ReadToken());
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such user");
  }

  grpc::Status BatchGetUsers(grpc::ServerContext* context,
                             const v1::BatchGetUsersRequest* request,
                             v1::BatchGetUsersResponse* response) override {
    context->AddInitialMetadata("x-served-by", "replica-2");
    std::lock_guard<std::mutex> lock(mu_);
    last_batch_ = *request;
    last_read_options_ = request->read_options();
    std::vector<std::string> missing;
    for (uint64_t id : request->ids()) {
      auto it = users_.find(id);
      if (it == users_.end()) {
        missing.push_back(absl::StrCat(id));
      } else {
        *response->add_users() = it->second;
      }
    }
    if (!missing.empty()) {
      response->Clear();
      return grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          absl::StrCat("no users with ids ", absl::StrJoin(missing, ", ")));
    }
    response->set_consistency_token(ReadToken());
    return grpc::Status::OK;
  }

  grpc::Status ListUsers(grpc::ServerContext* context,
                         const v1::ListUsersRequest* request,
                         v1::ListUsersResponse* response) override {
    context->AddInitialMetadata("x-served-by", "replica-1");
    std::lock_guard<std::mutex> lock(mu_);
    ++list_calls_;
    last_read_options_ = request->read_options();
    list_read_options_.push_back(request->read_options());
    if (request->page_size() > 1000) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_size must be at most 1000");
    }
    const int page_size = request->page_size() == 0 ? 50 : request->page_size();
    uint64_t after = 0;
    if (!request->page_token().empty() &&
        !absl::SimpleAtoi(request->page_token(), &after)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "malformed page_token");
    }
    for (auto it = users_.upper_bound(after); it != users_.end(); ++it) {
      if (response->users_size() == page_size) {
        response->set_next_page_token(
            absl::StrCat(response->users(page_size - 1).id()));
        break;
      }
      *response->add_users() = it->second;
    }
    response->set_consistency_token(
        absl::StrCat(ReadToken(), "-page-", list_calls_));
    return grpc::Status::OK;
  }

  grpc::Status UpdateUser(grpc::ServerContext* context,
                          const v1::UpdateUserRequest* request,
                          v1::UpdateUserResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_update_ = *request;
    auto it = users_.find(request->user().id());
    if (it == users_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such user");
    }
    v1::User& user = it->second;
    if (request->expected_version() != 0 &&
        request->expected_version() != user.version()) {
      return grpc::Status(grpc::StatusCode::ABORTED, "version mismatch");
    }
    for (const std::string& path : request->update_mask().paths()) {
      if (path == "username") user.set_username(request->user().username());
      if (path == "email") user.set_email(request->user().email());
    }
    user.set_version(user.version() + 1);
    user.mutable_update_time()->set_seconds(kCreateSeconds + 60);
    user.mutable_update_time()->set_nanos(0);
    *response->mutable_user() = user;
    response->set_consistency_token(NextToken());
    return grpc::Status::OK;
  }

  grpc::Status DeleteUser(grpc::ServerContext* context,
                          const v1::DeleteUserRequest* request,
                          v1::DeleteUserResponse* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = users_.find(request->id());
    if (it == users_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such user");
    }
    if (request->expected_version() != 0 &&
        request->expected_version() != it->second.version()) {
      return grpc::Status(grpc::StatusCode::ABORTED, "version mismatch");
    }
    users_.erase(it);
    response->set_consistency_token(NextToken());
    return grpc::Status::OK;
  }

  int list_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return list_calls_;
  }
  v1::ReadOptions last_read_options() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_read_options_;
  }
  // The read options of every ListUsers call, in order.
  std::vector<v1::ReadOptions> list_read_options() {
    std::lock_guard<std::mutex> lock(mu_);
    return list_read_options_;
  }
  v1::BatchGetUsersRequest last_batch() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_batch_;
  }
  v1::UpdateUserRequest last_update() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_update_;
  }

 private:
  std::string NextToken() { return absl::StrCat("tok-", ++writes_); }
  // A read's token covers every write so far.
  std::string ReadToken() { return absl::StrCat("read-tok-", writes_); }

  std::mutex mu_;
  std::map<uint64_t, v1::User> users_;
  uint64_t next_id_ = 1;
  int writes_ = 0;
  int list_calls_ = 0;
  v1::ReadOptions last_read_options_;
  std::vector<v1::ReadOptions> list_read_options_;
  v1::BatchGetUsersRequest last_batch_;
  v1::UpdateUserRequest last_update_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Runs userctl with `args` and `env` (USERCTL_ADDR is removed from the
// inherited environment). posix_spawn rather than fork(), which gRPC's
// threads make unsafe.
RunResult RunUserctl(const std::vector<std::string>& args,
                     const std::vector<std::string>& env = {}) {
  const std::string dir = ::testing::TempDir();
  const std::string out_path = absl::StrCat(dir, "/userctl_out_", getpid());
  const std::string err_path = absl::StrCat(dir, "/userctl_err_", getpid());

  std::vector<std::string> argv_strings = {USERCTL_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_strings = env;
  for (char** var = environ; *var != nullptr; ++var) {
    if (!absl::StartsWith(*var, "USERCTL_ADDR=")) env_strings.push_back(*var);
  }
  std::vector<char*> envp;
  for (std::string& var : env_strings) envp.push_back(var.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  const int spawn_error =
      posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  RunResult result;
  if (spawn_error != 0) {
    ADD_FAILURE() << "cannot run " << argv[0] << ": error " << spawn_error;
    return result;
  }
  int wait_status = 0;
  waitpid(pid, &wait_status, 0);
  result.exit_code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  return result;
}

template <typename Message>
Message ParseJson(const std::string& json) {
  Message message;
  const auto status =
      google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return message;
}

class UserctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    addr_flag_ = absl::StrCat("--addr=127.0.0.1:", port);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // Runs userctl against the fake server.
  RunResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), addr_flag_);
    return RunUserctl(args);
  }

  void CreateUsers(int count) {
    for (int i = 1; i <= count; ++i) {
      const RunResult result =
          Run({"create", absl::StrCat("--username=user", i),
               absl::StrCat("--email=user", i, "@example.com")});
      ASSERT_EQ(result.exit_code, 0) << result.err;
    }
  }

  FakeUserService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string addr_flag_;
};

TEST_F(UserctlTest, CreatePrintsTheResponseAsJson) {
  const RunResult result = Run({"create", "--username", "alice", "--email",
                                "alice@example.com", "--request-id=r-1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, IsEmpty());
  EXPECT_EQ(result.out,
            "{\n"
            "  \"user\": {\n"
            "    \"id\": \"1\",\n"
            "    \"username\": \"alice\",\n"
            "    \"email\": \"alice@example.com\",\n"
            "    \"version\": \"1\",\n"
            "    \"create_time\": \"2023-11-14T22:13:20.123456Z\",\n"
            "    \"update_time\": \"2023-11-14T22:13:20.123456Z\"\n"
            "  },\n"
            "  \"consistency_token\": \"tok-1\"\n"
            "}\n");
}

TEST_F(UserctlTest, CreateTableShowsUserAndToken) {
  const RunResult result = Run({"--format=table", "create", "--username=bob",
                                "--email=bob@example.com"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "ID  USERNAME  EMAIL            VERSION  CREATED               "
            "UPDATED\n"
            "1   bob       bob@example.com  1        2023-11-14T22:13:20Z  "
            "2023-11-14T22:13:20Z\n"
            "consistency_token: tok-1\n");
}

TEST_F(UserctlTest, DuplicateCreateExitsSixteen) {
  CreateUsers(1);
  const RunResult result =
      Run({"create", "--username=USER1", "--email=other@example.com"});
  EXPECT_EQ(result.exit_code, 16);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(result.err, "error: ALREADY_EXISTS: username is taken\n");
}

TEST_F(UserctlTest, GetByEachKey) {
  CreateUsers(2);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"get", "2"},
           {"get", "--username=USER2"},
           {"get", "--email", "user2@example.com"}}) {
    const RunResult result = Run(args);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto response = ParseJson<v1::GetUserResponse>(result.out);
    EXPECT_EQ(response.user().id(), 2u);
    EXPECT_EQ(response.user().username(), "user2");
  }
}

TEST_F(UserctlTest, GetSendsReadOptionsAndVerboseReportsServedBy) {
  CreateUsers(1);
  const RunResult result =
      Run({"get", "1", "--consistency=SESSION", "--token=tok-1",
           "--max-staleness=2s", "--verbose"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const v1::ReadOptions read_options = service_.last_read_options();
  EXPECT_EQ(read_options.consistency(), v1::CONSISTENCY_SESSION);
  EXPECT_EQ(read_options.consistency_token(), "tok-1");
  EXPECT_EQ(read_options.max_staleness().seconds(), 2);
  EXPECT_THAT(result.err, StartsWith("served-by: replica-0\nduration: "));
}

TEST_F(UserctlTest, GetWithoutReadFlagsSendsNoReadOptions) {
  CreateUsers(1);
  ASSERT_EQ(Run({"get", "1"}).exit_code, 0);
  EXPECT_EQ(service_.last_read_options().ByteSizeLong(), 0u);
}

TEST_F(UserctlTest, GetShowsTheReadTokenInJsonAndTable) {
  CreateUsers(1);
  RunResult result = Run({"get", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out,
              HasSubstr("  },\n  \"consistency_token\": \"read-tok-1\"\n}\n"));
  result = Run({"--format=table", "get", "--username=user1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "ID  USERNAME  EMAIL              VERSION  CREATED               "
            "UPDATED\n"
            "1   user1     user1@example.com  1        2023-11-14T22:13:20Z  "
            "2023-11-14T22:13:20Z\n"
            "consistency_token: read-tok-1\n");
}

TEST_F(UserctlTest, GetSeveralIdsIsOneBatchInRequestOrder) {
  CreateUsers(3);
  const RunResult result =
      Run({"get", "3", "1", "3", "--consistency=session", "--token=tok-1",
           "--token", "tok-2,tok-3", "--verbose"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const v1::BatchGetUsersRequest request = service_.last_batch();
  EXPECT_THAT(request.ids(), ElementsAre(3u, 1u, 3u));
  EXPECT_EQ(request.read_options().consistency(), v1::CONSISTENCY_SESSION);
  EXPECT_EQ(request.read_options().consistency_token(), "tok-1");
  EXPECT_THAT(request.read_options().consistency_tokens(),
              ElementsAre("tok-2", "tok-3"));
  EXPECT_THAT(result.err, StartsWith("served-by: replica-2\nduration: "));

  EXPECT_THAT(result.out, StartsWith("{\n  \"users\": [\n    {\n"));
  EXPECT_THAT(result.out,
              HasSubstr("  ],\n  \"consistency_token\": \"read-tok-3\"\n}\n"));
  const auto response = ParseJson<v1::BatchGetUsersResponse>(result.out);
  ASSERT_EQ(response.users_size(), 3);
  EXPECT_EQ(response.users(0).id(), 3u);
  EXPECT_EQ(response.users(1).id(), 1u);
  EXPECT_EQ(response.users(2).id(), 3u);
  EXPECT_EQ(response.consistency_token(), "read-tok-3");
}

TEST_F(UserctlTest, GetSeveralIdsTable) {
  CreateUsers(2);
  const RunResult result = Run({"--format=table", "get", "2", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "ID  USERNAME  EMAIL              VERSION  CREATED               "
            "UPDATED\n"
            "2   user2     user2@example.com  1        2023-11-14T22:13:20Z  "
            "2023-11-14T22:13:20Z\n"
            "1   user1     user1@example.com  1        2023-11-14T22:13:20Z  "
            "2023-11-14T22:13:20Z\n"
            "consistency_token: read-tok-2\n");
}

TEST_F(UserctlTest, GetSeveralIdsWithMissingOnesExitsFifteen) {
  CreateUsers(1);
  const RunResult result = Run({"get", "9", "1", "5"});
  EXPECT_EQ(result.exit_code, 15);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(result.err, "error: NOT_FOUND: no users with ids 9, 5\n");
}

TEST_F(UserctlTest, GetMissingUserExitsFifteen) {
  const RunResult result = Run({"get", "99"});
  EXPECT_EQ(result.exit_code, 15);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(result.err, "error: NOT_FOUND: no such user\n");
}

TEST_F(UserctlTest, ListFetchesAllPages) {
  CreateUsers(5);
  const RunResult result = Run({"list", "--page-size=2", "--verbose"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(service_.list_calls(), 3);
  EXPECT_THAT(result.out, StartsWith("{\n  \"users\": [\n    {\n"));
  EXPECT_THAT(result.out, Not(HasSubstr("next_page_token")));
  const auto response = ParseJson<v1::ListUsersResponse>(result.out);
  ASSERT_EQ(response.users_size(), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(response.users(i).id(), static_cast<uint64_t>(i + 1));
  }
  // One served-by and one duration line per page.
  EXPECT_THAT(result.err, StartsWith("served-by: replica-1\nduration: "));
  int served_by_lines = 0;
  for (size_t at = result.err.find("served-by: "); at != std::string::npos;
       at = result.err.find("served-by: ", at + 1)) {
    ++served_by_lines;
  }
  EXPECT_EQ(served_by_lines, 3);
}

TEST_F(UserctlTest, ListTableOfAllUsers) {
  CreateUsers(3);
  const RunResult result =
      Run({"list", "--page-size=2", "--format=table", "--consistency=strong"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(service_.last_read_options().consistency(), v1::CONSISTENCY_STRONG);
  EXPECT_EQ(result.out,
            "ID  USERNAME  EMAIL              VERSION  CREATED               "
            "UPDATED\n"
            "1   user1     user1@example.com  1        2023-11-14T22:13:20Z  "
            "2023-11-14T22:13:20Z\n"
            "2   user2     user2@example.com  1        2023-11-14T22:13:20Z  "
            "2023-11-14T22:13:20Z\n"
            "3   user3     user3@example.com  1        2023-11-14T22:13:20Z  "
            "2023-11-14T22:13:20Z\n"
            "consistency_token: read-tok-3-page-2\n");
}

// Each page's token goes with the next page, replacing the caller's tokens
// it covers; the output carries the last page's.
TEST_F(UserctlTest, ListPassesEachPageTokenToTheNextPage) {
  CreateUsers(5);
  const RunResult result = Run({"list", "--page-size=2", "--token=tok-1,tok-2",
                                "--consistency=session"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<v1::ReadOptions> pages = service_.list_read_options();
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0].consistency_token(), "tok-1");
  EXPECT_THAT(pages[0].consistency_tokens(), ElementsAre("tok-2"));
  EXPECT_EQ(pages[1].consistency_token(), "read-tok-5-page-1");
  EXPECT_THAT(pages[1].consistency_tokens(), IsEmpty());
  EXPECT_EQ(pages[2].consistency_token(), "read-tok-5-page-2");
  for (const v1::ReadOptions& page : pages) {
    EXPECT_EQ(page.consistency(), v1::CONSISTENCY_SESSION);
  }
  EXPECT_THAT(
      result.out,
      HasSubstr("  ],\n  \"consistency_token\": \"read-tok-5-page-3\"\n}\n"));
}

// A token would turn the later pages into session reads.
TEST_F(UserctlTest, ListWithoutReadFlagsKeepsTheServerDefaultOnEveryPage) {
  CreateUsers(3);
  const RunResult result = Run({"list", "--page-size=2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<v1::ReadOptions> pages = service_.list_read_options();
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(pages[1].ByteSizeLong(), 0u);
  const auto response = ParseJson<v1::ListUsersResponse>(result.out);
  EXPECT_EQ(response.consistency_token(), "read-tok-3-page-2");
}

TEST_F(UserctlTest, EmptyList) {
  RunResult result = Run({"list"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "{\n  \"users\": [],\n  \"consistency_token\": "
            "\"read-tok-0-page-1\"\n}\n");
  result = Run({"list", "--format=table"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "ID  USERNAME  EMAIL  VERSION  CREATED  UPDATED\n(no users)\n"
            "consistency_token: read-tok-0-page-2\n");
}

TEST_F(UserctlTest, ListOnePage) {
  CreateUsers(3);
  RunResult result = Run({"list", "--page-size=2", "--all=false"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(service_.list_calls(), 1);
  auto page = ParseJson<v1::ListUsersResponse>(result.out);
  EXPECT_EQ(page.users_size(), 2);
  EXPECT_EQ(page.next_page_token(), "2");

  result = Run({"list", "--page-size", "2", "--page-token", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(service_.list_calls(), 2);
  page = ParseJson<v1::ListUsersResponse>(result.out);
  ASSERT_EQ(page.users_size(), 1);
  EXPECT_EQ(page.users(0).id(), 3u);
  EXPECT_THAT(result.out, HasSubstr("\"next_page_token\": \"\""));

  EXPECT_EQ(page.consistency_token(), "read-tok-3-page-2");

  result = Run({"list", "--page-size=1", "--noall", "--format=table"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\nnext_page_token: 1\n"
                                    "consistency_token: read-tok-3-page-3\n"));
}

// Scripts written for Abseil's underscore names keep working.
TEST_F(UserctlTest, UnderscoredFlagNamesStillWork) {
  CreateUsers(3);
  const RunResult result =
      Run({"list", "--page_size=2", "--page_token", "1", "--max_staleness=1s"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto page = ParseJson<v1::ListUsersResponse>(result.out);
  ASSERT_EQ(page.users_size(), 2);
  EXPECT_EQ(page.users(0).id(), 2u);
}

TEST_F(UserctlTest, ServerInvalidArgumentExitsThirteen) {
  const RunResult result = Run({"list", "--page-size=5000"});
  EXPECT_EQ(result.exit_code, 13);
  EXPECT_EQ(result.err,
            "error: INVALID_ARGUMENT: page_size must be at most 1000\n");
}

TEST_F(UserctlTest, UpdateSendsOnlyTheGivenFields) {
  CreateUsers(1);
  const RunResult result =
      Run({"update", "1", "--email=new@example.com", "--expected-version=1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const v1::UpdateUserRequest request = service_.last_update();
  EXPECT_THAT(request.update_mask().paths(), ElementsAre("email"));
  EXPECT_EQ(request.expected_version(), 1);
  const auto response = ParseJson<v1::UpdateUserResponse>(result.out);
  EXPECT_EQ(response.user().username(), "user1");
  EXPECT_EQ(response.user().email(), "new@example.com");
  EXPECT_EQ(response.user().version(), 2);
  EXPECT_EQ(response.consistency_token(), "tok-2");
}

TEST_F(UserctlTest, UpdateWithStaleVersionExitsTwenty) {
  CreateUsers(1);
  const RunResult result =
      Run({"update", "1", "--username=x1", "--expected-version=7"});
  EXPECT_EQ(result.exit_code, 20);
  EXPECT_EQ(result.err, "error: ABORTED: version mismatch\n");
}

TEST_F(UserctlTest, DeletePrintsTokenThenNotFound) {
  CreateUsers(1);
  RunResult result = Run({"delete", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "{\n  \"consistency_token\": \"tok-2\"\n}\n");

  result = Run({"delete", "1", "--format=table"});
  EXPECT_EQ(result.exit_code, 15);
  EXPECT_EQ(result.err, "error: NOT_FOUND: no such user\n");
}

TEST_F(UserctlTest, DeleteTable) {
  CreateUsers(1);
  const RunResult result = Run({"--format=table", "delete", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "consistency_token: tok-2\n");
}

TEST_F(UserctlTest, AddrComesFromTheEnvironment) {
  CreateUsers(1);
  const std::string addr = addr_flag_.substr(std::string("--addr=").size());
  const RunResult result =
      RunUserctl({"get", "1"}, {absl::StrCat("USERCTL_ADDR=", addr)});
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST(UserctlNoServerTest, ClosedPortExitsTwentyFour) {
  // Bind a port, then stop listening on it.
  int port = 0;
  {
    FakeUserService service;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    server->Shutdown();
  }
  const RunResult result =
      RunUserctl({absl::StrCat("--addr=127.0.0.1:", port), "get", "1"});
  EXPECT_EQ(result.exit_code, 24);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, StartsWith("error: UNAVAILABLE: "));
}

TEST(UserctlUsageTest, UsageErrorsExitTwoWithAMessage) {
  const std::vector<std::vector<std::string>> cases = {
      {"get", "abc"},
      {"get", "0"},
      {"get"},
      {"get", "1", "--username=a"},
      {"get", "1", "2", "x"},
      {"get", "--username=a", "--email=b"},
      {"--bogus", "list"},
      {"list", "--page-sise=2"},
      {"list", "--page-size"},
      {"list", "--timeout=soon"},
      {"list", "--consistency=linearizable"},
      {"list", "--format=yaml"},
      {"update", "1"},
      {"delete"},
      {"create", "--username=a"},
      {"frobnicate"},
  };
  for (const std::vector<std::string>& args : cases) {
    const RunResult result = RunUserctl(args);
    EXPECT_EQ(result.exit_code, 2) << absl::StrJoin(args, " ");
    EXPECT_THAT(result.out, IsEmpty());
    EXPECT_THAT(result.err, StartsWith("error: "));
  }
}

TEST(UserctlUsageTest, UnknownFlagIsNamedDashedAndExitsTwo) {
  const RunResult result = RunUserctl({"list", "--bogus_flag=1"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(result.err,
            "error: unknown flag --bogus-flag\n"
            "Run 'userctl help' for usage.\n");
}

TEST(UserctlUsageTest, NoCommandPrintsUsageToStderrAndExitsTwo) {
  const RunResult result = RunUserctl({});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, HasSubstr("Exit codes:"));
}

TEST(UserctlUsageTest, HelpPrintsUsageAndExitsZero) {
  for (const char* help : {"help", "--help", "-h"}) {
    const RunResult result = RunUserctl({help});
    EXPECT_EQ(result.exit_code, 0) << help;
    EXPECT_THAT(result.out, HasSubstr("Usage: userctl [flags] COMMAND"));
    EXPECT_THAT(result.out, HasSubstr("10+CODE"));
    EXPECT_THAT(result.out, HasSubstr("\n  --max-staleness\n"));
    EXPECT_THAT(result.out, HasSubstr("\n  --token\n"));
    EXPECT_THAT(result.err, IsEmpty());
  }
}

}  // namespace
}  // namespace userctl
