#ifndef USERSERVICE_SERVER_COMMON_BATCH_QUEUE_H_
#define USERSERVICE_SERVER_COMMON_BATCH_QUEUE_H_

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace userservice {

// Work items handed to a few threads, each of which takes everything queued
// (up to a limit) in one go. Items that pile up while the threads are busy
// are then handled together: that is what lets concurrent creates share a
// commit. The threads wait on a condition, not on gRPC's pollers, so they
// never compete with the threads that read the network.
template <typename T>
class BatchQueue {
 public:
  using Process = std::function<void(std::vector<T>& batch)>;

  // `process` runs on the queue's threads; it must not throw.
  BatchQueue(int threads, size_t max_batch, Process process)
      : max_batch_(std::max<size_t>(1, max_batch)),
        process_(std::move(process)) {
    for (int i = 0; i < std::max(1, threads); ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  // Drains the queue, then stops the threads.
  ~BatchQueue() { Shutdown(); }

  BatchQueue(const BatchQueue&) = delete;
  BatchQueue& operator=(const BatchQueue&) = delete;

  // Items pushed after Shutdown are processed by the calling thread, so
  // nothing is ever dropped.
  void Push(T item) {
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        items_.push_back(std::move(item));
        return;
      }
    }
    std::vector<T> alone;
    alone.push_back(std::move(item));
    process_(alone);
  }

  // Processes what is queued, then joins the threads.
  void Shutdown() {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  void Work() {
    std::vector<T> batch;
    batch.reserve(max_batch_);
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &BatchQueue::HasWorkOrStopping));
        if (items_.empty()) return;  // stopping, and nothing left
        while (!items_.empty() && batch.size() < max_batch_) {
          batch.push_back(std::move(items_.front()));
          items_.pop_front();
        }
      }
      process_(batch);
      batch.clear();
    }
  }

  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !items_.empty();
  }

  const size_t max_batch_;
  const Process process_;
  absl::Mutex mu_;
  std::deque<T> items_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_COMMON_BATCH_QUEUE_H_
