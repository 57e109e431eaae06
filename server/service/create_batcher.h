#ifndef USERSERVICE_SERVER_SERVICE_CREATE_BATCHER_H_
#define USERSERVICE_SERVER_SERVICE_CREATE_BATCHER_H_

// CreateUser calls written in batches on the write workers: the creates of
// one batch share one multi-row INSERT and one commit.

#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "server/repository/request_context.h"
#include "server/repository/user.h"
#include "server/repository/user_repository.h"
#include "server/service/create_observer.h"
#include "server/service/failure_warnings.h"
#include "server/service/unary_call.h"
#include "server/service/worker_pool.h"
#include "userservice/v1/user_service.pb.h"

namespace userservice {

using CreateUserCall = UnaryCall<v1::CreateUserRequest, v1::CreateUserResponse>;

// A CreateUser call, validated and mapped to the domain.
struct ParsedCreateUser {
  CreateUserCall* call;
  NewUser user;
  RequestContext ctx;
};

struct CreateBatcherOptions {
  // Threads inserting new users (--write-workers). A commit waits for the
  // primary's disk; these threads wait for it instead of the dispatcher's.
  int write_workers = 2;
  // Most creates one batch takes, and so one INSERT carries
  // (--write-batch-max).
  int write_batch_max = 64;
  // Told how creates were written (metrics); may be null.
  CreateObserver* observer = nullptr;
};

// Writes CreateUser calls on the write workers. A write worker takes every
// create queued meanwhile as one batch: those without a request_id share
// one multi-row INSERT (UserWriter::CreateUsers) and one commit, all or
// nothing, and a batch that clashes with a unique key is retried in
// halves, so every caller gets the answer it would have had alone. Creates
// with a request_id (idempotent, a transaction of their own) are written
// alone, and so is a batch of one.
class CreateBatcher {
 public:
  // `writer` and `failures` must outlive the batcher.
  CreateBatcher(UserWriter* writer, const FailureWarnings* failures,
                CreateBatcherOptions options);
  // Writes the creates still queued, then stops the write workers.
  ~CreateBatcher() = default;

  CreateBatcher(const CreateBatcher&) = delete;
  CreateBatcher& operator=(const CreateBatcher&) = delete;

  // Queues `create`; a write worker replies to its call.
  void Add(ParsedCreateUser&& create) {
    write_workers_.Push(std::move(create));
  }

 private:
  // Each runs on a write worker.
  void WriteBatch(std::vector<ParsedCreateUser>& batch);
  void InsertBatch(absl::Span<ParsedCreateUser* const> batch);
  void InsertAlone(ParsedCreateUser& create);

  UserWriter* const writer_;
  const FailureWarnings* const failures_;
  CreateObserver* const observer_;
  // Last, so that its threads stop before anything they use goes.
  WorkerPool<ParsedCreateUser> write_workers_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_CREATE_BATCHER_H_
