// The real user_server binary against the real MariaDB primary + replicas,
// called through the generated stubs and through `buf curl` reflection.

#include <csignal>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"

namespace userservice::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST_F(ServerE2eTest, EventualReadsRoundRobinAcrossEveryReplica) {
  const std::vector<std::string> replicas = TestCluster::Get().ReplicaNodes();
  ASSERT_GE(replicas.size(), 2u);
  v1::CreateUserResponse created = CreateOrDie(UniqueName("rr_"));
  ASSERT_TRUE(TestCluster::Get().Sync().ok());
  std::vector<std::string> served;
  for (size_t i = 0; i < 2 * replicas.size(); ++i) {
    v1::GetUserResponse response;
    std::string served_by;
    grpc::Status status = Get(created.user().id(), v1::CONSISTENCY_EVENTUAL, "",
                              &response, &served_by);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.user().id(), created.user().id());
    served.push_back(served_by);
  }
  EXPECT_EQ(std::set<std::string>(served.begin(), served.end()),
            std::set<std::string>(replicas.begin(), replicas.end()));
  // Round-robin: any N consecutive reads are served by N distinct replicas.
  for (size_t i = 0; i + replicas.size() <= served.size(); ++i) {
    const std::set<std::string> window(served.begin() + i,
                                       served.begin() + i + replicas.size());
    EXPECT_EQ(window.size(), replicas.size())
        << "round-robin must visit every replica before repeating one; "
           "reads "
        << i << ".." << i + replicas.size() - 1 << " of "
        << absl::StrJoin(served, ",");
  }
}

TEST_F(ServerE2eTest, UnspecifiedConsistencyUsesTheEventualDefault) {
  v1::CreateUserResponse created = CreateOrDie(UniqueName("def_"));
  ASSERT_TRUE(TestCluster::Get().Sync().ok());
  v1::GetUserResponse response;
  std::string served_by;
  ASSERT_TRUE(Get(created.user().id(), v1::CONSISTENCY_UNSPECIFIED, "",
                  &response, &served_by)
                  .ok());
  EXPECT_THAT(served_by, StartsWith("replica-"));
}

TEST_F(ServerE2eTest, StrongReadsUseThePrimaryBoundedReadsAFreshReplica) {
  v1::CreateUserResponse created = CreateOrDie(UniqueName("strong_"));
  v1::GetUserResponse response;
  std::string served_by;
  grpc::Status status = Get(created.user().id(), v1::CONSISTENCY_STRONG, "",
                            &response, &served_by);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(served_by, "primary");
  EXPECT_EQ(response.user().username(), created.user().username());

  // Replicas in sync are within a 5 s bound once their lag is measured
  // (until then, the primary serves bounded reads).
  ASSERT_TRUE(TestCluster::Get().Sync().ok());
  v1::GetUserRequest request;
  request.set_id(created.user().id());
  request.mutable_read_options()->set_consistency(
      v1::CONSISTENCY_BOUNDED_STALENESS);
  request.mutable_read_options()->mutable_max_staleness()->set_seconds(5);
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  do {
    auto context = Context();
    status = stub_->GetUser(context.get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.user().id(), created.user().id());
    served_by = ServedBy(*context);
    EXPECT_THAT(served_by, AnyOf("primary", StartsWith("replica-")));
    if (!absl::StartsWith(served_by, "replica-")) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  } while (!absl::StartsWith(served_by, "replica-") && absl::Now() < give_up);
  EXPECT_THAT(served_by, StartsWith("replica-"));

  // max_staleness is required and positive.
  request.mutable_read_options()->clear_max_staleness();
  auto context = Context();
  status = stub_->GetUser(context.get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("max_staleness"));
  request.mutable_read_options()->mutable_max_staleness()->set_seconds(-1);
  context = Context();
  status = stub_->GetUser(context.get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("max_staleness"));
}

