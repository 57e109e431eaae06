#include "server/common/command_line.h"

#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// Defined here, in a test file: the command line must find flags by the
// spec, never by the file that defines them.
ABSL_FLAG(std::string, cl_test_name, "anonymous", "A name.");
ABSL_FLAG(int, cl_test_count, 3, "A count.");
ABSL_FLAG(bool, cl_test_verbose, false, "Talk more.");
ABSL_FLAG(absl::Duration, cl_test_wait, absl::Seconds(1), "A wait.");
// Linked into the program but not part of its command line.
ABSL_FLAG(int, cl_test_unlisted, 0, "Not in the spec.");

namespace userservice::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

class CommandLineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::SetFlag(&FLAGS_cl_test_name, "anonymous");
    absl::SetFlag(&FLAGS_cl_test_count, 3);
    absl::SetFlag(&FLAGS_cl_test_verbose, false);
    absl::SetFlag(&FLAGS_cl_test_wait, absl::Seconds(1));
    unsetenv("CL_TEST_CL_TEST_NAME");
    unsetenv("CL_TEST_CL_TEST_COUNT");
  }

  static CommandLineSpec Spec(bool positional_allowed = false) {
    return {"prog",
            "Usage: prog [flags]\n\nDoes things.\n",
            "CL_TEST_",
            {Flag(FLAGS_cl_test_name), Flag(FLAGS_cl_test_count),
             Flag(FLAGS_cl_test_verbose), Flag(FLAGS_cl_test_wait)},
            positional_allowed};
  }
};

TEST_F(CommandLineTest, AcceptsDashedAndUnderscoredNames) {
  ASSERT_TRUE(ParseCommandLine(Spec(), {"--cl-test-name=ann", "--cl_test_count",
                                        "7", "-cl-test-verbose"})
                  .ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_test_name), "ann");
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_test_count), 7);
  EXPECT_TRUE(absl::GetFlag(FLAGS_cl_test_verbose));
}

TEST_F(CommandLineTest, NegatedBooleanAndValueAfterEquals) {
  absl::SetFlag(&FLAGS_cl_test_verbose, true);
  ASSERT_TRUE(ParseCommandLine(Spec(), {"--nocl-test-verbose"}).ok());
  EXPECT_FALSE(absl::GetFlag(FLAGS_cl_test_verbose));
  ASSERT_TRUE(ParseCommandLine(Spec(), {"--cl-test-verbose=true"}).ok());
  EXPECT_TRUE(absl::GetFlag(FLAGS_cl_test_verbose));
}

TEST_F(CommandLineTest, EnvironmentSetsFlagsAndCommandLineWins) {
  setenv("CL_TEST_CL_TEST_NAME", "from-env", 1);
  setenv("CL_TEST_CL_TEST_COUNT", "5", 1);
  ASSERT_TRUE(ParseCommandLine(Spec(), {"--cl-test-count=9"}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_test_name), "from-env");
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_test_count), 9);
}

TEST_F(CommandLineTest, NoEnvironmentWithoutPrefix) {
  setenv("CL_TEST_CL_TEST_NAME", "from-env", 1);
  CommandLineSpec spec = Spec();
  spec.env_prefix.clear();
  ASSERT_TRUE(ParseCommandLine(spec, {}).ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_test_name), "anonymous");
}

