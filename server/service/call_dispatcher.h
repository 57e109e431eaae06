#ifndef USERSERVICE_SERVER_SERVICE_CALL_DISPATCHER_H_
#define USERSERVICE_SERVER_SERVICE_CALL_DISPATCHER_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_unary_call.h"
#include "grpcpp/support/byte_buffer.h"
#include "server/service/unary_call.h"
#include "server/service/unparseable_request.h"

namespace userservice {

struct DispatcherOptions {
  // Threads taking calls off the completion queue (--read-workers). Every
  // thread waiting there also polls gRPC's sockets, and each one more costs
  // throughput on virtual machines, so keep it small and hand slow work to
  // threads that wait elsewhere.
  int threads = 2;
  // Most calls one thread takes in one wake before it answers them
  // (--read-batch-max); it bounds the calls one read statement answers.
  int max_calls_per_wake = 128;
};

// Serves unary methods through one gRPC completion queue: a thread that
// wakes for one call also takes every other call that has arrived
// meanwhile and hands each method's calls to that method's answer function
// as one batch. The calls of one batch can so share a database round
// trip, and no call is handed from thread to thread unless its answer
// function chooses to (for work that would hold the thread). A call is
// answered with UnaryCall::Reply, from any thread.
//
// Methods are raw (the generated WithRawMethod_ mixins): the dispatcher
// parses each request itself, so that one whose bytes do not parse is
// answered INVALID_ARGUMENT (unparseable_request.h) and reported, where
// gRPC would cancel it with INTERNAL before any code of ours saw it.
//
// Order: construct, AddMethod..., AddTo(builder), BuildAndStart, Start();
// on the way out Server::Shutdown, then Shutdown() (or the destructor),
// while whatever answers calls on other threads still runs.
class CompletionQueueDispatcher {
 public:
  // The generated raw `RequestFoo(context, payload, responder, cq, cq,
  // tag)`.
  using RequestFn =
      std::function<void(grpc::ServerContext*, grpc::ByteBuffer*,
                         grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>*,
                         grpc::ServerCompletionQueue*, void* tag)>;
  template <typename Request, typename Response>
  using AnswerFn =
      std::function<void(absl::Span<UnaryCall<Request, Response>* const>)>;

  // `on_unparseable` (may be empty) is told of each request that does not
  // parse.
  explicit CompletionQueueDispatcher(
      DispatcherOptions options,
      UnparseableRequestObserver on_unparseable = nullptr);
  ~CompletionQueueDispatcher();

  CompletionQueueDispatcher(const CompletionQueueDispatcher&) = delete;
  CompletionQueueDispatcher& operator=(const CompletionQueueDispatcher&) =
      delete;

  // `request` asks gRPC for the next call of `name` ("/pkg.Service/Foo");
  // the service behind it must be registered with the builder and outlive
  // this object.
  template <typename Request, typename Response>
  void AddMethod(std::string name, RequestFn request,
                 AnswerFn<Request, Response> answer) {
    methods_.push_back(std::make_unique<Method<Request, Response>>(
        std::move(name), std::move(request), std::move(answer),
        methods_.size()));
  }

  void AddTo(grpc::ServerBuilder& builder);
  void Start();
  // Waits until every call is answered, then stops the threads. Call after
  // Server::Shutdown, which stops new calls from arriving.
  void Shutdown();

 private:
  // One call from request to deletion. The completion queue reports three
  // events per call, each under its own tag: the call arrived, its reply
  // was sent, and the call is over (which tells whether the client
  // cancelled). The object goes once the last two have both come.
  class PendingCallBase {
   public:
    enum class Event { kArrived, kReplied, kOver };
    struct Tag {
      PendingCallBase* call;
      Event event;
    };

    PendingCallBase(CompletionQueueDispatcher* dispatcher, size_t method);
    virtual ~PendingCallBase();

    size_t method() const { return method_; }
    // On arrival: whether the request's bytes parse; if not, the call must
    // be answered with Fail.
    virtual bool Parse() = 0;
    virtual void Fail(const grpc::Status& status) = 0;
    // Each returns true when the call is done with and may be deleted.
    bool Replied() { return ++finished_events_ == 2; }
    bool Over();