TEST_F(ServerE2eTest, ReadYourWritesWhileEveryReplicaIsStopped) {
  TestCluster& cluster = TestCluster::Get();
  ASSERT_TRUE(cluster.StopReplicationSql().ok());
  absl::Cleanup restart = [&] {
    EXPECT_TRUE(cluster.StartReplicationSql().ok());
  };

  v1::CreateUserResponse created = CreateOrDie(UniqueName("ryw_"));
  ASSERT_FALSE(created.consistency_token().empty());

  // The lag is real: an eventual read on a replica does not see the row.
  v1::GetUserResponse response;
  std::string served_by;
  grpc::Status status = Get(created.user().id(), v1::CONSISTENCY_EVENTUAL, "",
                            &response, &served_by);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  // With the token the caller sees its write, from the primary.
  for (int i = 0; i < 4; ++i) {
    status = Get(created.user().id(), v1::CONSISTENCY_SESSION,
                 created.consistency_token(), &response, &served_by);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.user().id(), created.user().id());
    EXPECT_EQ(served_by, "primary");
  }

  // An update's token likewise shows the new version.
  v1::UpdateUserRequest update;
  update.mutable_user()->set_id(created.user().id());
  update.mutable_user()->set_email(created.user().username() + "@new.example");
  update.mutable_update_mask()->add_paths("email");
  v1::UpdateUserResponse updated;
  auto context = Context();
  ASSERT_TRUE(stub_->UpdateUser(context.get(), update, &updated).ok());
  status = Get(created.user().id(), v1::CONSISTENCY_UNSPECIFIED,
               updated.consistency_token(), &response, &served_by);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.user().version(), 2);
  EXPECT_EQ(response.user().email(),
            created.user().username() + "@new.example");
}

TEST_F(ServerE2eTest, SessionReadIsServedByAReplicaOnceItCaughtUp) {
  v1::CreateUserResponse created = CreateOrDie(UniqueName("sess_"));
  v1::GetUserResponse response;
  std::string served_by;
  grpc::Status status = Get(created.user().id(), v1::CONSISTENCY_SESSION,
                            created.consistency_token(), &response, &served_by);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(served_by, StartsWith("replica-"));
}

TEST_F(ServerE2eTest, KilledReplicaDoesNotFailReads) {
  TestCluster& cluster = TestCluster::Get();
  v1::CreateUserResponse created = CreateOrDie(UniqueName("kill_"));
  ASSERT_TRUE(cluster.Sync().ok());
  ASSERT_TRUE(cluster.Kill("replica-0").ok());
  absl::Cleanup restart = [&] {
    EXPECT_TRUE(cluster.StartNode("replica-0").ok());
    EXPECT_TRUE(cluster.Sync().ok());
  };
  std::set<std::string> served;
  for (int i = 0; i < 20; ++i) {
    v1::GetUserResponse response;
    std::string served_by;
    grpc::Status status = Get(created.user().id(), v1::CONSISTENCY_EVENTUAL, "",
                              &response, &served_by);
    ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
    served.insert(served_by);
  }
  EXPECT_EQ(served.count("replica-0"), 0u);
  // Every other replica keeps serving.
  for (const std::string& replica : cluster.ReplicaNodes()) {
    if (replica == "replica-0") continue;
    EXPECT_EQ(served.count(replica), 1u) << replica;
  }
}

