// Runs the real user_bench binary for what only main() decides: the exit
// code and stderr of a usage error, and --help.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// `args` is pasted into a shell command: keep it free of quoting.
RunResult RunUserBench(const std::string& args) {
  // ctest runs the tests of this file as parallel processes.
  const std::string base =
      absl::StrCat(::testing::TempDir(), "/user_bench_main_test.", getpid());
  const std::string out = base + ".out";
  const std::string err = base + ".err";
  const int status = std::system(
      absl::StrCat(USER_BENCH_BINARY, " ", args, " >", out, " 2>", err)
          .c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return result;
}

TEST(UserBenchMainTest, UnknownFlagExitsTwo) {
  const RunResult result = RunUserBench("--duration=1s --bogus_flag=1");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(result.err,
            "user_bench: unknown flag --bogus-flag\n"
            "Run 'user_bench --help' for usage.\n");
}

TEST(UserBenchMainTest, EveryUsageErrorExitsTwo) {
  for (const char* args : {"extra", "--duration", "--concurrency=many",
                           "--workload=sideways", "--direct", "--version"}) {
    const RunResult result = RunUserBench(args);
    EXPECT_EQ(result.exit_code, 2) << args;
    EXPECT_THAT(result.out, IsEmpty()) << args;
    EXPECT_THAT(result.err, HasSubstr("Run 'user_bench --help' for usage.\n"))
        << args;
  }
}

TEST(UserBenchMainTest, HelpPrintsTheFlagsAndExitsZero) {
  for (const char* help : {"--help", "-h", "--concurrency=8 --helpfull"}) {
    const RunResult result = RunUserBench(help);
    EXPECT_EQ(result.exit_code, 0) << help;
    EXPECT_THAT(result.out, HasSubstr("Usage: user_bench [flags]")) << help;
    EXPECT_THAT(result.out, HasSubstr("\n  --db-primary\n")) << help;
    EXPECT_THAT(result.err, IsEmpty()) << help;
  }
}

}  // namespace
