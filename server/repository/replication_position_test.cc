#include "server/repository/replication_position.h"

#include "gtest/gtest.h"

namespace userservice {
namespace {

ReplicationPosition At(absl::string_view gtids) {
  absl::StatusOr<ReplicationPosition> position =
      ReplicationPosition::Parse(gtids);
  EXPECT_TRUE(position.ok()) << gtids << ": " << position.status();
  return position.value_or(ReplicationPosition());
}

TEST(ReplicationPositionTest, ParsesAndPrintsGtidLists) {
  EXPECT_TRUE(At("").empty());
  EXPECT_EQ(At("0-1-42").ToString(), "0-1-42");
  // Canonical order is by domain; MariaDB may print spaces or newlines.
  EXPECT_EQ(At("7-2-9, 0-1-42,\n3-3-1").ToString(), "0-1-42,3-3-1,7-2-9");
  EXPECT_EQ(At("4294967295-4294967295-18446744073709551615").ToString(),
            "4294967295-4294967295-18446744073709551615");
  for (const ReplicationPosition& p : {At("0-1-42,1-2-7"), At("")}) {
    EXPECT_EQ(At(p.ToString()), p);
  }
}

TEST(ReplicationPositionTest, RejectsWhatIsNotAGtidList) {
  for (absl::string_view bad :
       {"0-1", "0-1-2-3", "a-1-2", "0-1-", "-0-1-2", "0--1-2", "0-+1-2",
        "0-1-2,", ",0-1-2", "0-1-2,,1-1-1", "4294967296-1-1", "0-4294967296-1",
        "0-1-18446744073709551616", "0-1-99999999999999999999999", "0 -1-2",
        "0-1-2;1-1-1", "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"}) {
    EXPECT_FALSE(ReplicationPosition::Parse(bad).ok()) << bad;
  }
  absl::StatusOr<ReplicationPosition> twice =
      ReplicationPosition::Parse("0-1-5,0-2-9");
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(twice.status().message().find("domain 0 twice"),
            absl::string_view::npos);
}

TEST(ReplicationPositionTest, MergeTakesTheLaterSequencePerDomain) {
  ReplicationPosition merged = At("0-1-42,2-1-5");
  merged.Merge(At("0-2-40,1-3-7,2-2-6"));
  EXPECT_EQ(merged.ToString(), "0-1-42,1-3-7,2-2-6");
  // After a failover the new primary (server 2) continues domain 0.
  merged.Merge(At("0-2-43"));
  EXPECT_EQ(merged.ToString(), "0-2-43,1-3-7,2-2-6");
  ReplicationPosition empty;
  empty.Merge(At("5-1-1"));
  EXPECT_EQ(empty.ToString(), "5-1-1");
  ReplicationPosition unchanged = At("5-1-1");
  unchanged.Merge(ReplicationPosition());
  EXPECT_EQ(unchanged.ToString(), "5-1-1");
}

TEST(ReplicationPositionTest, CoversComparesSequencesPerDomainOnly) {
  const ReplicationPosition replica = At("0-2-100,1-1-7");
  EXPECT_TRUE(replica.Covers(ReplicationPosition()));
  EXPECT_TRUE(replica.Covers(At("0-1-100")));  // another server id: fine
  EXPECT_TRUE(replica.Covers(At("0-1-99,1-1-7")));
  EXPECT_FALSE(replica.Covers(At("0-1-101")));
  EXPECT_FALSE(replica.Covers(At("2-1-1")));  // a domain it never saw
  EXPECT_FALSE(ReplicationPosition().Covers(At("0-1-1")));
  ReplicationPosition both = At("0-1-5");
  both.Merge(At("1-1-9"));
  EXPECT_TRUE(both.Covers(At("0-1-5")));
  EXPECT_TRUE(both.Covers(At("1-1-9")));
}

}  // namespace
}  // namespace userservice
