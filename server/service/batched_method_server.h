#ifndef USERSERVICE_SERVER_SERVICE_BATCHED_METHOD_SERVER_H_
#define USERSERVICE_SERVER_SERVICE_BATCHED_METHOD_SERVER_H_

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "grpc/support/time.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"
#include "server/service/unary_call.h"

namespace userservice {

struct BatchedMethodOptions {
  // Threads taking calls off the method's completion queue. Each answers
  // what has arrived at once; more threads mean more statements in flight
  // but emptier ones.
  int threads = 2;
  // Most calls one thread takes before it answers them.
  int max_batch = 128;
};

// Serves one unary method through its own completion queue: a thread that
// wakes for one call also takes every other call of that method that has
// arrived meanwhile, hands them all to `answer` at once, then sends the
// replies itself. No call is handed from thread to thread, and calls that
// arrive together can share a database round trip. On virtual machines a
// thread switch costs as much as a small query, so this is where the
// service's throughput comes from.
//
// Order: construct, AddTo(builder), BuildAndStart, Start(); on the way out
// Server::Shutdown, then Shutdown() (or the destructor).
template <typename Request, typename Response>
class BatchedMethodServer {
 public:
  using Call = UnaryCall<Request, Response>;
  // Asks gRPC for the next call of the method (the generated
  // `RequestFoo(context, request, responder, cq, cq, tag)`).
  using RequestFn = std::function<void(
      grpc::ServerContext*, Request*,
      grpc::ServerAsyncResponseWriter<Response>*,
      grpc::ServerCompletionQueue*, void* tag)>;
  // Sets every call's status (and response when it is OK).
  using AnswerFn = std::function<void(absl::Span<Call* const>)>;

  // The service behind `request` must be registered with the same builder
  // and outlive this object.
  BatchedMethodServer(RequestFn request, AnswerFn answer,
                      BatchedMethodOptions options)
      : request_(std::move(request)),
        answer_(std::move(answer)),
        options_(options) {}
  ~BatchedMethodServer() { Shutdown(); }

  BatchedMethodServer(const BatchedMethodServer&) = delete;
  BatchedMethodServer& operator=(const BatchedMethodServer&) = delete;

  void AddTo(grpc::ServerBuilder& builder) {
    cq_ = builder.AddCompletionQueue();
  }

  void Start() {
    const int threads = std::max(1, options_.threads);
    // Enough calls requested ahead that arrivals never wait for a thread to
    // ask for the next one.
    for (int i = 0; i < threads * std::max(8, options_.max_batch); ++i) {
      RequestCall();
    }
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }

  // Stops the threads once every call they hold is answered. Call after
  // Server::Shutdown, which stops new calls from arriving.
  void Shutdown() {
    if (cq_ == nullptr || shutting_down_.exchange(true)) return;
    cq_->Shutdown();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  // One call from request to deletion. The completion queue reports three
  // events per call, each under its own tag: the call arrived, its reply
  // was sent, and the call is over (which tells whether the client
  // cancelled). The object goes once the last two have both come.
  class PendingCall {
   public:
    enum class Event { kArrived, kReplied, kOver };
    struct Tag {
      PendingCall* call;
      Event event;
    };

    PendingCall() : responder_(&context_) {}

    void Ask(const RequestFn& request, grpc::ServerCompletionQueue* cq) {
      context_.AsyncNotifyWhenDone(&over_tag_);
      request(&context_, &request_, &responder_, cq, &arrived_tag_);
    }

    Call AsCall() {
      return Call{&context_, &request_, &response_,
                  [this] { return cancelled_.load(); }, grpc::Status()};
    }

    void Reply(const grpc::Status& status) {
      responder_.Finish(response_, status, &replied_tag_);
    }

    // Each returns true when the call is done with and may be deleted.
    bool Replied() { return ++finished_events_ == 2; }
    bool Over() {
      // Safe only now that the over tag has been delivered.
      cancelled_.store(context_.IsCancelled());
      return ++finished_events_ == 2;
    }

   private:
    grpc::ServerContext context_;
    Request request_;
    Response response_;
    grpc::ServerAsyncResponseWriter<Response> responder_;
    // Read by the query killer's thread while a statement runs.
    std::atomic<bool> cancelled_{false};
    std::atomic<int> finished_events_{0};
    Tag arrived_tag_{this, Event::kArrived};
    Tag replied_tag_{this, Event::kReplied};
    Tag over_tag_{this, Event::kOver};
  };

  void RequestCall() {
    if (shutting_down_.load()) return;
    auto* call = new PendingCall();
    call->Ask(request_, cq_.get());
  }

  void Work() {
    std::vector<PendingCall*> arrived;
    arrived.reserve(options_.max_batch);
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok)) {
      Handle(tag, ok, arrived);
      // Everything else that is already here goes in the same batch.
      while (static_cast<int>(arrived.size()) < options_.max_batch &&
             cq_->AsyncNext(&tag, &ok, gpr_time_0(GPR_CLOCK_MONOTONIC)) ==
                 grpc::CompletionQueue::GOT_EVENT) {
        Handle(tag, ok, arrived);
      }
      if (!arrived.empty()) Answer(arrived);
    }
  }

  // Handles one completion-queue event; a newly arrived call is appended to
  // `arrived`.
  void Handle(void* tag, bool ok, std::vector<PendingCall*>& arrived) {
    auto* event = static_cast<typename PendingCall::Tag*>(tag);
    PendingCall* call = event->call;
    switch (event->event) {
      case PendingCall::Event::kArrived:
        if (!ok) {
          // The server is shutting down; this call never started, so no
          // other event will come for it.
          delete call;
          return;
        }
        RequestCall();
        arrived.push_back(call);
        return;
      case PendingCall::Event::kReplied:
        if (call->Replied()) delete call;
        return;
      case PendingCall::Event::kOver:
        if (call->Over()) delete call;
        return;
    }
  }

  void Answer(std::vector<PendingCall*>& arrived) {
    std::vector<Call> calls;
    calls.reserve(arrived.size());
    std::vector<Call*> pointers;
    pointers.reserve(arrived.size());
    for (PendingCall* call : arrived) calls.push_back(call->AsCall());
    for (Call& call : calls) pointers.push_back(&call);
    answer_(pointers);
    for (size_t i = 0; i < arrived.size(); ++i) {
      arrived[i]->Reply(calls[i].status);
    }
    arrived.clear();
  }

  const RequestFn request_;
  const AnswerFn answer_;
  const BatchedMethodOptions options_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::atomic<bool> shutting_down_{false};
  std::vector<std::thread> threads_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_BATCHED_METHOD_SERVER_H_
