#include "client/bench/command_line.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/bench/flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userbench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The flags are user_bench's own: this test also pulls flags.cc in.
TEST(ConfigFromFlagsTest, DefaultsAreValid) {
  absl::StatusOr<BenchConfig> config = ConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->concurrency, 32);
  EXPECT_EQ(config->target, Target::kService);
}

TEST(CommandLineTest, AcceptsKnownFlags) {
  EXPECT_TRUE(CheckFlagSyntax({"--concurrency=8", "--duration", "1s",
                               "--direct", "--nodirect"})
                  .ok());
}

TEST(CommandLineTest, RejectsWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  const Case cases[] = {
      {{"--bogus=1"}, "unknown flag --bogus"},
      {{"--concurrency=many"}, "invalid value \"many\" for flag --concurrency"},
      {{"--duration"}, "missing value for flag --duration"},
      {{"extra"}, "unexpected argument \"extra\""},
  };
  for (const Case& c : cases) {
    absl::Status status = CheckFlagSyntax(c.args);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace userbench
