#ifndef USERSERVICE_SERVER_MYSQL_MYSQL_USER_STORE_H_
#define USERSERVICE_SERVER_MYSQL_MYSQL_USER_STORE_H_

#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "server/health/applied_position.h"
#include "server/mysql/endpoint_liveness.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/primary_demotion.h"
#include "server/mysql/query_killer.h"
#include "server/mysql/socket_watchdog.h"
#include "server/mysql/sql_status.h"
#include "server/mysql/user_rows.h"
#include "server/pool/connection_pool.h"
#include "server/repository/user_repository.h"

namespace userservice::mysql {

// Optional collaborators of a store.
struct StoreHooks {
  // Kills a statement on the server when its call is cancelled, or when the
  // client stopped waiting for it (a socket timeout leaves it running).
  QueryKiller* killer = nullptr;
  // Told when the endpoint refuses a write because it is read-only (the
  // primary's store only).
  PrimaryDemotion* demotion = nullptr;
  // Together, abandon a statement whose endpoint stopped answering: once
  // it has waited for its silence limit and the endpoint has answered
  // nothing else (no statement, no health check) for as long, its socket
  // is shut down and the call fails with UNAVAILABLE at once, instead of
  // waiting out its deadline. The store records every statement that
  // completes in `liveness`; the endpoint's health checks should too, often
  // enough that a healthy but otherwise idle endpoint is never silent for
  // `hung_timeout`. Without either, statements are never abandoned.
  SocketWatchdog* watchdog = nullptr;
  EndpointLiveness* liveness = nullptr;
  // The silence limit of writes; reads get ReadSilenceLimit of it. Zero or
  // less: never abandon.
  absl::Duration hung_timeout = absl::Seconds(1);
  // Told the replicated position every read and successful position wait
  // found applied, and forgotten when a session breaks; null: nobody.
  AppliedPosition* applied = nullptr;
};

// The users table on one MariaDB endpoint, through that endpoint's pool.
// One instance per endpoint; the primary's is also the writer.
class MysqlUserStore final : public UserReader, public UserWriter {
 public:
  // `pool` and the hooks' objects must outlive the store.
  MysqlUserStore(std::string endpoint_name, MysqlPool* pool,
                 StoreHooks hooks = {});

  absl::StatusOr<Positioned<User>> GetUser(const UserKey& key,
                                           const RequestContext& ctx) override;
  absl::StatusOr<Positioned<std::vector<User>>> GetUsersByIds(
      absl::Span<const uint64_t> ids, const RequestContext& ctx) override;
  absl::StatusOr<Positioned<std::vector<User>>> ListUsers(
      uint64_t after_id, int limit, const RequestContext& ctx) override;
  absl::StatusOr<bool> WaitForPosition(const ReplicationPosition& position,
                                       absl::Duration timeout,
                                       const RequestContext& ctx) override;

  // Without a request_id, a batch of one (CreateUsers) whose clash is then
  // named; with one, see create_requests.h.
  absl::StatusOr<Positioned<User>> CreateUser(
      const NewUser& user, const RequestContext& ctx) override;
  absl::StatusOr<std::vector<Positioned<User>>> CreateUsers(
      absl::Span<const NewUser> users, const RequestContext& ctx) override;
  absl::StatusOr<Positioned<User>> UpdateUser(
      const UserUpdate& update, const RequestContext& ctx) override;

  // Forgets idempotency keys older than `age`, at most `limit` of them in
  // one statement; returns how many went. A retry with a forgotten key is
  // an ordinary create again (ALREADY_EXISTS if the user still exists).
  absl::StatusOr<int64_t> PurgeCreateRequests(absl::Duration age, int limit,
                                              const RequestContext& ctx);
  absl::StatusOr<ReplicationPosition> DeleteUser(
      uint64_t id, int64_t expected_version,
      const RequestContext& ctx) override;

 private:
  enum class Access { kRead, kWrite };

  // Leases a connection, bounds the session's statements by the deadline,
  // runs `body` and converts failures; a connection that broke is dropped.
  // `quiet_wait` is how long `body` may legitimately wait for an answer
  // beyond the silence limit of its `access` (a replication wait).
  // A write failure that certainly did not run is marked WasNotExecuted.
  absl::Status WithConnection(
      const RequestContext& ctx, Access access,
      absl::FunctionRef<absl::Status(MysqlConnection&)> body,
      absl::Duration quiet_wait = absl::ZeroDuration());
  // RunRead for a read that `select` runs, with the endpoint's position
  // asked right after it on the same session; tells hooks_.applied what the
  // endpoint has applied.
  template <typename T>
  absl::StatusOr<Positioned<T>> ReadPositioned(
      const RequestContext& ctx,
      absl::FunctionRef<absl::StatusOr<SeenAt<T>>(MysqlConnection&)> select);
  // WithConnection for the statements of reads and of writes (and the
  // reads that are part of a write).
  absl::Status RunRead(const RequestContext& ctx,
                       absl::FunctionRef<absl::Status(MysqlConnection&)> body);
  absl::Status RunWrite(const RequestContext& ctx,
                        absl::FunctionRef<absl::Status(MysqlConnection&)> body);
  // Kills `conn`'s statement if the call is cancelled; null: no killer.
  std::unique_ptr<QueryKiller::Watch> WatchForCancel(
      const RequestContext& ctx, const MysqlConnection& conn) const;
  // Returns the session to the pool after a body ended with `outcome`
  // (`cut`: by the hang watchdog): discarded when it cannot be trusted,
  // rolled back when a transaction was left open.
  void Release(MysqlPool::Lease& lease, const SqlOutcome& outcome, bool cut);
  // Watches `conn`'s socket for a hang; null when it cannot be cut.
  std::unique_ptr<SocketWatchdog::Watch> WatchForHang(
      const MysqlConnection& conn, absl::Duration silence) const;
  absl::Duration SilenceLimit(const RequestContext& ctx, Access access) const;

  // The create path for a request that carries a request_id (see
  // create_requests.h), including the race with a concurrent retry.
  absl::StatusOr<Positioned<User>> CreateWithRequestId(
      const NewUser& user, const RequestContext& ctx);
  // Turns a bare duplicate-key failure into a message naming the field that
  // clashes (ignoring the user `own_id` itself); `original` if unknown.
  absl::Status DescribeConflict(const std::string& username,
                                const std::string& email, uint64_t own_id,
                                const RequestContext& ctx,
                                absl::Status original);

  const std::string endpoint_name_;
  MysqlPool* const pool_;
  const StoreHooks hooks_;
};

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_MYSQL_USER_STORE_H_
