#include "server/health/lag_ledger.h"

#include "gtest/gtest.h"

namespace userservice {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(LagLedgerTest, UnknownBeforeAnyHeartbeatIsWritten) {
  LagLedger ledger;
  EXPECT_FALSE(ledger.LagAt(std::nullopt, kT0).has_value());
  EXPECT_FALSE(ledger.LagAt(kT0, kT0).has_value());
}

TEST(LagLedgerTest, CaughtUpReplicaHasZeroLagEvenLongAfterTheLastBeat) {
  LagLedger ledger;
  ledger.RecordWrite(kT0);
  ledger.RecordWrite(kT0 + absl::Milliseconds(100));
  // The primary stopped taking heartbeats (it is down): nothing newer can
  // be missing, so the replica is current however much time passes.
  EXPECT_EQ(ledger.LagAt(kT0 + absl::Milliseconds(100), kT0 + absl::Hours(1)),
            absl::ZeroDuration());
}

TEST(LagLedgerTest, LagIsTheAgeOfTheOldestMissingHeartbeat) {
  LagLedger ledger;
  for (int i = 0; i <= 20; ++i) {
    ledger.RecordWrite(kT0 + absl::Milliseconds(100 * i));
  }
  // Applied up to t0+500ms; the first missing beat was written at t0+600ms.
  EXPECT_EQ(ledger.LagAt(kT0 + absl::Milliseconds(500),
                         kT0 + absl::Milliseconds(2050)),
            absl::Milliseconds(1450));
}

TEST(LagLedgerTest, ReplicaWithoutOurRowLagsSinceTheFirstBeat) {
  LagLedger ledger;
  ledger.RecordWrite(kT0);
  ledger.RecordWrite(kT0 + absl::Seconds(1));
  EXPECT_EQ(ledger.LagAt(std::nullopt, kT0 + absl::Seconds(3)),
            absl::Seconds(3));
}

TEST(LagLedgerTest, AStampWeDidNotRecordCountsByItsPosition) {
  LagLedger ledger;
  ledger.RecordWrite(kT0);
  ledger.RecordWrite(kT0 + absl::Seconds(2));
  // A write whose success we never learned (e.g. lost connection at
  // commit) at t0+1s: the replica is missing only the t0+2s beat.
  EXPECT_EQ(ledger.LagAt(kT0 + absl::Seconds(1), kT0 + absl::Seconds(5)),
            absl::Seconds(3));
}

TEST(LagLedgerTest, ForgetsOldStampsButStillReportsLargeLag) {
  LagLedger ledger(absl::Seconds(10));
  for (int i = 0; i <= 60; ++i) ledger.RecordWrite(kT0 + absl::Seconds(i));
  // Applied a stamp from before the memory window: lag is at least the age
  // of the oldest remembered beat.
  auto lag = ledger.LagAt(kT0, kT0 + absl::Seconds(61));
  ASSERT_TRUE(lag.has_value());
  EXPECT_GE(*lag, absl::Seconds(10));
}

TEST(LagLedgerTest, IgnoresAClockThatStepsBack) {
  LagLedger ledger;
  ledger.RecordWrite(kT0 + absl::Seconds(5));
  ledger.RecordWrite(kT0);  // ignored
  EXPECT_EQ(ledger.Newest(), kT0 + absl::Seconds(5));
}

}  // namespace
}  // namespace userservice
