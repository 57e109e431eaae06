#include "client/bench/flags.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/command_line.h"

namespace userbench {
namespace {

using ::testing::HasSubstr;

class BenchCommandLineTest : public ::testing::Test {
 protected:
  // Parsing assigns the flags.
  absl::FlagSaver restore_flags_;
};

absl::Status Check(std::vector<std::string> args) {
  return userservice::cli::ParseCommandLine(BenchCommandLine(), args).status();
}

TEST_F(BenchCommandLineTest, DefaultsAreValid) {
  absl::StatusOr<BenchConfig> config = ConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->concurrency, 32);
  EXPECT_EQ(config->target, Target::kService);
}

TEST_F(BenchCommandLineTest, AcceptsKnownFlags) {
  EXPECT_TRUE(
      Check({"--concurrency=8", "--duration", "1s", "--direct", "--nodirect"})
          .ok());
}

TEST_F(BenchCommandLineTest, AcceptsDashedAndUnderscoredNames) {
  ASSERT_TRUE(Check({"--direct", "--db-primary=a-b:1", "--db_user", "x-y",
                     "--client-threads=3", "--prepare_only"})
                  .ok());
  absl::StatusOr<BenchConfig> config = ConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->target, Target::kDirect);
  EXPECT_EQ(config->db.user, "x-y");
  EXPECT_EQ(config->client_threads, 3);
  EXPECT_TRUE(config->prepare_only);
}

TEST_F(BenchCommandLineTest, BatchWorkload) {
  ASSERT_TRUE(Check({"--workload=batch:25", "--consistency=session"}).ok());
  absl::StatusOr<BenchConfig> config = ConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->batch());
  EXPECT_EQ(config->workload.batch_size, 25);
  EXPECT_TRUE(config->reads());
  EXPECT_FALSE(config->writes());
  EXPECT_EQ(config->consistency.level, ReadConsistency::Level::kSession);

  ASSERT_TRUE(Check({"--workload", "batch:1001"}).ok());
  config = ConfigFromFlags();
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              HasSubstr("invalid --workload \"batch:1001\""));
  EXPECT_THAT(config.status().message(), HasSubstr("batch:N"));

  ASSERT_TRUE(Check({"--workload=read"}).ok());
  config = ConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->batch());
}

TEST_F(BenchCommandLineTest, RejectsWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  const Case cases[] = {
      {{"--bogus=1"}, "unknown flag --bogus"},
      {{"--concurrency=many"}, "invalid value \"many\" for flag --concurrency"},
      {{"--duration"}, "missing value for flag --duration"},
      {{"extra"}, "unexpected argument \"extra\""},
      {{"--", "extra"}, "unexpected argument \"extra\""},
  };
  for (const Case& c : cases) {
    absl::Status status = Check(c.args);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr(c.message));
  }
}

TEST(BenchHelpTest, ListsEveryFlagDashedAndFitsInEightyColumns) {
  const std::string help = userservice::cli::HelpText(BenchCommandLine());
  EXPECT_THAT(help, HasSubstr("Usage: user_bench [flags]\n"));
  for (const char* flag : {"--db-primary\n", "--client-threads\n",
                           "--prepare-only\n", "--sample-pid\n"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
  EXPECT_THAT(help, HasSubstr("Exit codes:"));
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(line.size(), 80u) << line;
  }
}

}  // namespace
}  // namespace userbench
