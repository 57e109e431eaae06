#include "server/common/flag_names.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userservice {
namespace {

using ::testing::ElementsAre;

TEST(FlagNamesTest, NormalizesDashedNamesNotValues) {
  std::vector<std::string> argv = {"user_bench", "--db-primary=a-b:1",
                                   "--db-user",  "x-y",
                                   "--",         "--not-a-flag"};
  std::vector<char*> raw;
  for (std::string& arg : argv) raw.push_back(arg.data());
  EXPECT_THAT(NormalizeFlagNames(static_cast<int>(raw.size()), raw.data()),
              ElementsAre("user_bench", "--db_primary=a-b:1", "--db_user",
                          "x-y", "--", "--not-a-flag"));
}

TEST(FlagNamesTest, DashedFlagName) {
  EXPECT_EQ(DashedFlagName("db_primary"), "db-primary");
}

TEST(FlagNamesTest, WantsHelp) {
  EXPECT_TRUE(WantsHelp({"--rate=5", "--help"}));
  EXPECT_TRUE(WantsHelp({"-h"}));
  EXPECT_FALSE(WantsHelp({"--", "--help"}));
}

TEST(FlagNamesTest, RecognizesHelpFlagsBeforeDoubleDash) {
  EXPECT_TRUE(WantsHelp({"-h"}));
  EXPECT_TRUE(WantsHelp({"get", "--help"}));
  EXPECT_TRUE(WantsHelp({"-help"}));
  EXPECT_FALSE(WantsHelp({"help"}));
  EXPECT_FALSE(WantsHelp({"get", "--", "-h"}));
  EXPECT_FALSE(WantsHelp({}));
}

}  // namespace
}  // namespace userservice
