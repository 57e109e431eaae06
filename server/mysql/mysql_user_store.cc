#include "server/mysql/mysql_user_store.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cppconn/datatype.h"
#include "cppconn/prepared_statement.h"
#include "cppconn/resultset.h"
#include "server/mysql/create_requests.h"
#include "server/mysql/sql_status.h"
#include "server/mysql/user_rows.h"
#include "server/repository/write_outcome.h"

namespace userservice::mysql {
namespace {

constexpr char kUpdateUser[] =
    "UPDATE users SET username = COALESCE(?, username), "
    "email = COALESCE(?, email), version = version + 1, "
    "update_time = NOW(6) WHERE id = ? AND (? = 0 OR version = ?)";
constexpr char kDeleteUser[] =
    "DELETE FROM users WHERE id = ? AND (? = 0 OR version = ?)";
constexpr char kSelectVersion[] = "SELECT version FROM users WHERE id = ?";
constexpr char kSelectConflict[] =
    "SELECT username_key = LOWER(?), email_key = LOWER(?) FROM users "
    "WHERE (username_key = LOWER(?) OR email_key = LOWER(?)) AND id <> ? "
    "LIMIT 2";
constexpr char kGtidWait[] = "SELECT MASTER_GTID_WAIT(?, ?), @@server_id";

std::unique_ptr<sql::ResultSet> Query(sql::PreparedStatement& statement) {
  return std::unique_ptr<sql::ResultSet>(statement.executeQuery());
}

absl::Status VersionMismatchOrMissing(MysqlConnection& conn, uint64_t id,
                                      int64_t expected_version) {
  sql::PreparedStatement& select = conn.Prepare(kSelectVersion);
  select.setUInt64(1, id);
  std::unique_ptr<sql::ResultSet> rs = Query(select);
  if (!rs->next()) {
    return absl::NotFoundError(absl::StrCat("user ", id, " not found"));
  }
  return absl::AbortedError(absl::StrCat(
      "user ", id, " is at version ", rs->getInt64(1), ", not the expected ",
      expected_version, "; read it again and retry"));
}

}  // namespace

MysqlUserStore::MysqlUserStore(std::string endpoint_name, MysqlPool* pool,
                               StoreHooks hooks)
    : endpoint_name_(std::move(endpoint_name)),
      pool_(pool),
      hooks_(std::move(hooks)) {}

absl::Duration MysqlUserStore::SilenceLimit(const RequestContext& ctx,
                                            Access access) const {
  if (access == Access::kWrite) return hooks_.hung_timeout;
  return ReadSilenceLimit(hooks_.hung_timeout, ctx.Remaining());
}

std::unique_ptr<SocketWatchdog::Watch> MysqlUserStore::WatchForHang(
    const MysqlConnection& conn, absl::Duration silence) const {
  if (hooks_.watchdog == nullptr || hooks_.liveness == nullptr ||
      hooks_.hung_timeout <= absl::ZeroDuration() || conn.socket_fd() < 0) {
    return nullptr;
  }
  return hooks_.watchdog->WatchSocket(conn.socket_fd(), absl::Now() + silence,
                                      silence, hooks_.liveness);
}

absl::Status MysqlUserStore::WithConnection(
    const RequestContext& ctx, Access access,
    absl::FunctionRef<absl::Status(MysqlConnection&)> body,
    absl::Duration quiet_wait) {
  if (ctx.Expired()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "deadline exceeded before reaching database ", endpoint_name_));
  }
  // A failure to open a connection is marked by MysqlConnection::Open.
  absl::StatusOr<MysqlPool::Lease> lease = pool_->Acquire(ctx.deadline);
  if (!lease.ok()) return lease.status();
  MysqlConnection& conn = **lease;
  std::unique_ptr<QueryKiller::Watch> watch = WatchForCancel(ctx, conn);
  const absl::Duration silence = SilenceLimit(ctx, access) + quiet_wait;
  std::unique_ptr<SocketWatchdog::Watch> hang = WatchForHang(conn, silence);
  bool body_started = false;
  SqlOutcome outcome;
  absl::Status status = RunSql(
      endpoint_name_, ctx.deadline,
      [&]() {
        conn.SetStatementBudget(ctx.Remaining());
        body_started = true;
        return body(conn);
      },
      &outcome);
  // No kill and no cut may reach the session once the body is over.
  watch.reset();
  const bool cut = hang != nullptr && hang->Finish();
  Release(*lease, outcome, cut);
  if (outcome.error_code == kErrReadOnly) {
    // The server refuses a write before executing any of it.
    status = MarkNotExecuted(std::move(status));
  }
  if (!status.ok() && ctx.Cancelled()) {
    return absl::CancelledError("the call was cancelled by the client");
  }
  if (cut && !status.ok()) {
    status = absl::UnavailableError(absl::StrCat(
        "database ", endpoint_name_, " did not answer for ",
        absl::FormatDuration(absl::Trunc(silence, absl::Milliseconds(1))),
        "; the statement was abandoned (error ", outcome.error_code, ")"));
    // Cut while the session was still being prepared: the write was never
    // sent.
    if (!body_started) status = MarkNotExecuted(std::move(status));
  }
  return status;
}

