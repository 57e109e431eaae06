// The database password comes from a file that is re-read for every new
// connection: rotating the password (database and file) needs no restart.

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/process.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_cluster.h"

namespace userservice::testing {
namespace {

class SecretsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = &TestCluster::Get();
    user_ = absl::StrCat("rot", getpid() % 100000);
    password_file_ =
        absl::StrCat(::testing::TempDir(), "/", user_, "-password");
    ASSERT_TRUE(SetPassword("first-Pw-1").ok());
    const std::string account = absl::StrCat("'", user_, "'@'127.0.0.1'");
    for (const std::string& sql :
         {absl::StrCat("DROP USER IF EXISTS ", account),
          absl::StrCat("CREATE USER ", account, " IDENTIFIED BY 'first-Pw-1'"),
          absl::StrCat("GRANT ALL ON `", cluster_->db_name(), "`.* TO ",
                       account),
          absl::StrCat("GRANT SLAVE MONITOR ON *.* TO ", account)}) {
      absl::Status status = cluster_->Execute("primary", sql);
      ASSERT_TRUE(status.ok()) << sql << ": " << status;
    }
    ASSERT_TRUE(cluster_->Sync().ok());
  }

  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- user_server log ----\n" << server_->process().Log();
    }
    if (server_ != nullptr) server_->process().Stop(SIGTERM);
    cluster_->Execute("primary", absl::StrCat("DROP USER IF EXISTS '", user_,
                                              "'@'127.0.0.1'"))
        .IgnoreError();
    unlink(password_file_.c_str());
  }

  // Writes the file the way a secret volume changes: all at once.
  absl::Status SetPassword(const std::string& password) {
    return WriteFileAtomically(password_file_, password + "\n");
  }

  // Kills every session of the rotation user on every node, so the server
  // must open new ones.
  void KillSessions() {
    std::vector<std::string> nodes = {"primary"};
    for (const std::string& r : cluster_->ReplicaNodes()) nodes.push_back(r);
    for (const std::string& node : nodes) {
      absl::StatusOr<std::vector<std::vector<std::string>>> ids =
          cluster_->Query(node, absl::StrCat(
                                    "SELECT ID FROM information_schema."
                                    "PROCESSLIST WHERE USER = '",
                                    user_, "'"));
      ASSERT_TRUE(ids.ok()) << ids.status();
      for (const auto& row : *ids) {
        cluster_->Execute(node, "KILL CONNECTION " + row[0]).IgnoreError();
      }
    }
  }

  absl::StatusOr<int> Sessions(const std::string& node) {
    absl::StatusOr<std::string> n = cluster_->QueryValue(
        node, absl::StrCat("SELECT COUNT(*) FROM information_schema."
                           "PROCESSLIST WHERE USER = '",
                           user_, "'"));
    if (!n.ok()) return n.status();
    return std::stoi(*n);
  }

  // A create and a strong read of it, both on the primary.
  grpc::Status CreateAndRead() {
    const std::string name = UniqueUsername("rot");
    v1::CreateUserRequest create;
    create.set_username(name);
    create.set_email(name + "@example.com");
    v1::CreateUserResponse created;
    auto context = ContextWithDeadline(absl::Seconds(5));
    grpc::Status status =
        server_->users().CreateUser(context.get(), create, &created);
    if (!status.ok()) return status;
    v1::GetUserRequest get;
    get.set_id(created.user().id());
    get.mutable_read_options()->set_consistency(v1::CONSISTENCY_STRONG);
    v1::GetUserResponse got;
    auto read_context = ContextWithDeadline(absl::Seconds(5));
    return server_->users().GetUser(read_context.get(), get, &got);
  }

  TestCluster* cluster_ = nullptr;
  std::string user_;
  std::string password_file_;
  std::unique_ptr<E2eServer> server_;
};

TEST_F(SecretsE2eTest, RotatedPasswordFileIsUsedByNewConnections) {
  // The later flags win over the cluster's defaults.
  absl::StatusOr<std::unique_ptr<E2eServer>> started = E2eServer::Start(
      {"--db-user=" + user_, "--db-password-file=" + password_file_});
  ASSERT_TRUE(started.ok()) << started.status();
  server_ = std::move(*started);
  grpc::Status before = CreateAndRead();
  ASSERT_TRUE(before.ok()) << before.error_message();

  ASSERT_TRUE(cluster_
                  ->Execute("primary",
                            absl::StrCat("ALTER USER '", user_,
                                         "'@'127.0.0.1' IDENTIFIED BY "
                                         "'second-Pw-2'"))
                  .ok());
  ASSERT_TRUE(cluster_->Sync().ok());
  ASSERT_TRUE(SetPassword("second-Pw-2").ok());
  KillSessions();

  // The first calls may meet a killed session; new sessions must come up
  // with the new password and calls succeed from then on.
  std::string last;
  EXPECT_TRUE(WaitFor(absl::Seconds(20), [&]() {
    grpc::Status status = CreateAndRead();
    last = CodeName(status.error_code()) + " " + status.error_message();
    return status.ok();
  }, absl::Milliseconds(200))) << last;
  for (int i = 0; i < 5; ++i) {
    grpc::Status status = CreateAndRead();
    EXPECT_TRUE(status.ok()) << i << ": " << status.error_message();
  }
  absl::StatusOr<int> sessions = Sessions("primary");
  ASSERT_TRUE(sessions.ok()) << sessions.status();
  EXPECT_GT(*sessions, 0) << "no new session on the primary";
  EXPECT_THAT(server_->process().Log(),
              ::testing::Not(::testing::HasSubstr("second-Pw-2")));
}

TEST_F(SecretsE2eTest, ThereIsNoPasswordFlag) {
  CommandResult help = RunCommand({UserServerPath(), "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  EXPECT_THAT(help.out, ::testing::HasSubstr("--db-password-file"));
  EXPECT_THAT(help.out, ::testing::Not(::testing::HasSubstr("--db-password ")));
  CommandResult flag =
      RunCommand({UserServerPath(), "--db-password=secret"});
  EXPECT_NE(flag.exit_code, 0);
}

}  // namespace
}  // namespace userservice::testing
