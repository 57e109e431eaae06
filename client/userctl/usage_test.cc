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
        "--consistency", "--token", "--max_staleness", "--verbose",
        "--x_request_id", "--request_id", "--page_size", "--page_token",
        "--all", "--expected_version", "Exit codes:", "10+CODE",
        "24 UNAVAILABLE"}) {
    EXPECT_THAT(text, HasSubstr(needle));
  }
}

TEST(UsageTest, FitsInEightyColumns) {
  std::istringstream lines(UsageText());
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LE(line.size(), 80u) << line;
  }
}

}  // namespace
}  // namespace userctl
