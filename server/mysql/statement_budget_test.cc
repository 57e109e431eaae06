#include <cstdint>
#include <set>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/mysql/mysql_connection.h"

namespace userservice::mysql {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;

int64_t BudgetMs(int64_t ms) {
  return RoundedStatementBudgetMs(absl::Milliseconds(ms));
}

// Whole-millisecond inputs from 1 ms to an hour: exhaustively up to 200 s,
// then every 997 ms (a prime stride, so no ladder value is systematically
// skipped).
template <typename Check>
void ForEachInput(Check check) {
  for (int64_t ms = 1; ms <= 200000; ++ms) check(ms);
  for (int64_t ms = 200000; ms <= kHourMs; ms += 997) check(ms);
  check(kHourMs);
}

TEST(RoundedStatementBudgetTest, NeverAboveTheInput) {
  int failures = 0;
  ForEachInput([&](int64_t ms) {
    if (BudgetMs(ms) > ms && ++failures <= 5) {
      ADD_FAILURE() << ms << " ms -> " << BudgetMs(ms);
    }
  });
  EXPECT_EQ(failures, 0);
  // Fractions of a millisecond are not rounded up either.
  EXPECT_LE(RoundedStatementBudgetMs(absl::Microseconds(10999)), 10);
}

TEST(RoundedStatementBudgetTest, AtLeastOneMillisecond) {
  EXPECT_EQ(RoundedStatementBudgetMs(absl::ZeroDuration()), 1);
  EXPECT_EQ(RoundedStatementBudgetMs(absl::Microseconds(300)), 1);
  EXPECT_EQ(RoundedStatementBudgetMs(absl::Milliseconds(1)), 1);
  EXPECT_EQ(RoundedStatementBudgetMs(-absl::Seconds(5)), 1);
  EXPECT_EQ(RoundedStatementBudgetMs(-absl::InfiniteDuration()), 1);
  ForEachInput([](int64_t ms) { ASSERT_GE(BudgetMs(ms), 1) << ms; });
}

TEST(RoundedStatementBudgetTest, KeepsAtLeastEightyPercentFromTenMs) {
  int failures = 0;
  ForEachInput([&](int64_t ms) {
    if (ms < 10) return;
    const int64_t budget = BudgetMs(ms);
    if (budget * 5 < ms * 4 && ++failures <= 5) {
      ADD_FAILURE() << ms << " ms -> " << budget << " ms, below 80%";
    }
  });
  EXPECT_EQ(failures, 0);
}

TEST(RoundedStatementBudgetTest, IsMonotonic) {
  int64_t previous = BudgetMs(1);
  int failures = 0;
  for (int64_t ms = 2; ms <= 200000; ++ms) {
    const int64_t budget = BudgetMs(ms);
    if (budget < previous && ++failures <= 5) {
      ADD_FAILURE() << ms << " ms -> " << budget << " < " << previous;
    }
    previous = budget;
  }
  for (int64_t ms = 200000; ms <= 2 * kHourMs; ms += 997) {
    const int64_t budget = BudgetMs(ms);
    if (budget < previous && ++failures <= 5) {
      ADD_FAILURE() << ms << " ms -> " << budget << " < " << previous;
    }
    previous = budget;
  }
  EXPECT_EQ(failures, 0);
}

TEST(RoundedStatementBudgetTest, SimilarDeadlinesShareAValue) {
  // The ladder is 25% apart: an octave holds at most four rungs (1.25^3 <
  // 2 < 1.25^4), so its inputs map to those plus the rung below the octave.
  std::set<int64_t> values;
  for (int64_t ms = 1000; ms < 2000; ++ms) values.insert(BudgetMs(ms));
  EXPECT_LE(values.size(), 5u);
  EXPECT_GE(values.size(), 3u);
  // Neighbouring inputs almost always share a value.
  int changes = 0;
  for (int64_t ms = 10000; ms < 20000; ++ms) {
    if (BudgetMs(ms) != BudgetMs(ms - 1)) ++changes;
  }
  EXPECT_LE(changes, 5);
}

TEST(RoundedStatementBudgetTest, CappedAtOneHour) {
  const int64_t at_hour = BudgetMs(kHourMs);
  EXPECT_LE(at_hour, kHourMs);
  EXPECT_GE(at_hour * 5, kHourMs * 4);
  EXPECT_EQ(RoundedStatementBudgetMs(absl::Hours(10)), at_hour);
  EXPECT_EQ(RoundedStatementBudgetMs(absl::Hours(24 * 365)), at_hour);
}

TEST(RoundedStatementBudgetTest, InfiniteInputIsCappedToo) {
  EXPECT_EQ(RoundedStatementBudgetMs(absl::InfiniteDuration()),
            BudgetMs(kHourMs));
}

}  // namespace
}  // namespace userservice::mysql
