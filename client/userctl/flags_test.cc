#include "client/userctl/flags.h"

#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/command_line.h"

namespace userctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class UserctlCommandLineTest : public ::testing::Test {
 protected:
  // Parsing assigns the flags.
  absl::FlagSaver restore_flags_;
};

absl::StatusOr<userservice::cli::ParsedCommandLine> Parse(
    std::vector<std::string> args) {
  return ParseUserctlCommandLine(args);
}

absl::Status Check(std::vector<std::string> args) {
  return Parse(std::move(args)).status();
}

TEST_F(UserctlCommandLineTest, AcceptsUserctlFlagsInEveryForm) {
  EXPECT_TRUE(Check({"--addr=h:1", "get", "5", "--timeout", "3s"}).ok());
  EXPECT_TRUE(Check({"-format=table", "list", "--all=false", "--noall"}).ok());
  EXPECT_TRUE(Check({"--verbose", "--noverbose", "--verbose=true"}).ok());
  EXPECT_TRUE(
      Check({"update", "5", "--email", "a@b", "--expected-version", "-1"})
          .ok());
  EXPECT_TRUE(Check({"list", "--max-staleness=1500ms"}).ok());
  EXPECT_TRUE(Check({}).ok());
  EXPECT_TRUE(Check({"get", "-"}).ok());
}

// Scripts written for Abseil's underscore names keep working.
TEST_F(UserctlCommandLineTest, AcceptsUnderscoredNames) {
  ASSERT_TRUE(Check({"list", "--max_staleness=2s", "--page_size=7",
                     "--x_request_id", "r1", "--tls_server_name=h"})
                  .ok());
  const FlagValues values = ReadFlagValues();
  EXPECT_EQ(values.max_staleness, absl::Seconds(2));
  EXPECT_EQ(values.page_size, 7);
  EXPECT_EQ(values.x_request_id, "r1");
  EXPECT_EQ(values.tls_server_name, "h");
}

TEST_F(UserctlCommandLineTest, SetsTheFlagsAndKeepsTheCommand) {
  absl::StatusOr<userservice::cli::ParsedCommandLine> parsed =
      Parse({"--username", "bob", "get", "--page-size=7", "x"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->positional, ElementsAre("get", "x"));
  const FlagValues values = ReadFlagValues();
  EXPECT_EQ(values.username, "bob");
  EXPECT_EQ(values.page_size, 7);
}

// Abseil would keep only the last --token; every one is meant to be sent.
TEST_F(UserctlCommandLineTest, KeepsEveryTokenFlagInOrder) {
  ASSERT_TRUE(
      Check({"--token=v1.a", "get", "1", "--token", "v1.b,v1.c", "--token="})
          .ok());
  EXPECT_THAT(ReadFlagValues().tokens, ElementsAre("v1.a", "v1.b,v1.c"));
}

TEST_F(UserctlCommandLineTest, EachParseStartsWithoutTokens) {
  ASSERT_TRUE(Check({"--token=v1.a", "get", "1"}).ok());
  ASSERT_TRUE(Check({"get", "1"}).ok());
  EXPECT_THAT(ReadFlagValues().tokens, IsEmpty());
}

TEST_F(UserctlCommandLineTest, StopsAtDoubleDash) {
  absl::StatusOr<userservice::cli::ParsedCommandLine> parsed =
      Parse({"get", "--", "--bogus", "-5"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->positional, ElementsAre("get", "--bogus", "-5"));
}

TEST_F(UserctlCommandLineTest, HelpFlags) {
  for (const char* help : {"-h", "-help", "--help", "--helpfull"}) {
    absl::StatusOr<userservice::cli::ParsedCommandLine> parsed =
        Parse({"get", help});
    ASSERT_TRUE(parsed.ok()) << help;
    EXPECT_TRUE(parsed->help) << help;
  }
}

TEST_F(UserctlCommandLineTest, RejectsUnknownFlags) {
  const absl::Status status = Check({"list", "--page-sise=3"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "unknown flag --page-sise");
  EXPECT_EQ(Check({"-v"}).message(), "unknown flag --v");
  EXPECT_EQ(Check({"--noaddr"}).message(), "unknown flag --noaddr");
  // Abseil's and gRPC's flags are linked in but not userctl's.
  EXPECT_EQ(Check({"--flagfile=/dev/null"}).message(),
            "unknown flag --flagfile");
}

TEST_F(UserctlCommandLineTest, RejectsMissingValues) {
  EXPECT_EQ(Check({"get", "--username"}).message(),
            "missing value for flag --username");
}

TEST_F(UserctlCommandLineTest, RejectsBadValuesSayingWhatIsExpected) {
  EXPECT_EQ(Check({"--timeout=soon"}).message(),
            "invalid value \"soon\" for flag --timeout: want a duration "
            "such as 500ms, 5s or 1m");
  EXPECT_THAT(Check({"--page_size", "ten"}).message(),
              HasSubstr("want an integer"));
  EXPECT_THAT(Check({"--page_size=99999999999"}).message(),
              HasSubstr("--page-size"));
  EXPECT_THAT(Check({"--all=maybe"}).message(),
              HasSubstr("want true or false"));
  EXPECT_EQ(Check({"--noverbose=true"}).message(),
            "flag --noverbose does not take a value");
}

// USERCTL_ADDR is --addr's fallback (ParseInvocation), not an environment
// prefix for every flag.
TEST_F(UserctlCommandLineTest, ReadsNoEnvironment) {
  EXPECT_TRUE(UserctlCommandLine().env_prefix.empty());
}

}  // namespace
}  // namespace userctl
