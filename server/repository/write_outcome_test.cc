#include "server/repository/write_outcome.h"

#include "gtest/gtest.h"

namespace userservice {
namespace {

TEST(WriteOutcomeTest, MarksFailuresOnly) {
  EXPECT_FALSE(WasNotExecuted(absl::UnavailableError("refused")));
  const absl::Status marked =
      MarkNotExecuted(absl::UnavailableError("refused"));
  EXPECT_TRUE(WasNotExecuted(marked));
  EXPECT_EQ(marked.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(marked.message(), "refused");
  EXPECT_TRUE(MarkNotExecuted(absl::OkStatus()).ok());
  EXPECT_FALSE(WasNotExecuted(absl::OkStatus()));
}

}  // namespace
}  // namespace userservice
