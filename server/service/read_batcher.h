#ifndef USERSERVICE_SERVER_SERVICE_READ_BATCHER_H_
#define USERSERVICE_SERVER_SERVICE_READ_BATCHER_H_

// GetUser and BatchGetUsers calls answered in batches: the dispatcher's
// thread reads by id for a whole batch in one statement; lookups and reads
// that may wait go to a worker pool.

#include <cstdint>

#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"
#include "server/repository/request_context.h"
#include "server/repository/user.h"
#include "server/routing/read_router.h"
#include "server/service/failure_warnings.h"
#include "server/service/unary_call.h"
#include "server/service/worker_pool.h"
#include "userservice/v1/user_service.pb.h"

namespace userservice {

using GetUserCall = UnaryCall<v1::GetUserRequest, v1::GetUserResponse>;
using BatchGetUsersCall =
    UnaryCall<v1::BatchGetUsersRequest, v1::BatchGetUsersResponse>;

// A GetUser or BatchGetUsers call, validated and mapped to the domain.
struct ParsedRead {
  // Exactly one is set.
  GetUserCall* get_user = nullptr;
  BatchGetUsersCall* batch_get_users = nullptr;
  // GetUser: the key. By id (and for BatchGetUsers) the reads are `ids`:
  // GetUser's one id, or BatchGetUsers' in request order.
  UserKey key;
  absl::InlinedVector<uint64_t, 1> ids;
  ReadPolicy policy;
  RequestContext ctx;

  static ParsedRead GetUser(GetUserCall* call, UserKey key, ReadPolicy policy,
                            RequestContext ctx);
  static ParsedRead BatchGetUsers(BatchGetUsersCall* call,
                                  absl::Span<const uint64_t> ids,
                                  ReadPolicy policy, RequestContext ctx);
};

struct ReadBatcherOptions {
  // Threads for the reads that cannot join a batch (--lookup-workers): by
  // username or email, and session reads that may wait for a replica. They
  // would hold a dispatcher thread, which also polls the network.
  int lookup_workers = 4;
};

// Answers the reads the dispatcher took in one wake. Reads by id with the
// same consistency requirement form one batch: they share one
// `WHERE id IN (...)` statement through the router, run on the calling
// (dispatcher) thread; the router chooses its endpoint exactly as for a
// single read, and the statement starts after every call in it arrived,
// so no read is weakened. Session reads join only when a replica is known
// to have applied their tokens (the batch goes there or to the writer,
// never waits). The rest (by username or email, session reads that may
// wait for a replica) are read alone on the lookup workers. Each call's
// response token covers its own tokens and the position of the endpoint
// that served the statement.
class ReadBatcher {
 public:
  // `router` and `failures` must outlive the batcher.
  ReadBatcher(ReadRouter* router, const FailureWarnings* failures,
              ReadBatcherOptions options);
  // Answers the lookups still queued, then stops the lookup workers.
  ~ReadBatcher() = default;

  ReadBatcher(const ReadBatcher&) = delete;
  ReadBatcher& operator=(const ReadBatcher&) = delete;

  // Replies to every call in `reads`, before it returns or from a lookup
  // worker; lookups are moved out of `reads`.
  void Answer(absl::Span<ParsedRead> reads);

 private:
  bool CanJoinBatch(const ParsedRead& read) const;
  void ReadAlone(ParsedRead& read);
  // Reads by username or email.
  void ReadByKey(ParsedRead& read);
  // One statement for every id of `batch`, whose reads share a policy.
  void ReadByIds(absl::Span<ParsedRead* const> batch);

  ReadRouter* const router_;
  const FailureWarnings* const failures_;
  // Last, so that its threads stop before anything they use goes.
  WorkerPool<ParsedRead> lookup_workers_;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_READ_BATCHER_H_
