#include "server/mysql/socket_watchdog.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/mysql/endpoint_liveness.h"

namespace userservice::mysql {
namespace {

// A connected pair of sockets; `ours` plays the session's socket.
class SocketPair {
 public:
  SocketPair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ours_ = fds[0];
    theirs_ = fds[1];
  }
  ~SocketPair() {
    close(ours_);
    close(theirs_);
  }
  int ours() const { return ours_; }
  int theirs() const { return theirs_; }

 private:
  int ours_ = -1;
  int theirs_ = -1;
};

// How long a read blocked on `fd` waited, as a client library waits for an
// answer that does not come. `read` returns 0 (end of file) once the
// socket is shut down.
absl::Duration BlockedReadTime(int fd) {
  const absl::Time start = absl::Now();
  char byte;
  EXPECT_EQ(read(fd, &byte, 1), 0);
  return absl::Now() - start;
}

TEST(SocketWatchdogTest, ShutsDownASocketThatStaysSilent) {
  SocketWatchdog watchdog;
  SocketPair pair;
  auto watch =
      watchdog.WatchSocket(pair.ours(), absl::Now() + absl::Milliseconds(100),
                           absl::Milliseconds(100), nullptr);
  const absl::Duration waited = BlockedReadTime(pair.ours());
  EXPECT_GE(waited, absl::Milliseconds(90));
  EXPECT_LT(waited, absl::Milliseconds(600));
  EXPECT_TRUE(watch->Finish());
  EXPECT_TRUE(watch->Finish());  // the answer is kept
  EXPECT_EQ(watchdog.cuts(), 1u);
}

TEST(SocketWatchdogTest, AFinishedWatchLeavesTheSocketAlone) {
  SocketWatchdog watchdog;
  SocketPair pair;
  auto watch =
      watchdog.WatchSocket(pair.ours(), absl::Now() + absl::Milliseconds(50),
                           absl::Milliseconds(50), nullptr);
  EXPECT_FALSE(watch->Finish());
  watch.reset();
  absl::SleepFor(absl::Milliseconds(150));
  EXPECT_EQ(write(pair.theirs(), "x", 1), 1);
  char byte = 0;
  EXPECT_EQ(read(pair.ours(), &byte, 1), 1);
  EXPECT_EQ(byte, 'x');
  EXPECT_EQ(watchdog.cuts(), 0u);
}

TEST(SocketWatchdogTest, AnEndpointThatAnswersOthersIsNotHung) {
  SocketWatchdog watchdog;
  SocketPair pair;
  EndpointLiveness liveness;
  std::atomic<bool> answering{true};
  std::thread others([&] {
    // Other statements (or health checks) keep getting answers.
    while (answering.load()) {
      liveness.RecordAnswer(absl::Now());
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  const absl::Time start = absl::Now();
  auto watch =
      watchdog.WatchSocket(pair.ours(), start + absl::Milliseconds(100),
                           absl::Milliseconds(100), &liveness);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(watchdog.cuts(), 0u) << "slow, not hung";
  answering.store(false);
  others.join();
  const absl::Time silent_since = liveness.last_answer();
  BlockedReadTime(pair.ours());
  const absl::Duration after_silence = absl::Now() - silent_since;
  EXPECT_GE(after_silence, absl::Milliseconds(90));
  EXPECT_LT(after_silence, absl::Milliseconds(600));
  EXPECT_TRUE(watch->Finish());
}

TEST(SocketWatchdogTest, AnEarlierWatchWakesALoopWaitingForALaterOne) {
  SocketWatchdog watchdog;
  SocketPair late;
  SocketPair early;
  auto late_watch = watchdog.WatchSocket(
      late.ours(), absl::Now() + absl::Seconds(30), absl::Seconds(30), nullptr);
  absl::SleepFor(absl::Milliseconds(20));  // the loop now sleeps for 30 s
  auto early_watch =
      watchdog.WatchSocket(early.ours(), absl::Now() + absl::Milliseconds(50),
                           absl::Milliseconds(50), nullptr);
  EXPECT_LT(BlockedReadTime(early.ours()), absl::Milliseconds(500));
  EXPECT_TRUE(early_watch->Finish());
  EXPECT_FALSE(late_watch->Finish());
}

TEST(SocketWatchdogTest, ManyWatchesEachCutOnce) {
  SocketWatchdog watchdog;
  constexpr int kSockets = 20;
  SocketPair pairs[kSockets];
  std::unique_ptr<SocketWatchdog::Watch> watches[kSockets];
  const absl::Time start = absl::Now();
  for (int i = 0; i < kSockets; ++i) {
    watches[i] = watchdog.WatchSocket(pairs[i].ours(),
                                      start + absl::Milliseconds(10 * i),
                                      absl::Milliseconds(10), nullptr);
  }
  for (int i = 0; i < kSockets; ++i) BlockedReadTime(pairs[i].ours());
  for (int i = 0; i < kSockets; ++i) EXPECT_TRUE(watches[i]->Finish());
  EXPECT_EQ(watchdog.cuts(), static_cast<uint64_t>(kSockets));
}

}  // namespace
}  // namespace userservice::mysql
