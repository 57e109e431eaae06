#include "client/bench/load_plan.h"

#include <cstdint>
#include <set>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace userbench {
namespace {

TEST(RunWindowTest, WarmupIsNotMeasured) {
  const RunWindow w =
      RunWindow::StartingAt(1000, absl::Seconds(2), absl::Seconds(8));
  EXPECT_EQ(w.measure_from_ns, 1000 + 2'000'000'000);
  EXPECT_EQ(w.end_ns, 1000 + 10'000'000'000);
  EXPECT_FALSE(w.Measured(w.start_ns));
  EXPECT_TRUE(w.Measured(w.measure_from_ns));
  EXPECT_FALSE(w.Measured(w.end_ns));
  EXPECT_DOUBLE_EQ(w.measured_seconds(), 8.0);
}

TEST(ArrivalScheduleTest, FixedIntervalsFromTheStart) {
  const ArrivalSchedule s(500, 4000);  // One call every 250 us.
  EXPECT_EQ(s.DueAt(0), 500);
  EXPECT_EQ(s.DueAt(1), 500 + 250'000);
  EXPECT_EQ(s.DueAt(4000), 500 + 1'000'000'000);
}

TEST(OpMixTest, SameSeedSameCalls) {
  const OpMix a(42, 50, 1000), b(42, 50, 1000);
  const OpMix reads_a(42, 100, 1000), reads_c(43, 100, 1000);
  int differ = 0;
  for (uint64_t seq = 0; seq < 1000; ++seq) {
    EXPECT_EQ(a.ForCall(seq).kind, b.ForCall(seq).kind);
    EXPECT_EQ(a.ForCall(seq).row, b.ForCall(seq).row);
    differ += reads_a.ForCall(seq).row != reads_c.ForCall(seq).row ? 1 : 0;
  }
  // Another seed, another sequence (rows collide 1 time in 1000).
  EXPECT_GT(differ, 980);
}

TEST(OpMixTest, ReadShareAndRowsCoverTheDataset) {
  const OpMix mix(1, 95, 100);
  int reads = 0;
  std::set<size_t> rows;
  for (uint64_t seq = 0; seq < 100'000; ++seq) {
    const Op op = mix.ForCall(seq);
    if (op.kind == OpKind::kRead) {
      ++reads;
      ASSERT_LT(op.row, 100u);
      rows.insert(op.row);
    }
  }
  EXPECT_NEAR(reads / 100'000.0, 0.95, 0.005);
  EXPECT_EQ(rows.size(), 100u);
}

TEST(OpMixTest, PureWorkloads) {
  const OpMix reads(1, 100, 10), writes(1, 0, 0);
  for (uint64_t seq = 0; seq < 1000; ++seq) {
    EXPECT_EQ(reads.ForCall(seq).kind, OpKind::kRead);
    EXPECT_EQ(writes.ForCall(seq).kind, OpKind::kWrite);
  }
}

TEST(OpMixTest, BatchRowsAreReproducibleAndCoverTheDataset) {
  const OpMix mix(7, 100, 50), same(7, 100, 50), other(8, 100, 50);
  std::vector<size_t> rows, again, elsewhere;
  std::set<size_t> seen;
  int differ = 0;
  for (uint64_t seq = 0; seq < 200; ++seq) {
    mix.BatchRows(seq, 10, &rows);
    same.BatchRows(seq, 10, &again);
    other.BatchRows(seq, 10, &elsewhere);
    ASSERT_EQ(rows.size(), 10u);
    EXPECT_EQ(rows, again);
    EXPECT_EQ(rows.front(), mix.ForCall(seq).row);
    differ += rows != elsewhere ? 1 : 0;
    for (size_t row : rows) {
      ASSERT_LT(row, 50u);
      seen.insert(row);
    }
  }
  EXPECT_EQ(differ, 200);
  EXPECT_EQ(seen.size(), 50u);
}

}  // namespace
}  // namespace userbench
