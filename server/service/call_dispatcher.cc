#include "server/service/call_dispatcher.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/support/time.h"
#include "server/common/log.h"

namespace userservice {

CompletionQueueDispatcher::PendingCallBase::PendingCallBase(
    CompletionQueueDispatcher* dispatcher, size_t method)
    : dispatcher_(dispatcher), method_(method) {}

CompletionQueueDispatcher::PendingCallBase::~PendingCallBase() {
  dispatcher_->live_calls_.fetch_sub(1);
}

bool CompletionQueueDispatcher::PendingCallBase::Over() {
  // Safe only now that the over tag has been delivered.
  cancelled_.store(context_.IsCancelled());
  return ++finished_events_ == 2;
}

CompletionQueueDispatcher::CompletionQueueDispatcher(
    DispatcherOptions options, UnparseableRequestObserver on_unparseable)
    : options_(options), on_unparseable_(std::move(on_unparseable)) {}

CompletionQueueDispatcher::~CompletionQueueDispatcher() { Shutdown(); }

void CompletionQueueDispatcher::AddTo(grpc::ServerBuilder& builder) {
  cq_ = builder.AddCompletionQueue();
}

void CompletionQueueDispatcher::Start() {
  const int threads = std::max(1, options_.threads);
  // Enough calls of every method requested ahead that arrivals never wait
  // for a thread to ask for the next one.
  for (size_t method = 0; method < methods_.size(); ++method) {
    for (int i = 0; i < threads * std::max(8, options_.max_calls_per_wake);
         ++i) {
      RequestCall(method);
    }
  }
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

void CompletionQueueDispatcher::Shutdown() {
  if (cq_ == nullptr || shutting_down_.exchange(true)) return;
  // Calls answered on other threads reply later, and their events need the
  // queue open. Each is bounded by its own deadline, which Server::Shutdown
  // has cut to the grace period by cancelling it.
  absl::Time next_report = absl::Now() + absl::Seconds(10);
  while (live_calls_.load() > 0) {
    absl::SleepFor(absl::Milliseconds(5));
    if (absl::Now() >= next_report) {
      log::Warning("waiting for calls to finish before stopping",
                   {{"calls", absl::StrCat(live_calls_.load())}});
      next_report += absl::Seconds(10);
    }
  }
  cq_->Shutdown();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void CompletionQueueDispatcher::RequestCall(size_t method) {
  if (shutting_down_.load()) return;
  live_calls_.fetch_add(1);
  methods_[method]->NewCall(*this);
}

void CompletionQueueDispatcher::Work() {
  std::vector<std::vector<PendingCallBase*>> arrived(methods_.size());
  for (auto& calls : arrived) calls.reserve(options_.max_calls_per_wake);
  size_t arrived_count = 0;
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) {
    Handle(tag, ok, arrived, arrived_count);
    // Everything else that is already here is answered in the same batch.
    while (arrived_count < static_cast<size_t>(options_.max_calls_per_wake) &&
           cq_->AsyncNext(&tag, &ok, gpr_time_0(GPR_CLOCK_MONOTONIC)) ==
               grpc::CompletionQueue::GOT_EVENT) {
      Handle(tag, ok, arrived, arrived_count);
    }
    if (arrived_count == 0) continue;
    for (size_t method = 0; method < methods_.size(); ++method) {
      if (arrived[method].empty()) continue;
      methods_[method]->Answer(arrived[method]);
      arrived[method].clear();
    }
    arrived_count = 0;
  }
}

void CompletionQueueDispatcher::Handle(
    void* tag, bool ok, std::vector<std::vector<PendingCallBase*>>& arrived,
    size_t& arrived_count) {
  auto* event = static_cast<PendingCallBase::Tag*>(tag);
  PendingCallBase* call = event->call;
  switch (event->event) {
    case PendingCallBase::Event::kArrived:
      if (!ok) {
        // The server is shutting down; this call never started, so no
        // other event will come for it.
        delete call;
        return;
      }
      RequestCall(call->method());
      if (!call->Parse()) {
        const std::string& name = methods_[call->method()]->name();
        if (on_unparseable_) on_unparseable_(name);
        call->Fail(UnparseableRequestStatus(name));
        return;
      }
      arrived[call->method()].push_back(call);
      ++arrived_count;
      return;
    case PendingCallBase::Event::kReplied:
      if (call->Replied()) delete call;
      return;
    case PendingCallBase::Event::kOver:
      if (call->Over()) delete call;
      return;
  }
}

}  // namespace userservice
