#ifndef USERSERVICE_SERVER_SERVICE_WORKER_POOL_H_
#define USERSERVICE_SERVER_SERVICE_WORKER_POOL_H_

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

// A few threads fed through one queue; each takes everything queued (up
// to `max_batch` items) as one batch, so items that pile up while the
// threads are busy form one batch: that is what lets concurrent creates
// share a commit. The threads wait on a condition, not on gRPC's pollers,
// so they never compete with the threads that read the network.
template <typename T>
class WorkerPool {
 public:
  using Process = std::function<void(std::vector<T>& batch)>;

  // `process` runs on the pool's threads, one batch at a time per thread;
  // it must not throw.
  WorkerPool(int threads, size_t max_batch, Process process)
      : max_batch_(std::max<size_t>(1, max_batch)),
        process_(std::move(process)) {
    for (int i = 0; i < std::max(1, threads); ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  // Drains the queue, then stops the threads.
  ~WorkerPool() { Shutdown(); }

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Items pushed after Shutdown are processed by the calling thread, so
  // nothing is ever dropped. Takes an rvalue so that an item is moved once,
  // into the queue.
  void Push(T&& item) {
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
        mu_.Await(absl::Condition(this, &WorkerPool::HasWorkOrStopping));
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

#endif  // USERSERVICE_SERVER_SERVICE_WORKER_POOL_H_