std::unique_ptr<QueryKiller::Watch> MysqlUserStore::WatchForCancel(
    const RequestContext& ctx, const MysqlConnection& conn) const {
  if (hooks_.killer == nullptr) return nullptr;
  std::function<bool()> cancelled = ctx.cancelled;
  if (!cancelled) cancelled = [] { return false; };
  return hooks_.killer->WatchQuery(conn.id(), ctx.deadline,
                                   std::move(cancelled));
}

void MysqlUserStore::Release(MysqlPool::Lease& lease, const SqlOutcome& outcome,
                             bool cut) {
  MysqlConnection& conn = *lease;
  bool broken = outcome.connection_broken || cut;
  if (!broken && hooks_.liveness != nullptr) {
    hooks_.liveness->RecordAnswer(absl::Now());
  }
  if (outcome.error_code == kErrServerLost && !cut &&
      hooks_.killer != nullptr) {
    // The client gave up on the socket, but the server may still be running
    // the statement: stop it rather than let it hold locks. Not after a
    // cut: a server that answers nothing would hold the KILL up too.
    hooks_.killer->Kill(conn.id()).IgnoreError();
  }
  if (!broken && conn.in_transaction()) {
    // The body failed half-way through a transaction; the connection goes
    // back to the pool clean or not at all.
    absl::Status rollback =
        RunSql(endpoint_name_, absl::InfiniteFuture(), [&]() {
          conn.Rollback();
          return absl::OkStatus();
        });
    if (!rollback.ok()) broken = true;
  }
  if (outcome.error_code == kErrReadOnly) {
    // A demoted writer: this session points at it, and so do the idle
    // ones, which PrimaryDemotion discards.
    broken = true;
    if (hooks_.demotion != nullptr) hooks_.demotion->WriteRefused();
  }
  if (broken) {
    lease.MarkBroken();
    // The server behind the endpoint may be restarting, perhaps from an
    // older copy.
    if (outcome.connection_broken && hooks_.applied != nullptr) {
      hooks_.applied->Forget();
    }
  }
}

absl::Status MysqlUserStore::RunRead(
    const RequestContext& ctx,
    absl::FunctionRef<absl::Status(MysqlConnection&)> body) {
  return WithConnection(ctx, Access::kRead, body);
}

absl::Status MysqlUserStore::RunWrite(
    const RequestContext& ctx,
    absl::FunctionRef<absl::Status(MysqlConnection&)> body) {
  return WithConnection(ctx, Access::kWrite, body);
}

