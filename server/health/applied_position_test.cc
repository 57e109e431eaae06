#include "server/health/applied_position.h"

#include "gtest/gtest.h"

namespace userservice {
namespace {

ReplicationPosition At(absl::string_view gtids) {
  return ReplicationPosition::Parse(gtids).value();
}

TEST(AppliedPositionTest, KnowsNothingAtFirst) {
  AppliedPosition applied;
  EXPECT_FALSE(applied.Covers(At("0-1-1")));
  // Not even the empty position: nothing is known of this endpoint.
  EXPECT_FALSE(applied.Covers(ReplicationPosition()));
}

TEST(AppliedPositionTest, ReadsAndWaitsOnlyAdd) {
  AppliedPosition applied;
  applied.Reached(7, At("0-1-10"));
  applied.Reached(7, At("0-1-8,1-2-3"));
  EXPECT_TRUE(applied.Covers(At("0-1-10,1-2-3")));
  EXPECT_FALSE(applied.Covers(At("0-1-11")));
  EXPECT_EQ(applied.Known().ToString(), "0-1-10,1-2-3");
}

TEST(AppliedPositionTest, ChecksReplaceWhatIsKnown) {
  AppliedPosition applied;
  applied.Reached(7, At("0-1-10"));
  // Restored from an older copy: the check is the truth now.
  applied.Observe(7, At("0-1-4"));
  EXPECT_FALSE(applied.Covers(At("0-1-5")));
  EXPECT_TRUE(applied.Covers(At("0-1-4")));
}

TEST(AppliedPositionTest, AnotherServerReplacesWhatIsKnown) {
  AppliedPosition applied;
  applied.Reached(7, At("0-1-10"));
  applied.Reached(8, At("0-1-3"));
  EXPECT_FALSE(applied.Covers(At("0-1-4")));
  EXPECT_TRUE(applied.Covers(At("0-1-3")));
}

TEST(AppliedPositionTest, ForgetsAnUnreachableEndpoint) {
  AppliedPosition applied;
  applied.Observe(7, At("0-1-10"));
  applied.Forget();
  EXPECT_FALSE(applied.Covers(At("0-1-1")));
  applied.Reached(7, At("0-1-2"));
  EXPECT_TRUE(applied.Covers(At("0-1-1")));
}

}  // namespace
}  // namespace userservice
