#include "server/service/worker_pool.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userservice {
namespace {

using ::testing::ElementsAre;

// Records the batches it was given; the first one waits for a gate, so that
// later items pile up behind it.
class Recorder {
 public:
  void Process(std::vector<int>& batch) {
    bool first = false;
    {
      absl::MutexLock lock(&mu_);
      batches_.push_back(batch);
      first = !entered_.HasBeenNotified();
      if (first) entered_.Notify();
    }
    if (first) {
      gate_.WaitForNotificationWithTimeout(absl::Seconds(20));
    }
  }
  void WaitUntilHeld() {
    entered_.WaitForNotificationWithTimeout(absl::Seconds(20));
  }
  void Release() { gate_.Notify(); }
  std::vector<std::vector<int>> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::vector<int>> batches_ ABSL_GUARDED_BY(mu_);
  absl::Notification entered_;
  absl::Notification gate_;
};

TEST(WorkerPoolTest, ItemsQueuedWhileTheThreadIsBusyAreTakenTogether) {
  Recorder recorder;
  {
    WorkerPool<int> pool(1, 3,
                         [&](std::vector<int>& b) { recorder.Process(b); });
    pool.Push(1);
    recorder.WaitUntilHeld();
    for (int i = 2; i <= 6; ++i) pool.Push(int{i});
    recorder.Release();
  }  // the destructor drains the pool
  EXPECT_THAT(
      recorder.batches(),
      ElementsAre(ElementsAre(1), ElementsAre(2, 3, 4), ElementsAre(5, 6)));
}

TEST(WorkerPoolTest, ShutdownProcessesWhatIsQueuedAndLaterPushesInline) {
  Recorder recorder;
  WorkerPool<int> pool(2, 10,
                       [&](std::vector<int>& b) { recorder.Process(b); });
  pool.Push(1);
  recorder.WaitUntilHeld();
  pool.Push(2);
  recorder.Release();
  pool.Shutdown();
  pool.Push(3);
  std::vector<int> seen;
  for (const std::vector<int>& batch : recorder.batches()) {
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  EXPECT_THAT(seen, ElementsAre(1, 2, 3));
}

}  // namespace
}  // namespace userservice
