#ifndef USERSERVICE_SERVER_SERVICE_GET_USER_SERVER_H_
#define USERSERVICE_SERVER_SERVICE_GET_USER_SERVER_H_

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "grpcpp/server_builder.h"
#include "server/service/user_service_impl.h"

namespace userservice {

struct GetUserServerOptions {
  // Threads taking GetUser calls off the completion queue. Each answers
  // what has arrived at once; more threads mean more statements in flight
  // but emptier ones.
  int threads = 2;
  // Most calls one thread takes before it answers them.
  int max_batch = 128;
};

// Serves UserService.GetUser through a completion queue: a thread that wakes
// for one call also takes every other call that has arrived meanwhile and
// answers them all with UserServiceImpl::AnswerGetUsers, then sends the
// replies itself. No call is handed from thread to thread, and reads that
// arrive together share a database round trip. On virtual machines a
// thread switch costs as much as a small query, so this is where the
// service's read throughput comes from.
//
// Order: construct, AddTo(builder), BuildAndStart, Start(); on the way out
// Server::Shutdown, then Shutdown() (or the destructor).
class GetUserServer {
 public:
  // `service` must outlive this object and be registered with the same
  // builder.
  GetUserServer(UserServiceImpl* service, GetUserServerOptions options);
  ~GetUserServer();

  GetUserServer(const GetUserServer&) = delete;
  GetUserServer& operator=(const GetUserServer&) = delete;

  void AddTo(grpc::ServerBuilder& builder);
  void Start();
  // Stops the threads once every call they hold is answered. Call after
  // Server::Shutdown, which stops new calls from arriving.
  void Shutdown();

 private:
  class Call;

  void Work();
  void RequestCall();
  // Handles one completion-queue event; a newly arrived call is appended to
  // `arrived`.
  void Handle(void* tag, bool ok, std::vector<Call*>& arrived);
  void Answer(std::vector<Call*>& arrived);

  UserServiceImpl* const service_;
  const GetUserServerOptions options_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::atomic<bool> shutting_down_{false};
  std::vector<std::thread> threads_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_GET_USER_SERVER_H_