TEST_F(CommandLineTest, BadEnvironmentValueNamesTheVariable) {
  setenv("CL_TEST_CL_TEST_COUNT", "many", 1);
  absl::Status status = ParseCommandLine(Spec(), {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("CL_TEST_CL_TEST_COUNT"));
  EXPECT_THAT(status.message(), HasSubstr("want an integer"));
}

TEST_F(CommandLineTest, FlagsOutsideTheSpecAreUnknown) {
  absl::Status status =
      ParseCommandLine(Spec(), {"--cl-test-unlisted=1"}).status();
  EXPECT_EQ(status.message(), "unknown flag --cl-test-unlisted");
  EXPECT_EQ(ParseCommandLine(Spec(), {"--nosuch"}).status().message(),
            "unknown flag --nosuch");
  // Abseil's own flags are not part of a program's command line either.
  EXPECT_FALSE(ParseCommandLine(Spec(), {"--flagfile=/tmp/x"}).ok());
}

TEST_F(CommandLineTest, MistakesSayWhatIsWrong) {
  EXPECT_EQ(ParseCommandLine(Spec(), {"--cl-test-count"}).status().message(),
            "missing value for flag --cl-test-count");
  EXPECT_EQ(
      ParseCommandLine(Spec(), {"--cl-test-wait=soon"}).status().message(),
      "invalid value \"soon\" for flag --cl-test-wait: want a duration such "
      "as 500ms, 5s or 1m");
  EXPECT_EQ(
      ParseCommandLine(Spec(), {"--nocl-test-verbose=1"}).status().message(),
      "flag --nocl-test-verbose does not take a value");
  EXPECT_EQ(ParseCommandLine(Spec(), {"stray"}).status().message(),
            "unexpected argument \"stray\" (flags only)");
}

TEST_F(CommandLineTest, PositionalArgumentsWhenAllowed) {
  absl::StatusOr<ParsedCommandLine> parsed = ParseCommandLine(
      Spec(/*positional_allowed=*/true),
      {"get", "--cl-test-count=2", "42", "--", "--cl-test-name=x"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(parsed->positional, ElementsAre("get", "42", "--cl-test-name=x"));
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_test_count), 2);
  EXPECT_EQ(absl::GetFlag(FLAGS_cl_test_name), "anonymous");
}

TEST_F(CommandLineTest, HelpWinsOverEverythingElse) {
  absl::StatusOr<ParsedCommandLine> parsed =
      ParseCommandLine(Spec(), {"--nosuch", "--help"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help);
}

TEST_F(CommandLineTest, HelpListsExactlyTheSpecsFlags) {
  const std::string help = HelpText(Spec());
  EXPECT_THAT(help,
              HasSubstr("Usage: prog [flags]\n\nDoes things.\n\nFlags:\n"));
  EXPECT_THAT(help, HasSubstr("  --cl-test-count\n      A count.\n      env "
                              "CL_TEST_CL_TEST_COUNT, default \"3\"\n"));
  EXPECT_THAT(help, Not(HasSubstr("cl-test-unlisted")));
  // Sorted by name.
  EXPECT_LT(help.find("--cl-test-count"), help.find("--cl-test-name"));
}

TEST_F(CommandLineTest, HelpEndsWithTheEpilogue) {
  CommandLineSpec spec = Spec();
  spec.epilogue = "Exit codes: 0 done, 2 usage error.\n";
  const std::string help = HelpText(spec);
  EXPECT_THAT(help, EndsWith("default \"1s\"\n\nExit codes: 0 done, 2 usage "
                             "error.\n"));
  EXPECT_THAT(HelpText(Spec()), EndsWith("default \"1s\"\n"));
}

TEST_F(CommandLineTest, DashedFlagName) {
  EXPECT_EQ(DashedFlagName("db_primary"), "db-primary");
}

TEST_F(CommandLineTest, RecognizesHelpFlagsBeforeDoubleDash) {
  EXPECT_TRUE(WantsHelp({"--rate=5", "--help"}));
  EXPECT_TRUE(WantsHelp({"-h"}));
  EXPECT_TRUE(WantsHelp({"-help"}));
  EXPECT_TRUE(WantsHelp({"--helpfull"}));
  EXPECT_TRUE(WantsHelp({"get", "--help"}));
  EXPECT_FALSE(WantsHelp({"help"}));
  EXPECT_FALSE(WantsHelp({"--", "--help"}));
  EXPECT_FALSE(WantsHelp({}));
}

}  // namespace
}  // namespace userservice::cli
