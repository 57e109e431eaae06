#include "server/mysql/endpoint_liveness.h"

#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace userservice::mysql {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000000);

TEST(EndpointLivenessTest, NeverAnsweredIsInfinitePast) {
  EndpointLiveness liveness;
  EXPECT_EQ(liveness.last_answer(), absl::InfinitePast());
}

TEST(EndpointLivenessTest, KeepsTheLatestAnswer) {
  EndpointLiveness liveness;
  liveness.RecordAnswer(kT0 + absl::Seconds(2));
  liveness.RecordAnswer(kT0 + absl::Seconds(1));  // a late report
  EXPECT_EQ(liveness.last_answer(), kT0 + absl::Seconds(2));
  liveness.RecordAnswer(kT0 + absl::Seconds(3));
  EXPECT_EQ(liveness.last_answer(), kT0 + absl::Seconds(3));
}

TEST(EndpointLivenessTest, ConcurrentRecordsKeepTheMaximum) {
  EndpointLiveness liveness;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&liveness, t] {
      for (int i = 0; i < 10000; ++i) {
        liveness.RecordAnswer(kT0 + absl::Microseconds(i * 4 + t));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(liveness.last_answer(), kT0 + absl::Microseconds(9999 * 4 + 3));
}

TEST(HungAtTest, WithoutLivenessOnlyTheTimeCounts) {
  EXPECT_EQ(HungAt(kT0, absl::Seconds(1), nullptr), kT0);
}

TEST(HungAtTest, AnEndpointSilentForLongerIsHungAtTheEarliestTime) {
  EndpointLiveness liveness;
  EXPECT_EQ(HungAt(kT0, absl::Seconds(1), &liveness), kT0);
  liveness.RecordAnswer(kT0 - absl::Seconds(5));
  EXPECT_EQ(HungAt(kT0, absl::Seconds(1), &liveness), kT0);
  liveness.RecordAnswer(kT0 - absl::Seconds(1));
  EXPECT_EQ(HungAt(kT0, absl::Seconds(1), &liveness), kT0);
}

TEST(HungAtTest, EveryAnswerPushesTheCutBySilence) {
  EndpointLiveness liveness;
  // The statement started at kT0 - 1s; the endpoint answered others since.
  liveness.RecordAnswer(kT0 - absl::Milliseconds(300));
  EXPECT_EQ(HungAt(kT0, absl::Seconds(1), &liveness),
            kT0 + absl::Milliseconds(700));
  liveness.RecordAnswer(kT0 + absl::Milliseconds(500));
  EXPECT_EQ(HungAt(kT0, absl::Seconds(1), &liveness),
            kT0 + absl::Milliseconds(1500));
}

TEST(ReadSilenceLimitTest, AThirdOfTheRemainingTimeAtMostTheHungTimeout) {
  EXPECT_EQ(ReadSilenceLimit(absl::Seconds(1), absl::Seconds(5)),
            absl::Seconds(1));
  EXPECT_EQ(ReadSilenceLimit(absl::Seconds(1), absl::Milliseconds(1500)),
            absl::Milliseconds(500));
}

TEST(ReadSilenceLimitTest, NeverBelowTheFloor) {
  EXPECT_EQ(ReadSilenceLimit(absl::Seconds(1), absl::Milliseconds(300)),
            kMinReadSilence);
  EXPECT_EQ(ReadSilenceLimit(absl::Seconds(1), -absl::Seconds(1)),
            kMinReadSilence);
  // ...unless the hung timeout itself is shorter.
  EXPECT_EQ(ReadSilenceLimit(absl::Milliseconds(50), absl::Seconds(5)),
            absl::Milliseconds(50));
}

TEST(SilentForTest, OnlyAnEndpointThatAnsweredBeforeAndStoppedIsSilent) {
  EndpointLiveness liveness;
  // Never answered (e.g. at startup): not known to be hung.
  EXPECT_FALSE(SilentFor(liveness, absl::Seconds(1), kT0));
  liveness.RecordAnswer(kT0);
  EXPECT_FALSE(SilentFor(liveness, absl::Seconds(1),
                         kT0 + absl::Milliseconds(999)));
  EXPECT_TRUE(SilentFor(liveness, absl::Seconds(1), kT0 + absl::Seconds(1)));
  EXPECT_FALSE(SilentFor(liveness, absl::ZeroDuration(), kT0 + absl::Hours(1)));
}

}  // namespace
}  // namespace userservice::mysql
