#include "server/observability/line_limiter.h"

#include <optional>

#include "gtest/gtest.h"
#include "server/testing/fake_clock.h"

namespace userservice::observability {
namespace {

class LineLimiterTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  LineLimiter limiter_{2, clock_.AsClock()};
};

TEST_F(LineLimiterTest, WritesUpToTheLimitPerSecondAndCountsTheRest) {
  EXPECT_EQ(limiter_.Admit("GetUser UNAVAILABLE"), 0);
  EXPECT_EQ(limiter_.Admit("GetUser UNAVAILABLE"), 0);
  EXPECT_EQ(limiter_.Admit("GetUser UNAVAILABLE"), std::nullopt);
  EXPECT_EQ(limiter_.Admit("GetUser UNAVAILABLE"), std::nullopt);
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_EQ(limiter_.Admit("GetUser UNAVAILABLE"), std::nullopt);
  // A new second: the first line says how many were left out.
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(limiter_.Admit("GetUser UNAVAILABLE"), 3);
  EXPECT_EQ(limiter_.Admit("GetUser UNAVAILABLE"), 0);
}

TEST_F(LineLimiterTest, KeysAreLimitedSeparately) {
  EXPECT_EQ(limiter_.Admit("a"), 0);
  EXPECT_EQ(limiter_.Admit("a"), 0);
  EXPECT_EQ(limiter_.Admit("a"), std::nullopt);
  EXPECT_EQ(limiter_.Admit("b"), 0);
}

TEST(LineLimiterNoLimitTest, ZeroMeansEveryLine) {
  LineLimiter limiter(0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.Admit("k"), 0);
}

}  // namespace
}  // namespace userservice::observability
