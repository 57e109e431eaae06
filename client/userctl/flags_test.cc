#include "client/userctl/flag_syntax.h"

#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "client/userctl/flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userctl {
namespace {

using ::testing::HasSubstr;

class CheckFlagSyntaxTest : public ::testing::Test {
 protected:
  // CheckFlagSyntax assigns the flags it checks.
  absl::FlagSaver restore_flags_;
};

absl::Status Check(std::vector<std::string> args) {
  return CheckFlagSyntax(args);
}

TEST_F(CheckFlagSyntaxTest, AcceptsUserctlFlagsInEveryForm) {
  EXPECT_TRUE(Check({"--addr=h:1", "get", "5", "--timeout", "3s"}).ok());
  EXPECT_TRUE(Check({"-format=table", "list", "--all=false", "--noall"}).ok());
  EXPECT_TRUE(Check({"--verbose", "--noverbose", "--verbose=true"}).ok());
  EXPECT_TRUE(
      Check({"update", "5", "--email", "a@b", "--expected_version", "-1"})
          .ok());
  EXPECT_TRUE(Check({"list", "--max_staleness=1500ms"}).ok());
  EXPECT_TRUE(Check({}).ok());
  EXPECT_TRUE(Check({"get", "-"}).ok());
}

TEST_F(CheckFlagSyntaxTest, SetsTheFlagsLikeParseCommandLine) {
  ASSERT_TRUE(Check({"--username", "bob", "--page_size=7"}).ok());
  const FlagValues values = ReadFlagValues();
  EXPECT_EQ(values.username, "bob");
  EXPECT_EQ(values.page_size, 7);
}

TEST_F(CheckFlagSyntaxTest, StopsAtDoubleDash) {
  EXPECT_TRUE(Check({"get", "--", "--bogus", "-5"}).ok());
}

TEST_F(CheckFlagSyntaxTest, RejectsUnknownFlags) {
  const absl::Status status = Check({"list", "--page-size=3"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "unknown flag --page-size");
  EXPECT_EQ(Check({"-v"}).message(), "unknown flag --v");
  EXPECT_EQ(Check({"--noaddr"}).message(), "unknown flag --noaddr");
}

TEST_F(CheckFlagSyntaxTest, RejectsMissingValues) {
  EXPECT_EQ(Check({"get", "--username"}).message(),
            "missing value for flag --username");
}

TEST_F(CheckFlagSyntaxTest, RejectsBadValuesSayingWhatIsExpected) {
  EXPECT_EQ(Check({"--timeout=soon"}).message(),
            "invalid value \"soon\" for flag --timeout: want a duration "
            "such as 500ms, 5s or 1m");
  EXPECT_THAT(Check({"--page_size", "ten"}).message(),
              HasSubstr("want an integer"));
  EXPECT_THAT(Check({"--page_size=99999999999"}).message(),
              HasSubstr("--page_size"));
  EXPECT_THAT(Check({"--all=maybe"}).message(),
              HasSubstr("want true or false"));
  EXPECT_EQ(Check({"--noverbose=true"}).message(),
            "flag --noverbose does not take a value");
}

}  // namespace
}  // namespace userctl
