// userctl, the command-line client, against the real server and cluster:
// what a new user types first, and what scripts rely on (JSON, exit codes).

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"

namespace userservice::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

class UserctlE2eTest : public ServerE2eTest {
 protected:
  CommandResult Userctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {UserctlPath(),
                                     "--addr=" + server_->address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, absl::Seconds(60));
  }
};

TEST_F(UserctlE2eTest, CreateThenListShowsTheUser) {
  const std::string name = UniqueName("ctl_");
  CommandResult created = Userctl(
      {"create", "--username=" + name, "--email=" + name + "@example.com"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr("\"username\": \"" + name + "\""));
  EXPECT_THAT(created.out, HasSubstr("consistency_token"));
  const std::string id = UserctlId(created.out);
  ASSERT_FALSE(id.empty()) << created.out;

  CommandResult listed = Userctl({"--consistency=strong", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(name));
  EXPECT_THAT(listed.out, HasSubstr(name + "@example.com"));

  CommandResult table =
      Userctl({"--consistency=strong", "--format=table", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("USERNAME"));
  EXPECT_THAT(table.out, HasSubstr("EMAIL"));
  EXPECT_THAT(table.out, HasSubstr(name + "@example.com"));
}

TEST_F(UserctlE2eTest, GetByIdUsernameAndEmailWithConsistencyFlags) {
  const std::string name = UniqueName("ctlget_");
  CommandResult created = Userctl(
      {"create", "--username=" + name, "--email=" + name + "@example.com"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = UserctlId(created.out);

  CommandResult by_id =
      Userctl({"--consistency=strong", "--verbose", "get", id});
  ASSERT_EQ(by_id.exit_code, 0) << by_id.err;
  EXPECT_THAT(by_id.out, HasSubstr(name));
  EXPECT_THAT(by_id.err, HasSubstr("served-by: primary"));

  CommandResult by_name =
      Userctl({"--consistency=strong", "get", "--username=" + name});
  ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_EQ(UserctlId(by_name.out), id);

  CommandResult by_email = Userctl(
      {"--consistency=strong", "get", "--email=" + name + "@example.com"});
  ASSERT_EQ(by_email.exit_code, 0) << by_email.err;
  EXPECT_EQ(UserctlId(by_email.out), id);
}

TEST_F(UserctlE2eTest, UpdateAndDeleteThenGetFailsWithNotFoundExitCode) {
  const std::string name = UniqueName("ctlupd_");
  CommandResult created = Userctl(
      {"create", "--username=" + name, "--email=" + name + "@example.com"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = UserctlId(created.out);

  CommandResult updated =
      Userctl({"update", id, "--email=" + name + "@new.example",
               "--expected-version=1"});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_THAT(updated.out, HasSubstr(name + "@new.example"));
  EXPECT_THAT(updated.out, AnyOf(HasSubstr("\"version\": \"2\""),
                                 HasSubstr("\"version\": 2")));

  CommandResult stale = Userctl(
      {"update", id, "--email=" + name + "@x.example", "--expected-version=1"});
  EXPECT_EQ(stale.exit_code, 10 + static_cast<int>(grpc::StatusCode::ABORTED))
      << stale.err;
  EXPECT_THAT(stale.err, HasSubstr("ABORTED"));

  CommandResult deleted = Userctl({"delete", id});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_THAT(deleted.out, HasSubstr("consistency_token"));

  CommandResult missing = Userctl({"--consistency=strong", "get", id});
  EXPECT_EQ(missing.exit_code,
            10 + static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND"));
}

TEST_F(UserctlE2eTest, SessionTokenFromCreateReadsTheWriteBack) {
  TestCluster& cluster = TestCluster::Get();
  ASSERT_TRUE(cluster.StopReplicationSql().ok());
  const std::string name = UniqueName("ctltok_");
  CommandResult created = Userctl(
      {"create", "--username=" + name, "--email=" + name + "@example.com"});
  const size_t key = created.out.find("\"consistency_token\": \"");
  std::string token;
  if (key != std::string::npos) {
    const size_t start = key + std::string("\"consistency_token\": \"").size();
    token = created.out.substr(start, created.out.find('"', start) - start);
  }
  CommandResult read = Userctl({"--consistency=session", "--token=" + token,
                                "--verbose", "get", UserctlId(created.out)});
  ASSERT_TRUE(cluster.StartReplicationSql().ok());
  ASSERT_EQ(created.exit_code, 0) << created.err;
  ASSERT_FALSE(token.empty()) << created.out;
  ASSERT_EQ(read.exit_code, 0) << read.err;
  EXPECT_THAT(read.out, HasSubstr(name));
  EXPECT_THAT(read.err, HasSubstr("served-by: primary"));
}

TEST_F(UserctlE2eTest, UsageErrorsAndUnreachableServerHaveDistinctExitCodes) {
  CommandResult usage = Userctl({"get"});
  EXPECT_EQ(usage.exit_code, 2);
  CommandResult bad_id = Userctl({"get", "abc"});
  EXPECT_EQ(bad_id.exit_code, 2);
  CommandResult invalid = Userctl({"create", "--username=x", "--email=bad"});
  EXPECT_EQ(invalid.exit_code,
            10 + static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(invalid.err, HasSubstr("username"));

  CommandResult unreachable =
      RunCommand({UserctlPath(), absl::StrCat("--addr=127.0.0.1:", FreePort()),
                  "--timeout=2s", "list"},
                 absl::Seconds(30));
  EXPECT_EQ(unreachable.exit_code,
            10 + static_cast<int>(grpc::StatusCode::UNAVAILABLE));
}

}  // namespace
}  // namespace userservice::testing
