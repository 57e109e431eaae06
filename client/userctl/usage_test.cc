#include "client/userctl/usage.h"

#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(UsageTest, ListsEveryCommandWithTheSynopsisErrorsQuote) {
  const std::string text = UsageText();
  for (const char* command :
       {"create", "get", "list", "update", "delete", "help"}) {
    const absl::string_view synopsis = CommandSynopsis(command);
    ASSERT_FALSE(synopsis.empty()) << command;
    EXPECT_THAT(text, HasSubstr(absl::StrCat("\n  ", synopsis, "\n")));
  }
  EXPECT_EQ(CommandSynopsis("frob"), "");
}

TEST(UsageTest, DocumentsFlagsAndExitCodes) {
  const std::string text = UsageText();
  for (const char* needle :
       {"--addr", "USERCTL_ADDR", "--timeout", "--format=json|table",
        "--consistency", "--token", "--max-staleness", "--verbose",
        "--x-request-id", "--request-id", "--page-size", "--page-token",
        "--all", "--expected-version", "Exit codes:", "10+CODE",
        "24 UNAVAILABLE"}) {
    EXPECT_THAT(text, HasSubstr(needle));
  }
}

// The flags come from UserctlCommandLine(), between the commands and the
// output formats, each exactly once.
TEST(UsageTest, ListsTheGeneratedFlagsBetweenCommandsAndOutput) {
  const std::string text = UsageText();
  const size_t flags = text.find("\nFlags:\n");
  ASSERT_NE(flags, std::string::npos);
  EXPECT_LT(text.find("\nCommands:\n"), flags);
  EXPECT_GT(text.find("\nOutput on stdout"), flags);
  for (const char* flag :
       {"addr", "timeout", "format", "consistency", "token", "max-staleness",
        "verbose", "x-request-id", "tls-ca", "tls-cert", "tls-key",
        "tls-server-name", "username", "email", "request-id", "page-size",
        "page-token", "all", "expected-version"}) {
    const std::string entry = absl::StrCat("\n  --", flag, "\n");
    EXPECT_NE(text.find(entry), std::string::npos) << flag;
    EXPECT_EQ(text.find(entry), text.rfind(entry)) << flag;
  }
  EXPECT_THAT(text, Not(HasSubstr("--max_staleness")));
}

TEST(UsageTest, FitsInEightyColumns) {
  std::istringstream lines(UsageText());
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(line.size(), 80u) << line;
  }
}

}  // namespace
}  // namespace userctl
