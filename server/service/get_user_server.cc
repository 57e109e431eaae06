#include "server/service/get_user_server.h"

#include <algorithm>
#include <utility>

#include "grpc/support/time.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"

namespace userservice {

// One GetUser call from request to deletion. The completion queue reports
// three events per call, each under its own tag: the call arrived, its
// reply was sent, and the call is over (which tells whether the client
// cancelled). The object goes once the last two have both come.
class GetUserServer::Call {
 public:
  enum class Event { kArrived, kReplied, kOver };

  struct Tag {
    Call* call;
    Event event;
  };

  Call() : responder_(&context_) {}

  void Request(UserServiceImpl& service, grpc::ServerCompletionQueue* cq) {
    context_.AsyncNotifyWhenDone(&over_tag_);
    service.RequestGetUser(&context_, &request_, &responder_, cq, cq,
                           &arrived_tag_);
  }

  GetUserCall AsGetUserCall() {
    return GetUserCall{&context_, &request_, &response_,
                       [this] { return cancelled_.load(); }, grpc::Status()};
  }

  void Reply(const grpc::Status& status) {
    responder_.Finish(response_, status, &replied_tag_);
  }

  // Returns true when the call is done with and may be deleted.
  bool Replied() { return ++finished_events_ == 2; }
  bool Over() {
    // Safe only now that the over tag has been delivered.
    cancelled_.store(context_.IsCancelled());
    return ++finished_events_ == 2;
  }

 private:
  grpc::ServerContext context_;
  v1::GetUserRequest request_;
  v1::GetUserResponse response_;
  grpc::ServerAsyncResponseWriter<v1::GetUserResponse> responder_;
  // Read by the query killer's thread while a statement runs.
  std::atomic<bool> cancelled_{false};
  std::atomic<int> finished_events_{0};
  Tag arrived_tag_{this, Event::kArrived};
  Tag replied_tag_{this, Event::kReplied};
  Tag over_tag_{this, Event::kOver};
};

GetUserServer::GetUserServer(UserServiceImpl* service,
                             GetUserServerOptions options)
    : service_(service), options_(options) {}

GetUserServer::~GetUserServer() { Shutdown(); }

void GetUserServer::AddTo(grpc::ServerBuilder& builder) {
  cq_ = builder.AddCompletionQueue();
}

void GetUserServer::Start() {
  const int threads = std::max(1, options_.threads);
  // Enough calls requested ahead that arrivals never wait for a thread to
  // ask for the next one.
  for (int i = 0; i < threads * std::max(8, options_.max_batch); ++i) {
    RequestCall();
  }
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

void GetUserServer::Shutdown() {
  if (cq_ == nullptr || shutting_down_.exchange(true)) return;
  cq_->Shutdown();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void GetUserServer::RequestCall() {
  if (shutting_down_.load()) return;
  auto* call = new Call();
  call->Request(*service_, cq_.get());
}

void GetUserServer::Work() {
  std::vector<Call*> arrived;
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

void GetUserServer::Handle(void* tag, bool ok, std::vector<Call*>& arrived) {
  auto* event = static_cast<Call::Tag*>(tag);
  Call* call = event->call;
  switch (event->event) {
    case Call::Event::kArrived:
      if (!ok) {
        // The server is shutting down; this call never started, so no
        // other event will come for it.
        delete call;
        return;
      }
      RequestCall();
      arrived.push_back(call);
      return;
    case Call::Event::kReplied:
      if (call->Replied()) delete call;
      return;
    case Call::Event::kOver:
      if (call->Over()) delete call;
      return;
  }
}

void GetUserServer::Answer(std::vector<Call*>& arrived) {
  std::vector<GetUserCall> calls;
  calls.reserve(arrived.size());
  std::vector<GetUserCall*> pointers;
  pointers.reserve(arrived.size());
  for (Call* call : arrived) calls.push_back(call->AsGetUserCall());
  for (GetUserCall& call : calls) pointers.push_back(&call);
  service_->AnswerGetUsers(pointers);
  for (size_t i = 0; i < arrived.size(); ++i) arrived[i]->Reply(calls[i].status);
  arrived.clear();
}

}  // namespace userservice