TEST_F(ServerE2eTest, ReplicaRestartIsUsedAgainWithoutServerRestart) {
  TestCluster& cluster = TestCluster::Get();
  v1::CreateUserResponse created = CreateOrDie(UniqueName("back_"));
  ASSERT_TRUE(cluster.Sync().ok());
  ASSERT_TRUE(cluster.Kill("replica-1").ok());
  absl::Cleanup restart = [&] {
    // Only if the test failed before restarting it itself.
    if (!cluster.QueryValue("replica-1", "SELECT 1").ok()) {
      EXPECT_TRUE(cluster.StartNode("replica-1").ok());
    }
  };
  v1::GetUserResponse response;
  std::string served_by;
  ASSERT_TRUE(Get(created.user().id(), v1::CONSISTENCY_EVENTUAL, "", &response,
                  &served_by)
                  .ok());
  ASSERT_TRUE(cluster.StartNode("replica-1").ok());
  ASSERT_TRUE(cluster.Sync().ok());
  // The restarted replica may have to pass health checks before it is back
  // in rotation: read until every replica served, within a bounded time.
  const std::vector<std::string> replicas = cluster.ReplicaNodes();
  const std::set<std::string> all(replicas.begin(), replicas.end());
  std::set<std::string> served;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (served != all && absl::Now() < give_up) {
    grpc::Status status = Get(created.user().id(), v1::CONSISTENCY_EVENTUAL, "",
                              &response, &served_by);
    ASSERT_TRUE(status.ok()) << status.error_message();
    served.insert(served_by);
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(served, all);
}

TEST_F(ServerE2eTest, StoppedPrimaryFailsWritesFastAndRecoversAfterRestart) {
  TestCluster& cluster = TestCluster::Get();
  v1::CreateUserResponse existing = CreateOrDie(UniqueName("pk_"));
  ASSERT_TRUE(cluster.Sync().ok());
  ASSERT_TRUE(cluster.Kill("primary").ok());
  absl::Cleanup restart = [&] {
    // Only if the test failed before restarting it itself.
    if (!cluster.QueryValue("primary", "SELECT 1").ok()) {
      EXPECT_TRUE(cluster.StartNode("primary").ok());
    }
  };

  for (int i = 0; i < 3; ++i) {
    v1::CreateUserRequest request;
    request.set_username(UniqueName("down_"));
    request.set_email(request.username() + "@example.com");
    v1::CreateUserResponse response;
    auto context = Context(absl::Seconds(10));
    const absl::Time start = absl::Now();
    grpc::Status status = stub_->CreateUser(context.get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << status.error_message();
    // No successor: the write hold (2 s) passes first.
    EXPECT_LT(absl::Now() - start, absl::Seconds(3));
    EXPECT_THAT(status.error_message(), Not(HasSubstr("INSERT")));
  }
  // Reads keep working from the replicas.
  v1::GetUserResponse read;
  std::string served_by;
  grpc::Status status = Get(existing.user().id(), v1::CONSISTENCY_EVENTUAL, "",
                            &read, &served_by);
  EXPECT_TRUE(status.ok()) << status.error_message();

  ASSERT_TRUE(cluster.StartNode("primary").ok());
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  grpc::Status write;
  int attempts = 0;
  do {
    v1::CreateUserRequest request;
    request.set_username(UniqueName("up_"));
    request.set_email(request.username() + "@example.com");
    v1::CreateUserResponse response;
    auto context = Context();
    write = stub_->CreateUser(context.get(), request, &response);
    ++attempts;
    if (!write.ok()) absl::SleepFor(absl::Milliseconds(200));
  } while (!write.ok() && absl::Now() < give_up);
  EXPECT_TRUE(write.ok()) << write.error_message() << " after " << attempts;
  ASSERT_TRUE(cluster.Sync().ok());
}

TEST_F(ServerE2eTest, BadRequestsAreInvalidArgumentNamingTheField) {
  struct Case {
    std::string username, email, field;
  };
  for (const Case& c :
       std::vector<Case>{{"ab", "a@b.c", "username"},
                         {"bad name", "a@b.c", "username"},
                         {"good_name", "no-at-sign", "email"},
                         {"good_name", "two@@x", "email"},
                         {"good_name", "sp ace@x.y", "email"}}) {
    v1::CreateUserRequest request;
    request.set_username(c.username);
    request.set_email(c.email);
    v1::CreateUserResponse response;
    auto context = Context();
    grpc::Status status = stub_->CreateUser(context.get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.username << " " << c.email;
    EXPECT_THAT(status.error_message(), StartsWith(c.field));
  }
  v1::GetUserRequest get;
  v1::GetUserResponse got;
  auto context = Context();
  EXPECT_EQ(stub_->GetUser(context.get(), get, &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListUsersRequest list;
  list.set_page_token("not-a-token");
  v1::ListUsersResponse listed;
  context = Context();
  grpc::Status status = stub_->ListUsers(context.get(), list, &listed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("page_token"));
}

TEST_F(ServerE2eTest, WriteErrorsMapToPreciseCodes) {
  v1::CreateUserResponse created = CreateOrDie(UniqueName("codes_"));
  v1::CreateUserRequest duplicate;
  duplicate.set_username(created.user().username());
  duplicate.set_email("someone-else@example.com");
  v1::CreateUserResponse response;
  auto context = Context();
  EXPECT_EQ(stub_->CreateUser(context.get(), duplicate, &response).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  v1::DeleteUserRequest stale;
  stale.set_id(created.user().id());
  stale.set_expected_version(5);
  v1::DeleteUserResponse deleted;
  context = Context();
  EXPECT_EQ(stub_->DeleteUser(context.get(), stale, &deleted).error_code(),
            grpc::StatusCode::ABORTED);

  v1::GetUserResponse read;
  std::string served_by;
  EXPECT_EQ(Get(4000000000ull, v1::CONSISTENCY_STRONG, "", &read, &served_by)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerE2eTest, ConcurrentCreatesEachGetTheirOwnAnswer) {
  // Creates in flight together share inserts; each caller must still get
  // exactly what it would have got alone.
  const std::string existing = CreateOrDie(UniqueName("held_")).user().username();
  struct Create {
    v1::CreateUserRequest request;
    grpc::ClientContext context;
    v1::CreateUserResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Create>> creates;
  auto add = [&](const std::string& username, const std::string& email) {
    creates.push_back(std::make_unique<Create>());
    creates.back()->request.set_username(username);
    creates.back()->request.set_email(email);
    creates.back()->context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  };
  const int kUnique = 40, kPairs = 8, kClashes = 4;
  for (int i = 0; i < kUnique; ++i) {
    const std::string name = UniqueName("burst_");
    add(name, name + "@example.com");
  }
  for (int i = 0; i < kPairs; ++i) {
    const std::string name = UniqueName("pair_");
    add(name, name + "@example.com");
    add(absl::AsciiStrToUpper(name), name + ".other@example.com");
  }
  for (int i = 0; i < kClashes; ++i) {
    add(existing, UniqueName("clash_") + "@example.com");
  }
  absl::BlockingCounter done(static_cast<int>(creates.size()));
  for (auto& create : creates) {
    Create* c = create.get();
    stub_->async()->CreateUser(&c->context, &c->request, &c->response,
                               [c, &done](grpc::Status status) {
                                 c->status = std::move(status);
                                 done.DecrementCount();
                               });
  }
  done.Wait();

  std::set<uint64_t> ids;
  std::set<std::string> tokens;
  auto expect_created = [&](const Create& c) {
    EXPECT_EQ(c.response.user().username(), c.request.username());
    EXPECT_EQ(c.response.user().email(), c.request.email());
    EXPECT_TRUE(ids.insert(c.response.user().id()).second);
    tokens.insert(c.response.consistency_token());
    // The token covers this very user: a session read through a replica
    // finds it.
    v1::GetUserResponse read;
    std::string served_by;
    grpc::Status status = Get(c.response.user().id(), v1::CONSISTENCY_SESSION,
                              c.response.consistency_token(), &read, &served_by);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(read.user().email(), c.request.email());
  };
  for (int i = 0; i < kUnique; ++i) {
    const Create& c = *creates[i];
    ASSERT_TRUE(c.status.ok()) << c.request.username() << ": "
                               << c.status.error_message();
    expect_created(c);
  }
  for (int i = 0; i < kPairs; ++i) {
    const Create& a = *creates[kUnique + 2 * i];
    const Create& b = *creates[kUnique + 2 * i + 1];
    SCOPED_TRACE(a.request.username());
    EXPECT_NE(a.status.ok(), b.status.ok())
        << a.status.error_message() << " / " << b.status.error_message();
    const Create& lost = a.status.ok() ? b : a;
    EXPECT_EQ(lost.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
    EXPECT_THAT(lost.status.error_message(), HasSubstr("is already taken"));
    expect_created(a.status.ok() ? a : b);
  }
  for (int i = 0; i < kClashes; ++i) {
    const Create& c = *creates[kUnique + 2 * kPairs + i];
    EXPECT_EQ(c.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
    EXPECT_EQ(c.status.error_message(),
              absl::StrCat("username \"", existing,
                           "\" is already taken (usernames are compared "
                           "case-insensitively)"));
  }
  std::cout << "concurrent creates: " << ids.size() << " users, "
            << tokens.size() << " distinct commits\n";
}

TEST_F(ServerE2eTest, IdempotentCreateOverTheWire) {
  v1::CreateUserRequest request;
  request.set_username(UniqueName("idem_"));
  request.set_email(request.username() + "@example.com");
  request.set_request_id(UniqueName("req-"));
  v1::CreateUserResponse first, second;
  auto context = Context();
  ASSERT_TRUE(stub_->CreateUser(context.get(), request, &first).ok());
  context = Context();
  ASSERT_TRUE(stub_->CreateUser(context.get(), request, &second).ok());
  EXPECT_EQ(first.user().id(), second.user().id());
  EXPECT_FALSE(second.consistency_token().empty());
}

TEST_F(ServerE2eTest, ListUsersPagesThroughEveryUserInIdOrder) {
  std::set<uint64_t> mine;
  for (int i = 0; i < 7; ++i)
    mine.insert(CreateOrDie(UniqueName("page_")).user().id());
  v1::ListUsersRequest request;
  request.set_page_size(3);
  request.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
  std::vector<uint64_t> seen;
  int pages = 0;
  do {
    v1::ListUsersResponse response;
    auto context = Context();
    grpc::Status status = stub_->ListUsers(context.get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_LE(response.users_size(), 3);
    for (const v1::User& user : response.users()) seen.push_back(user.id());
    request.set_page_token(response.next_page_token());
    ASSERT_LT(++pages, 10000);
  } while (!request.page_token().empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<uint64_t>(seen.begin(), seen.end()).size(), seen.size());
  for (uint64_t id : mine) {
    EXPECT_NE(std::find(seen.begin(), seen.end(), id), seen.end()) << id;
  }
}

TEST_F(ServerE2eTest, ReflectionListsServicesThroughBufCurl) {
  CommandResult result = RunCommand(
      {BufPath(), "curl", "--protocol", "grpc", "--http2-prior-knowledge",
       "--list-services", "http://" + server_->address()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("userservice.v1.UserService"));
  EXPECT_THAT(result.out, HasSubstr("grpc.health.v1.Health"));

  result = RunCommand({BufPath(), "curl", "--protocol", "grpc",
                       "--http2-prior-knowledge", "--list-methods",
                       "http://" + server_->address()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("userservice.v1.UserService/ListUsers"));
}

TEST_F(ServerE2eTest, HealthReportsServingForTheService) {
  CommandResult result = RunCommand(
      {BufPath(), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "-d",
       R"({"service":"userservice.v1.UserService"})",
       "http://" + server_->address() + "/grpc.health.v1.Health/Check"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("SERVING"));
  EXPECT_THAT(result.out, Not(HasSubstr("NOT_SERVING")));
}

TEST_F(ServerE2eTest, ReflectionClientCanCallTheService) {
  v1::CreateUserResponse created = CreateOrDie(UniqueName("curl_"));
  CommandResult result = RunCommand(
      {BufPath(), "curl", "--protocol", "grpc", "--http2-prior-knowledge", "-d",
       absl::StrCat(
           R"({"id":")", created.user().id(),
           R"(","read_options":{"consistency":"CONSISTENCY_STRONG"}})"),
       "http://" + server_->address() + "/userservice.v1.UserService/GetUser"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr(created.user().username()));
}

// Each test here starts its own server: they are about the process itself.
class ServerProcessTest : public ::testing::Test {};

TEST_F(ServerProcessTest, SigtermDrainsAndExitsZero) {
  auto server = ServerProcess::Start(ClusterServerArgs());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->Stop(SIGTERM), 0) << (*server)->Log();
  EXPECT_THAT((*server)->Log(), HasSubstr("\"message\":\"stopped\""));
}

TEST_F(ServerProcessTest, ConfigurationFromEnvironmentVariables) {
  TestCluster& cluster = TestCluster::Get();
  const int port = FreePort();
  // Runs --migrate-only entirely from the environment.
  CommandResult result =
      RunCommand({UserServerPath(), "--migrate-only"}, absl::Seconds(60),
                 {"USER_SERVICE_PRIMARY=" + cluster.primary(),
                  "USER_SERVICE_DB_PASSWORD_FILE=" + cluster.password_file(),
                  absl::StrCat("USER_SERVICE_LISTEN=127.0.0.1:", port)});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("schema is up to date"));
}

TEST_F(ServerProcessTest, BadConfigurationFailsAtStartWithAClearMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  TestCluster& cluster = TestCluster::Get();
  for (const Case& c : std::vector<Case>{
           {{}, "--primary"},
           {{"--primary=" + cluster.primary(), "--replicas=nohostport"},
            "expected HOST:PORT"},
           {{"--primary=" + cluster.primary(), "--pool-size=0"}, "--pool-size"},
           {{"--primary=" + cluster.primary(), "--write-workers=0"},
            "--write-workers"},
           {{"--primary=" + cluster.primary(), "--max-connection-age=-1s"},
            "--max-connection-age"},
           {{"--primary=" + cluster.primary(), "--default-consistency=fast"},
            "--default-consistency"},
           {{"--primary=" + cluster.primary(),
             "--db-password-file=/nonexistent/password"},
            "--db-password-file"},
           {{"--primary=" + cluster.primary(), "--pool-sise=4"},
            "unknown flag --pool-sise"},
           {{"--primary=" + cluster.primary(), "--pool-size=four"},
            "want an integer"},
           {{"--primary=" + cluster.primary(), "stray"},
            "unexpected argument"}}) {
    std::vector<std::string> argv = {UserServerPath()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    CommandResult result = RunCommand(argv, absl::Seconds(30));
    // 2: a usage or configuration error, whatever its kind.
    EXPECT_EQ(result.exit_code, 2) << c.message << ": " << result.err;
    EXPECT_THAT(result.err, HasSubstr(c.message));
  }
}

TEST_F(ServerProcessTest, WrongDatabasePasswordFailsStartupWithoutLeakingIt) {
  const std::string path = ::testing::TempDir() + "/wrong-password";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("hunter2-wrong", f);
  std::fclose(f);
  TestCluster& cluster = TestCluster::Get();
  CommandResult result =
      RunCommand({UserServerPath(), "--primary=" + cluster.primary(),
                  "--db-password-file=" + path, "--migrate-timeout=1s"},
                 absl::Seconds(30));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_THAT(result.err, HasSubstr("credentials"));
  EXPECT_THAT(result.err, Not(HasSubstr("hunter2")));
}

TEST_F(ServerProcessTest, HelpListsEveryFlagWithItsEnvironmentVariable) {
  CommandResult result = RunCommand({UserServerPath(), "--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* flag : {"--listen", "--primary", "--replicas", "--db-name",
                           "--db-user", "--db-password-file"}) {
    EXPECT_THAT(result.out, HasSubstr(flag));
  }
  EXPECT_THAT(result.out, HasSubstr("USER_SERVICE_DB_PASSWORD_FILE"));
}

}  // namespace
}  // namespace userservice::testing
