#ifndef USERSERVICE_SERVER_SERVICE_USER_SERVICE_IMPL_H_
#define USERSERVICE_SERVER_SERVICE_USER_SERVICE_IMPL_H_

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/repository/user_repository.h"
#include "server/routing/read_router.h"
#include "server/service/create_batcher.h"
#include "server/service/failure_warnings.h"
#include "server/service/read_batcher.h"
#include "server/service/served_by.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userservice {

class CompletionQueueDispatcher;

// Each default is the user_server flag's default.
struct ServiceOptions {
  // Stands in for CONSISTENCY_UNSPECIFIED (--default-consistency).
  ReadConsistency default_consistency = ReadConsistency::kEventual;
  // Deadline given to calls that arrive without one (--default-deadline),
  // so that no call can hold a connection or a thread forever.
  absl::Duration default_deadline = absl::Seconds(30);
  // Longest a call may run on the server whatever deadline the client set
  // (--max-deadline): the work of a call with a later deadline stops at
  // this cap and it returns DEADLINE_EXCEEDED.
  absl::Duration max_deadline = absl::Minutes(5);
  // Most "call failed" warnings per second for each method and code
  // (--failure-log-limit); see FailureWarnings. 0: no limit.
  int failure_warnings_per_second = 20;
  ReadBatcherOptions reads;
  CreateBatcherOptions creates;
};

// The gRPC surface of userservice.v1.UserService. Every method reads as:
// validate and map the request (user_mapper.h, validation.h), call the
// writer, the router or a batcher, reply (FailureWarnings::ToReply).
//
// GetUser, BatchGetUsers and CreateUser, the hot paths, are async methods:
// the threads of a CompletionQueueDispatcher (call_dispatcher.h) take the
// calls that have arrived and hand them over as one batch (see
// AddAsyncMethodsTo). Reads go to the ReadBatcher, which answers reads by
// id at once, on that thread, and hands lookups to its workers; creates go
// to the CreateBatcher's write workers. So the few threads that read the
// network never block for long. ListUsers, UpdateUser and DeleteUser are
// ordinary sync handlers.
class UserServiceImpl final
    : public v1::UserService::WithRawMethod_BatchGetUsers<
          v1::UserService::WithRawMethod_GetUser<
              v1::UserService::WithRawMethod_CreateUser<
                  v1::UserService::Service>>> {
 public:
  // `writer` and `router` must outlive the service. Destroying it answers
  // what the batchers' workers still hold, then stops them.
  UserServiceImpl(UserWriter* writer, ReadRouter* router,
                  ServiceOptions options);

  // Has `dispatcher` serve GetUser, BatchGetUsers and CreateUser. Call before
  // dispatcher.AddTo(builder); the service must outlive the dispatcher.
  void AddAsyncMethodsTo(CompletionQueueDispatcher& dispatcher);

  grpc::Status ListUsers(grpc::ServerContext* context,
                         const v1::ListUsersRequest* request,
                         v1::ListUsersResponse* response) override;
  grpc::Status UpdateUser(grpc::ServerContext* context,
                          const v1::UpdateUserRequest* request,
                          v1::UpdateUserResponse* response) override;
  grpc::Status DeleteUser(grpc::ServerContext* context,
                          const v1::DeleteUserRequest* request,
                          v1::DeleteUserResponse* response) override;

 private:
  // The GetUser and CreateUser calls one dispatcher thread took, on that
  // thread.
  void AnswerGetUsers(absl::Span<GetUserCall* const> calls);
  void AnswerBatchGetUsers(absl::Span<BatchGetUsersCall* const> calls);
  void AnswerCreateUsers(absl::Span<CreateUserCall* const> calls);

  absl::Time DeadlineOf(const grpc::ServerContextBase& context) const;
  RequestContext MakeContext(grpc::ServerContextBase& context) const;

  UserWriter* const writer_;
  ReadRouter* const router_;
  const ServiceOptions options_;
  const FailureWarnings failure_warnings_;
  // Last, so that their workers stop (creates first) before anything they
  // use goes.
  ReadBatcher read_batcher_;
  CreateBatcher create_batcher_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_USER_SERVICE_IMPL_H_
