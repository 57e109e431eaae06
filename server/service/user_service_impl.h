#ifndef USERSERVICE_SERVER_SERVICE_USER_SERVICE_IMPL_H_
#define USERSERVICE_SERVER_SERVICE_USER_SERVICE_IMPL_H_

#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/repository/user_repository.h"
#include "server/routing/read_router.h"
#include "server/service/create_observer.h"
#include "server/service/unary_call.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userservice {

template <typename T>
class BatchQueue;
namespace observability {
class LineLimiter;
}  // namespace observability

struct ServiceOptions {
  // Stands in for CONSISTENCY_UNSPECIFIED.
  ReadConsistency default_consistency = ReadConsistency::kEventual;
  // Deadline given to calls that arrive without one, so that no call can
  // hold a connection or a thread forever.
  absl::Duration default_deadline = absl::Seconds(30);
  // Longest a call may run on the server whatever deadline the client set:
  // the work of a call with a later deadline stops at this cap and it
  // returns DEADLINE_EXCEEDED.
  absl::Duration max_deadline = absl::Minutes(5);
  // Threads inserting the creates that arrive (see AnswerCreateUsers), and
  // the most creates one insert takes.
  int write_workers = 2;
  int write_batch_max = 64;
  // Threads for GetUser calls that cannot share a statement: lookups by
  // username or email, and session reads that may wait for a replica.
  int lookup_workers = 4;
  // Most "call failed" warnings per second for each method and code; the
  // next one written counts those left out. 0: no limit.
  int failure_warnings_per_second = 20;
  // Told how creates were written (metrics); may be null.
  CreateObserver* create_observer = nullptr;
};

using GetUserCall = UnaryCall<v1::GetUserRequest, v1::GetUserResponse>;
using CreateUserCall =
    UnaryCall<v1::CreateUserRequest, v1::CreateUserResponse>;

// The gRPC surface: validates requests, converts proto <-> domain, sends
// writes to the primary's writer and reads through the router, and maps
// errors to gRPC statuses.
//
// GetUser and CreateUser, the hot paths, are async methods:
// BatchedUserMethods' threads take the calls that have arrived from a
// completion queue and hand them to AnswerGetUsers / AnswerCreateUsers
// together. Those answer at once what costs one short statement and pass
// the rest (commits, lookups, waits for a replica) to the service's own
// threads, so the few threads that read the network never block for
// long. The other methods are ordinary sync handlers.
class UserServiceImpl final
    : public v1::UserService::WithAsyncMethod_GetUser<
          v1::UserService::WithAsyncMethod_CreateUser<
              v1::UserService::Service>> {
 public:
  // `writer` and `router` must outlive the service.
  UserServiceImpl(UserWriter* writer, ReadRouter* router,
                  ServiceOptions options);
  // Answers what its threads still hold, then stops them.
  ~UserServiceImpl() override;

  // Answers CreateUser calls: invalid ones at once, the rest on the write
  // workers. A write worker takes every create queued meanwhile; those
  // without a request_id share one multi-row INSERT and one commit, all or
  // nothing, and a batch that clashes is retried in halves, so every caller
  // gets the answer it would have had alone. Creates with a request_id
  // (idempotent, a transaction of their own) go one by one.
  void AnswerCreateUsers(absl::Span<CreateUserCall* const> calls);
  // Answers GetUser calls that arrived together. Reads by id with the same
  // consistency requirement share one `WHERE id IN (...)` statement, run on
  // the calling thread; the router chooses its endpoint exactly as for a
  // single read, and it starts after every call in it arrived, so no read
  // is weakened. The rest (by username or email, session reads that may
  // wait for a replica) go to the lookup workers one by one.
  void AnswerGetUsers(absl::Span<GetUserCall* const> calls);
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
  struct ParsedGetUser;

  RequestContext MakeContext(grpc::ServerContextBase& context) const;
  // The one place a call's absl::Status becomes its grpc::Status; logs
  // server-side failures.
  grpc::Status Finish(const grpc::ServerContextBase& context,
                      absl::string_view method,
                      const absl::Status& status) const;
  absl::Time DeadlineOf(const grpc::ServerContextBase& context) const;
  struct ParsedCreateUser;

  void AnswerOne(ParsedGetUser& call);
  void AnswerGroup(absl::Span<ParsedGetUser* const> group);
  // Runs on a write worker.
  void CreateBatch(std::vector<ParsedCreateUser>& batch);
  void CreateTogether(absl::Span<ParsedCreateUser* const> group);
  void CreateOne(ParsedCreateUser& create);

  UserWriter* const writer_;
  ReadRouter* const router_;
  const ServiceOptions options_;
  const std::unique_ptr<observability::LineLimiter> failure_warnings_;
  // Last, so that their threads stop before anything they use goes.
  std::unique_ptr<BatchQueue<ParsedGetUser>> lookups_;
  std::unique_ptr<BatchQueue<ParsedCreateUser>> creates_;
};

// Initial-metadata key naming the endpoint that served a read.
inline constexpr char kServedByMetadataKey[] = "x-served-by";

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_USER_SERVICE_IMPL_H_
