#ifndef USERSERVICE_SERVER_TESTING_IN_PROCESS_USER_SERVICE_H_
#define USERSERVICE_SERVER_TESTING_IN_PROCESS_USER_SERVICE_H_

// Test-only: UserServiceImpl and its CompletionQueueDispatcher behind an
// in-process gRPC server, wired as user_server wires them, and helpers for
// the calls the service tests send. Needs userservice_service.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/repository/user.h"
#include "server/repository/user_repository.h"
#include "server/routing/read_router.h"
#include "server/service/call_dispatcher.h"
#include "server/service/unparseable_request.h"
#include "server/service/user_service_impl.h"
#include "server/testing/fixed_topology.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userservice {

inline User MakeUser(uint64_t id, absl::string_view username) {
  User user;
  user.id = id;
  user.username = std::string(username);
  user.email = absl::StrCat(username, "@example.com");
  user.create_time = absl::FromUnixMicros(1700000000000000 + id);
  user.update_time = absl::FromUnixMicros(1700000500654321);
  user.version = static_cast<int64_t>(id % 5) + 1;
  return user;
}

// A position in another domain than WritePosition's.
inline ReplicationPosition ReplicaPosition() {
  return *ReplicationPosition::Parse("1-2-77");
}

inline ReplicationPosition WritePosition() {
  return *ReplicationPosition::Parse("0-1-4242");
}

inline std::string NoMetadata() { return "<no x-served-by>"; }

// The x-served-by initial metadata of a finished call.
inline std::string ServedBy(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  if (metadata.count(kServedByMetadataKey) != 1) {
    return metadata.count(kServedByMetadataKey) == 0 ? NoMetadata()
                                                     : "<repeated>";
  }
  const grpc::string_ref value = metadata.find(kServedByMetadataKey)->second;
  return std::string(value.data(), value.size());
}

// UserServiceImpl over a primary and one replica ("replica-0"), with the
// dispatcher that serves its GetUser and CreateUser, behind an in-process
// gRPC server with the unparseable-request interceptor, as the app wires
// them.
class InProcessUserService {
 public:
  ~InProcessUserService() { Stop(); }

  void Start(UserWriter* writer, UserReader* primary, UserReader* replica,
             ServiceOptions options,
             DispatcherOptions dispatcher = DispatcherOptions()) {
    topology_ = PrimaryWithReplicas({"primary", "replica-0"});
    router_ = std::make_unique<ReadRouter>(
        std::vector<NamedReader>{
            {"primary", primary},
            {"replica-0", replica, nullptr, &replica_applied_}},
        topology_.get(), RouterOptions());
    service_ = std::make_unique<UserServiceImpl>(writer, router_.get(),
                                                 std::move(options));
    dispatcher_ = std::make_unique<CompletionQueueDispatcher>(
        dispatcher, RecordUnparseable());
    service_->AddAsyncMethodsTo(*dispatcher_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        MakeUnparseableRequestInterceptorFactory(RecordUnparseable()));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    dispatcher_->AddTo(builder);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    dispatcher_->Start();
    channel_ = server_->InProcessChannel(grpc::ChannelArguments());
    stub_ = v1::UserService::NewStub(channel_);
  }

  void Stop() {
    stub_.reset();
    channel_.reset();
    if (server_ != nullptr) {
      server_->Shutdown();
      server_->Wait();
    }
    dispatcher_.reset();
    server_.reset();
    service_.reset();
    router_.reset();
    topology_.reset();
  }

  v1::UserService::Stub* stub() { return stub_.get(); }
  grpc::Channel& channel() { return *channel_; }
  // The methods of the requests that did not parse, in order.
  std::vector<std::string> unparseable() {
    absl::MutexLock lock(&mu_);
    return unparseable_;
  }
  // What the router knows replica-0 to have applied.
  AppliedPosition& replica_applied() { return replica_applied_; }

 private:
  UnparseableRequestObserver RecordUnparseable() {
    return [this](const std::string& method) {
      absl::MutexLock lock(&mu_);
      unparseable_.push_back(method);
    };
  }

  absl::Mutex mu_;
  std::vector<std::string> unparseable_ ABSL_GUARDED_BY(mu_);
  AppliedPosition replica_applied_;
  std::unique_ptr<Topology> topology_;
  std::unique_ptr<ReadRouter> router_;
  std::unique_ptr<UserServiceImpl> service_;
  std::unique_ptr<CompletionQueueDispatcher> dispatcher_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::UserService::Stub> stub_;
};

// A call started with the stub's callback API, and what it ended with.
template <typename Response>
struct AsyncReply {
  grpc::ClientContext context;
  Response response;
  grpc::Status status;
  absl::Notification done;
};

// Starts a call without waiting for it; `start(context, request, response,
// on_done)` is the stub's async method. The reply lives in `replies`.
template <typename Response, typename Request, typename Start>
AsyncReply<Response>* SendAsync(
    std::vector<std::unique_ptr<AsyncReply<Response>>>& replies,
    const Request& request, Start start) {
  replies.push_back(std::make_unique<AsyncReply<Response>>());
  AsyncReply<Response>* reply = replies.back().get();
  reply->context.set_deadline(std::chrono::system_clock::now() +
                              std::chrono::seconds(20));
  start(&reply->context, &request, &reply->response,
        [reply](grpc::Status status) {
          reply->status = std::move(status);
          reply->done.Notify();
        });
  return reply;
}

// Sends `held`, which `gate` holds in the only thread that could answer
// the rest, sends `requests` meanwhile, then lets everything go and waits
// for all; returns the replies to `requests`.
template <typename Response, typename Request, typename Gate, typename Send>
std::vector<AsyncReply<Response>*> SendWhileHeld(
    Gate& gate, Send send, const Request& held,
    const std::vector<Request>& requests) {
  AsyncReply<Response>* first = send(held);
  gate.WaitUntilHeld();
  std::vector<AsyncReply<Response>*> replies;
  for (const Request& request : requests) replies.push_back(send(request));
  // The calls must be queued before the thread is let go; in-process
  // delivery takes microseconds, this allows for a loaded machine.
  absl::SleepFor(absl::Milliseconds(300));
  gate.Release();
  EXPECT_TRUE(first->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_TRUE(first->status.ok()) << first->status.error_message();
  for (AsyncReply<Response>* reply : replies) {
    EXPECT_TRUE(reply->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  }
  return replies;
}

}  // namespace userservice

#endif  // USERSERVICE_SERVER_TESTING_IN_PROCESS_USER_SERVICE_H_