template <typename T>
absl::StatusOr<Positioned<T>> MysqlUserStore::ReadPositioned(
    const RequestContext& ctx,
    absl::FunctionRef<absl::StatusOr<SeenAt<T>>(MysqlConnection&)> select) {
  Positioned<T> result;
  absl::Status status = RunRead(ctx, [&](MysqlConnection& conn) {
    absl::StatusOr<SeenAt<T>> seen = select(conn);
    if (!seen.ok()) return seen.status();
    const ServerPosition& now = seen->position;
    if (hooks_.applied != nullptr) {
      hooks_.applied->Reached(now.server_id, now.applied);
    }
    result.value = std::move(seen->rows);
    result.position = std::move(seen->position.covering);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<Positioned<User>> MysqlUserStore::GetUser(
    const UserKey& key, const RequestContext& ctx) {
  absl::StatusOr<Positioned<std::optional<User>>> read =
      ReadPositioned<std::optional<User>>(
          ctx, [&](MysqlConnection& conn) { return SelectUserAt(conn, key); });
  if (!read.ok()) return read.status();
  if (read->value.has_value()) {
    return Positioned<User>{*std::move(read->value), std::move(read->position)};
  }
  switch (key.kind) {
    case UserKey::Kind::kId:
      return absl::NotFoundError(absl::StrCat("user ", key.id, " not found"));
    case UserKey::Kind::kUsername:
      return absl::NotFoundError(
          absl::StrCat("no user with username \"", key.text, "\""));
    case UserKey::Kind::kEmail:
      break;
  }
  return absl::NotFoundError("no user with that email");
}

absl::StatusOr<Positioned<std::vector<User>>> MysqlUserStore::GetUsersByIds(
    absl::Span<const uint64_t> ids, const RequestContext& ctx) {
  return ReadPositioned<std::vector<User>>(ctx, [&](MysqlConnection& conn) {
    return SelectUsersByIdsAt(conn, ids);
  });
}

absl::StatusOr<Positioned<std::vector<User>>> MysqlUserStore::ListUsers(
    uint64_t after_id, int limit, const RequestContext& ctx) {
  return ReadPositioned<std::vector<User>>(ctx, [&](MysqlConnection& conn) {
    return SelectUsersAfterAt(conn, after_id, limit);
  });
}

absl::StatusOr<bool> MysqlUserStore::WaitForPosition(
    const ReplicationPosition& position, absl::Duration timeout,
    const RequestContext& ctx) {
  if (position.empty()) return true;
  bool applied = false;
  int64_t server_id = 0;
  auto wait_for = [&](MysqlConnection& conn) {
    sql::PreparedStatement& wait = conn.Prepare(kGtidWait);
    wait.setString(1, position.ToString());
    wait.setDouble(
        2, absl::ToDoubleSeconds(std::max(timeout, absl::ZeroDuration())));
    std::unique_ptr<sql::ResultSet> rs = Query(wait);
    // 0: reached; -1: timed out; NULL: not a replica or bad arguments.
    applied = rs->next() && !rs->isNull(1) && rs->getInt(1) == 0;
    if (applied && !rs->isNull(2)) server_id = rs->getInt64(2);
    return absl::OkStatus();
  };
  // The wait itself is silent for up to `timeout` on a healthy replica.
  absl::Status status = WithConnection(ctx, Access::kRead, wait_for,
                                       std::max(timeout, absl::ZeroDuration()));
  if (!status.ok()) return status;
  if (applied && server_id != 0 && hooks_.applied != nullptr) {
    hooks_.applied->Reached(server_id, position);
  }
  return applied;
}

absl::StatusOr<Positioned<User>> MysqlUserStore::CreateUser(
    const NewUser& user, const RequestContext& ctx) {
  absl::StatusOr<Positioned<User>> created;
  if (user.request_id.empty()) {
    absl::StatusOr<std::vector<Positioned<User>>> batch =
        CreateUsers(absl::MakeConstSpan(&user, 1), ctx);
    if (batch.ok()) {
      created = std::move(batch->front());
    } else {
      created = batch.status();
    }
  } else {
    created = CreateWithRequestId(user, ctx);
  }
  if (absl::IsAlreadyExists(created.status())) {
    return DescribeConflict(user.username, user.email, 0, ctx,
                            created.status());
  }
  return created;
}

absl::StatusOr<std::vector<Positioned<User>>> MysqlUserStore::CreateUsers(
    absl::Span<const NewUser> users, const RequestContext& ctx) {
  std::vector<Positioned<User>> results(users.size());
  if (users.empty()) return results;
  for (const NewUser& user : users) {
    if (!user.request_id.empty()) {
      return absl::InternalError(
          "a create with a request_id cannot share a statement");
    }
  }
  absl::Status status = RunWrite(ctx, [&](MysqlConnection& conn) {
    absl::StatusOr<std::vector<User>> inserted = InsertUsers(conn, users);
    if (!inserted.ok()) return inserted.status();
    absl::StatusOr<ReplicationPosition> position = LastWritePosition(conn);
    if (!position.ok()) return position.status();
    for (size_t i = 0; i < users.size(); ++i) {
      results[i] = Positioned<User>{std::move((*inserted)[i]), *position};
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return results;
}

absl::StatusOr<Positioned<User>> MysqlUserStore::CreateWithRequestId(
    const NewUser& user, const RequestContext& ctx) {
  Positioned<User> result;
  absl::Status status = RunWrite(ctx, [&](MysqlConnection& conn) {
    return CreateIdempotent(conn, user, &result);
  });
  if (absl::IsAlreadyExists(status)) {
    // A concurrent call with the same request_id may have won the race;
    // if so this call is its retry.
    absl::Status replay = RunWrite(ctx, [&](MysqlConnection& conn) {
      return ReplayCreate(conn, user, &result);
    });
    if (!absl::IsNotFound(replay)) status = replay;
  }
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<int64_t> MysqlUserStore::PurgeCreateRequests(
    absl::Duration age, int limit, const RequestContext& ctx) {
  int64_t purged = 0;
  absl::Status status = RunWrite(ctx, [&](MysqlConnection& conn) {
    purged = mysql::PurgeCreateRequests(conn, age, limit);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return purged;
}

absl::Status MysqlUserStore::DescribeConflict(const std::string& username,
                                              const std::string& email,
                                              uint64_t own_id,
                                              const RequestContext& ctx,
                                              absl::Status original) {
  bool username_taken = false;
  bool email_taken = false;
  absl::Status lookup = RunWrite(ctx, [&](MysqlConnection& conn) {
    sql::PreparedStatement& select = conn.Prepare(kSelectConflict);
    select.setString(1, username);
    select.setString(2, email);
    select.setString(3, username);
    select.setString(4, email);
    select.setUInt64(5, own_id);
    std::unique_ptr<sql::ResultSet> rs = Query(select);
    while (rs->next()) {
      username_taken = username_taken || rs->getBoolean(1);
      email_taken = email_taken || rs->getBoolean(2);
    }
    return absl::OkStatus();
  });
  if (!lookup.ok()) return original;
  if (username_taken) {
    return absl::AlreadyExistsError(
        absl::StrCat("username \"", username,
                     "\" is already taken (usernames are "
                     "compared case-insensitively)"));
  }
  if (email_taken) {
    return absl::AlreadyExistsError(
        "email is already registered to another user (emails are compared "
        "case-insensitively)");
  }
  return original;
}

absl::StatusOr<Positioned<User>> MysqlUserStore::UpdateUser(
    const UserUpdate& update, const RequestContext& ctx) {
  Positioned<User> result;
  absl::Status status = RunWrite(ctx, [&](MysqlConnection& conn) {
    conn.Begin();
    sql::PreparedStatement& change = conn.Prepare(kUpdateUser);
    if (update.username.has_value()) {
      change.setString(1, *update.username);
    } else {
      change.setNull(1, sql::DataType::VARCHAR);
    }
    if (update.email.has_value()) {
      change.setString(2, *update.email);
    } else {
      change.setNull(2, sql::DataType::VARCHAR);
    }
    change.setUInt64(3, update.id);
    change.setInt64(4, update.expected_version);
    change.setInt64(5, update.expected_version);
    if (change.executeUpdate() == 0) {
      absl::Status why =
          VersionMismatchOrMissing(conn, update.id, update.expected_version);
      conn.Rollback();
      return why;
    }
    std::optional<User> updated = SelectUser(conn, UserKey::Id(update.id));
    if (!updated.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("user ", update.id, " not found"));
    }
    result.value = *std::move(updated);
    conn.Commit();
    absl::StatusOr<ReplicationPosition> position = LastWritePosition(conn);
    if (!position.ok()) return position.status();
    result.position = *std::move(position);
    return absl::OkStatus();
  });
  if (absl::IsAlreadyExists(status)) {
    status =
        DescribeConflict(update.username.value_or(""),
                         update.email.value_or(""), update.id, ctx, status);
  }
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<ReplicationPosition> MysqlUserStore::DeleteUser(
    uint64_t id, int64_t expected_version, const RequestContext& ctx) {
  ReplicationPosition position;
  absl::Status status = RunWrite(ctx, [&](MysqlConnection& conn) {
    sql::PreparedStatement& erase = conn.Prepare(kDeleteUser);
    erase.setUInt64(1, id);
    erase.setInt64(2, expected_version);
    erase.setInt64(3, expected_version);
    if (erase.executeUpdate() == 0) {
      return VersionMismatchOrMissing(conn, id, expected_version);
    }
    absl::StatusOr<ReplicationPosition> written = LastWritePosition(conn);
    if (!written.ok()) return written.status();
    position = *std::move(written);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return position;
}

}  // namespace userservice::mysql