   protected:
    grpc::ServerContext context_;
    // Read by other threads (the query killer's) while a statement runs.
    std::atomic<bool> cancelled_{false};
    Tag arrived_tag_{this, Event::kArrived};
    Tag replied_tag_{this, Event::kReplied};
    Tag over_tag_{this, Event::kOver};

   private:
    CompletionQueueDispatcher* const dispatcher_;
    const size_t method_;
    std::atomic<int> finished_events_{0};
  };

  template <typename Request, typename Response>
  class PendingCall final : public PendingCallBase,
                            public UnaryCall<Request, Response> {
   public:
    PendingCall(CompletionQueueDispatcher* dispatcher, size_t method)
        : PendingCallBase(dispatcher, method), responder_(&context_) {}

    void Ask(const RequestFn& request, grpc::ServerCompletionQueue* cq) {
      context_.AsyncNotifyWhenDone(&over_tag_);
      request(&context_, &payload_, &responder_, cq, &arrived_tag_);
    }

    bool Parse() override {
      // What gRPC's generated code would do, releasing the payload.
      return grpc::SerializationTraits<Request>::Deserialize(&payload_,
                                                             &request_)
          .ok();
    }
    void Fail(const grpc::Status& status) override {
      responder_.FinishWithError(status, &replied_tag_);
    }

    grpc::ServerContextBase& context() override { return context_; }
    const Request& request() const override { return request_; }
    Response& response() override { return response_; }
    bool Cancelled() const override { return cancelled_.load(); }
    void Reply(const grpc::Status& status) override {
      if (!status.ok()) return Fail(status);
      grpc::ByteBuffer reply;
      bool own_buffer = false;
      const grpc::Status serialized =
          grpc::SerializationTraits<Response>::Serialize(response_, &reply,
                                                         &own_buffer);
      if (!serialized.ok()) return Fail(serialized);
      responder_.Finish(reply, status, &replied_tag_);
    }

   private:
    grpc::ByteBuffer payload_;
    Request request_;
    Response response_;
    grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder_;
  };

  class MethodBase {
   public:
    virtual ~MethodBase() = default;
    // Asks gRPC for the method's next call (through the dispatcher's
    // RequestCall, which counts it).
    virtual void NewCall(CompletionQueueDispatcher& dispatcher) = 0;
    virtual void Answer(std::vector<PendingCallBase*>& arrived) = 0;
    virtual const std::string& name() const = 0;
  };

  template <typename Request, typename Response>
  class Method final : public MethodBase {
   public:
    Method(std::string name, RequestFn request,
           AnswerFn<Request, Response> answer, size_t index)
        : name_(std::move(name)),
          request_(std::move(request)),
          answer_(std::move(answer)),
          index_(index) {}

    void NewCall(CompletionQueueDispatcher& dispatcher) override {
      auto* call = new PendingCall<Request, Response>(&dispatcher, index_);
      call->Ask(request_, dispatcher.cq_.get());
    }

    void Answer(std::vector<PendingCallBase*>& arrived) override {
      std::vector<UnaryCall<Request, Response>*> calls;
      calls.reserve(arrived.size());
      for (PendingCallBase* call : arrived) {
        calls.push_back(static_cast<PendingCall<Request, Response>*>(call));
      }
      answer_(calls);
    }

    const std::string& name() const override { return name_; }

   private:
    const std::string name_;
    const RequestFn request_;
    const AnswerFn<Request, Response> answer_;
    const size_t index_;
  };

  void RequestCall(size_t method);
  void Work();
  // Handles one completion-queue event; a newly arrived call is appended to
  // its method's list in `arrived`.
  void Handle(void* tag, bool ok,
              std::vector<std::vector<PendingCallBase*>>& arrived,
              size_t& arrived_count);

  const DispatcherOptions options_;
  const UnparseableRequestObserver on_unparseable_;
  std::vector<std::unique_ptr<MethodBase>> methods_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::atomic<bool> shutting_down_{false};
  // Calls requested or in progress; the queue may close only at zero.
  std::atomic<long> live_calls_{0};
  std::vector<std::thread> threads_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_CALL_DISPATCHER_H_
