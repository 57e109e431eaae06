#include "server/mysql/mysql_user_store.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cppconn/datatype.h"
#include "cppconn/prepared_statement.h"
#include "cppconn/resultset.h"
#include "server/mysql/sql_status.h"

namespace userservice::mysql {
namespace {

// Column order shared by every statement that returns users; ReadUser
// depends on it.
#define USER_COLUMNS "id, username, email, create_time, update_time, version"

constexpr char kSelectById[] =
    "SELECT " USER_COLUMNS " FROM users WHERE id = ?";
// username_key/email_key are stored LOWER() copies with binary collation and
// unique indexes: case-insensitive, but not accent-insensitive like the
// *_ci collations would be.
constexpr char kSelectByUsername[] =
    "SELECT " USER_COLUMNS " FROM users WHERE username_key = LOWER(?)";
constexpr char kSelectByEmail[] =
    "SELECT " USER_COLUMNS " FROM users WHERE email_key = LOWER(?)";
// Statement text for `WHERE id IN (?, ..., ?)` with `arity` placeholders.
std::string SelectByIdsSql(int arity) {
  std::string sql = "SELECT " USER_COLUMNS " FROM users WHERE id IN (?";
  for (int i = 1; i < arity; ++i) sql += ",?";
  sql += ")";
  return sql;
}

// Statement text for an insert of `rows` users, returning them.
std::string InsertUsersSql(int rows) {
  std::string sql =
      "INSERT INTO users (username, email, create_time, update_time, "
      "version) VALUES (?, ?, NOW(6), NOW(6), 1)";
  for (int i = 1; i < rows; ++i) sql += ",(?, ?, NOW(6), NOW(6), 1)";
  sql += " RETURNING " USER_COLUMNS;
  return sql;
}

constexpr char kListAfter[] =
    "SELECT " USER_COLUMNS " FROM users WHERE id > ? ORDER BY id LIMIT ?";
constexpr char kInsertUser[] =
    "INSERT INTO users (username, email, create_time, update_time, version) "
    "VALUES (?, ?, NOW(6), NOW(6), 1) RETURNING " USER_COLUMNS;
constexpr char kInsertRequest[] =
    "INSERT INTO create_requests (request_id, user_id, fingerprint, "
    "create_time) VALUES (?, ?, ?, NOW(6))";
// Microseconds, because a DATETIME(6) compared with NOW(6) is exact.
constexpr char kPurgeRequests[] =
    "DELETE FROM create_requests "
    "WHERE create_time < NOW(6) - INTERVAL ? MICROSECOND LIMIT ?";
constexpr char kSelectRequest[] =
    "SELECT user_id, fingerprint FROM create_requests WHERE request_id = ?";
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
constexpr char kLastGtid[] = "SELECT @@last_gtid";
constexpr char kBinlogPosition[] = "SELECT @@global.gtid_binlog_pos";
constexpr char kGtidWait[] = "SELECT MASTER_GTID_WAIT(?, ?)";

#undef USER_COLUMNS

absl::Time ParseDatetime(const std::string& text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime("%Y-%m-%d %H:%M:%E*S", text, absl::UTCTimeZone(), &t,
                       &error)) {
    return absl::UnixEpoch();
  }
  return t;
}

User ReadUser(sql::ResultSet& rs) {
  User user;
  user.id = rs.getUInt64(1);
  user.username = rs.getString(2);
  user.email = rs.getString(3);
  user.create_time = ParseDatetime(rs.getString(4));
  user.update_time = ParseDatetime(rs.getString(5));
  user.version = rs.getInt64(6);
  return user;
}

// Ties a request_id to what was asked, so a reused key with other fields is
// told apart from a retry. FNV-1a: stable across processes and versions,
// unlike std::hash or absl::Hash.
uint64_t Fingerprint(const NewUser& user) {
  uint64_t hash = 14695981039346656037ull;
  auto mix = [&hash](absl::string_view text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
  };
  mix(absl::AsciiStrToLower(user.username));
  mix(absl::string_view("\0", 1));
  mix(absl::AsciiStrToLower(user.email));
  return hash;
}

std::unique_ptr<sql::ResultSet> Query(sql::PreparedStatement& statement) {
  return std::unique_ptr<sql::ResultSet>(statement.executeQuery());
}

// Multi-id selects come in a few arities, so each connection prepares at most
// kIdBucketCount statements; a batch is padded to the next arity by repeating
// its last id (IN ignores duplicates).
constexpr int kIdBucketCount = 8;  // 1, 2, 4, ..., 128
constexpr size_t kMaxIdsPerStatement = size_t{1} << (kIdBucketCount - 1);

// Stable C strings, because MysqlConnection caches statements by pointer.
const std::vector<std::string>& SelectByIdsStatements() {
  static const auto* statements = [] {
    auto* texts = new std::vector<std::string>;
    for (int bucket = 0; bucket < kIdBucketCount; ++bucket) {
      texts->push_back(SelectByIdsSql(1 << bucket));
    }
    return texts;
  }();
  return *statements;
}

// Inserts of up to this many rows are one statement each, prepared per row
// count as it is first needed; larger batches are split.
constexpr size_t kMaxUsersPerInsert = 64;

const std::vector<std::string>& InsertUsersStatements() {
  static const auto* statements = [] {
    auto* texts = new std::vector<std::string>;
    for (size_t rows = 0; rows <= kMaxUsersPerInsert; ++rows) {
      texts->push_back(rows == 0 ? "" : InsertUsersSql(static_cast<int>(rows)));
    }
    return texts;
  }();
  return *statements;
}

ReplicationPosition QueryPosition(MysqlConnection& conn, const char* sql) {
  std::unique_ptr<sql::ResultSet> rs = Query(conn.Prepare(sql));
  std::string gtids;
  if (rs->next() && !rs->isNull(1)) gtids = rs->getString(1);
  return ReplicationPosition{kFlavorMariaDb, std::move(gtids)};
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

absl::Status MysqlUserStore::WithConnection(
    const RequestContext& ctx,
    absl::FunctionRef<absl::Status(MysqlConnection&)> body) {
  if (ctx.Expired()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "deadline exceeded before reaching database ", endpoint_name_));
  }
  absl::StatusOr<MysqlPool::Lease> lease = pool_->Acquire(ctx.deadline);
  if (!lease.ok()) return lease.status();
  MysqlConnection& conn = **lease;
  std::unique_ptr<QueryKiller::Watch> watch;
  if (hooks_.killer != nullptr) {
    std::function<bool()> cancelled = ctx.cancelled;
    if (!cancelled) cancelled = [] { return false; };
    watch = hooks_.killer->WatchQuery(conn.id(), ctx.deadline,
                                      std::move(cancelled));
  }
  SqlOutcome outcome;
  absl::Status status = RunSql(
      endpoint_name_, ctx.deadline,
      [&]() {
        conn.SetStatementBudget(ctx.Remaining());
        return body(conn);
      },
      &outcome);
  // No kill may reach the session once the body is over.
  watch.reset();
  bool broken = outcome.connection_broken;
  if (outcome.error_code == kErrServerLost && hooks_.killer != nullptr) {
    // The client gave up on the socket, but the server may still be running
    // the statement: stop it rather than let it hold locks.
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
  if (broken) lease->MarkBroken();
  if (outcome.error_code == kErrReadOnly) {
    // A demoted primary: every pooled session points at it. New ones
    // re-resolve the host name, following a DNS or Service switch.
    lease->MarkBroken();
    pool_->DiscardIdle();
    if (hooks_.on_read_only) hooks_.on_read_only();
  }
  if (!status.ok() && ctx.Cancelled()) {
    return absl::CancelledError("the call was cancelled by the client");
  }
  return status;
}

absl::StatusOr<User> MysqlUserStore::GetUser(const UserKey& key,
                                             const RequestContext& ctx) {
  User user;
  absl::Status status = WithConnection(ctx, [&](MysqlConnection& conn) {
    sql::PreparedStatement* select = nullptr;
    switch (key.kind) {
      case UserKey::Kind::kId:
        select = &conn.Prepare(kSelectById);
        select->setUInt64(1, key.id);
        break;
      case UserKey::Kind::kUsername:
        select = &conn.Prepare(kSelectByUsername);
        select->setString(1, key.text);
        break;
      case UserKey::Kind::kEmail:
        select = &conn.Prepare(kSelectByEmail);
        select->setString(1, key.text);
        break;
    }
    std::unique_ptr<sql::ResultSet> rs = Query(*select);
    if (!rs->next()) {
      switch (key.kind) {
        case UserKey::Kind::kId:
          return absl::NotFoundError(
              absl::StrCat("user ", key.id, " not found"));
        case UserKey::Kind::kUsername:
          return absl::NotFoundError(
              absl::StrCat("no user with username \"", key.text, "\""));
        case UserKey::Kind::kEmail:
          return absl::NotFoundError("no user with that email");
      }
    }
    user = ReadUser(*rs);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return user;
}

absl::StatusOr<std::vector<User>> MysqlUserStore::GetUsersByIds(
    absl::Span<const uint64_t> ids, const RequestContext& ctx) {
  std::vector<User> users;
  if (ids.empty()) return users;
  absl::Status status = WithConnection(ctx, [&](MysqlConnection& conn) {
    users.clear();
    for (size_t start = 0; start < ids.size(); start += kMaxIdsPerStatement) {
      const absl::Span<const uint64_t> chunk =
          ids.subspan(start, kMaxIdsPerStatement);
      int bucket = 0;
      while ((size_t{1} << bucket) < chunk.size()) ++bucket;
      sql::PreparedStatement& select =
          conn.Prepare(SelectByIdsStatements()[bucket].c_str());
      const int arity = 1 << bucket;
      for (int i = 0; i < arity; ++i) {
        select.setUInt64(i + 1, chunk[std::min<size_t>(i, chunk.size() - 1)]);
      }
      std::unique_ptr<sql::ResultSet> rs = Query(select);
      while (rs->next()) users.push_back(ReadUser(*rs));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return users;
}

absl::StatusOr<std::vector<User>> MysqlUserStore::ListUsers(
    uint64_t after_id, int limit, const RequestContext& ctx) {
  std::vector<User> users;
  absl::Status status = WithConnection(ctx, [&](MysqlConnection& conn) {
    sql::PreparedStatement& select = conn.Prepare(kListAfter);
    select.setUInt64(1, after_id);
    select.setInt(2, limit);
    std::unique_ptr<sql::ResultSet> rs = Query(select);
    users.reserve(rs->rowsCount());
    while (rs->next()) users.push_back(ReadUser(*rs));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return users;
}

absl::StatusOr<bool> MysqlUserStore::WaitForPosition(
    const ReplicationPosition& position, absl::Duration timeout,
    const RequestContext& ctx) {
  if (position.flavor != kFlavorMariaDb) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency token is for a ", position.flavor,
                     " database, but this service runs on MariaDB"));
  }
  if (position.gtids.empty()) return true;
  bool applied = false;
  absl::Status status = WithConnection(ctx, [&](MysqlConnection& conn) {
    sql::PreparedStatement& wait = conn.Prepare(kGtidWait);
    wait.setString(1, position.gtids);
    wait.setDouble(
        2, absl::ToDoubleSeconds(std::max(timeout, absl::ZeroDuration())));
    std::unique_ptr<sql::ResultSet> rs = Query(wait);
    // 0: reached; -1: timed out; NULL: not a replica or bad arguments.
    applied = rs->next() && !rs->isNull(1) && rs->getInt(1) == 0;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return applied;
}

absl::StatusOr<Written<User>> MysqlUserStore::CreateUser(
    const NewUser& user, const RequestContext& ctx) {
  Written<User> result;
  absl::Status status;
  if (user.request_id.empty()) {
    status = WithConnection(ctx, [&](MysqlConnection& conn) {
      sql::PreparedStatement& insert = conn.Prepare(kInsertUser);
      insert.setString(1, user.username);
      insert.setString(2, user.email);
      std::unique_ptr<sql::ResultSet> rs = Query(insert);
      rs->next();
      result.value = ReadUser(*rs);
      result.position = QueryPosition(conn, kLastGtid);
      return absl::OkStatus();
    });
  } else {
    status = WithConnection(ctx, [&](MysqlConnection& conn) {
      return CreateIdempotent(conn, user, &result);
    });
    if (absl::IsAlreadyExists(status)) {
      // A concurrent call with the same request_id may have won the race;
      // if so this call is its retry.
      absl::Status replay = WithConnection(ctx, [&](MysqlConnection& conn) {
        return ReplayCreate(conn, user, &result);
      });
      if (!absl::IsNotFound(replay)) status = replay;
    }
  }
  if (absl::IsAlreadyExists(status)) {
    status = DescribeConflict(user.username, user.email, 0, ctx, status);
  }
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<std::vector<Written<User>>> MysqlUserStore::CreateUsers(
    absl::Span<const NewUser> users, const RequestContext& ctx) {
  std::vector<Written<User>> results(users.size());
  if (users.empty()) return results;
  for (const NewUser& user : users) {
    if (!user.request_id.empty()) {
      return absl::InternalError(
          "a create with a request_id cannot share a statement");
    }
  }
  absl::Status status = WithConnection(ctx, [&](MysqlConnection& conn) {
    // RETURNING gives the rows in no promised order; the username, unique
    // within the batch once the insert succeeded, tells whose row is whose.
    absl::flat_hash_map<std::string, size_t> index_of;
    index_of.reserve(users.size());
    for (size_t i = 0; i < users.size(); ++i) index_of[users[i].username] = i;
    const bool split = users.size() > kMaxUsersPerInsert;
    // One statement is atomic by itself; several need a transaction to be
    // all or nothing.
    if (split) conn.Begin();
    size_t returned = 0;
    for (size_t start = 0; start < users.size(); start += kMaxUsersPerInsert) {
      const absl::Span<const NewUser> chunk =
          users.subspan(start, kMaxUsersPerInsert);
      sql::PreparedStatement& insert =
          conn.Prepare(InsertUsersStatements()[chunk.size()].c_str());
      for (size_t i = 0; i < chunk.size(); ++i) {
        insert.setString(2 * i + 1, chunk[i].username);
        insert.setString(2 * i + 2, chunk[i].email);
      }
      std::unique_ptr<sql::ResultSet> rs = Query(insert);
      while (rs->next()) {
        User user = ReadUser(*rs);
        auto owner = index_of.find(user.username);
        if (owner == index_of.end()) {
          return absl::InternalError(
              "the database returned a user that was not asked for");
        }
        results[owner->second].value = std::move(user);
        ++returned;
      }
    }
    if (returned != users.size()) {
      return absl::InternalError(absl::StrCat(
          "the database returned ", returned, " created users for ",
          users.size(), " inserted"));
    }
    if (split) conn.Commit();
    const ReplicationPosition position = QueryPosition(conn, kLastGtid);
    for (Written<User>& result : results) result.position = position;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return results;
}

absl::Status MysqlUserStore::CreateIdempotent(MysqlConnection& conn,
                                              const NewUser& user,
                                              Written<User>* out) {
  absl::Status replay = ReplayCreate(conn, user, out);
  if (!absl::IsNotFound(replay)) return replay;

  conn.Begin();
  sql::PreparedStatement& insert = conn.Prepare(kInsertUser);
  insert.setString(1, user.username);
  insert.setString(2, user.email);
  std::unique_ptr<sql::ResultSet> rs = Query(insert);
  rs->next();
  out->value = ReadUser(*rs);
  sql::PreparedStatement& record = conn.Prepare(kInsertRequest);
  record.setString(1, user.request_id);
  record.setUInt64(2, out->value.id);
  record.setUInt64(3, Fingerprint(user));
  record.executeUpdate();
  conn.Commit();
  out->position = QueryPosition(conn, kLastGtid);
  return absl::OkStatus();
}

absl::Status MysqlUserStore::ReplayCreate(MysqlConnection& conn,
                                          const NewUser& user,
                                          Written<User>* out) {
  sql::PreparedStatement& select = conn.Prepare(kSelectRequest);
  select.setString(1, user.request_id);
  std::unique_ptr<sql::ResultSet> rs = Query(select);
  if (!rs->next()) return absl::NotFoundError("request_id not used yet");
  const uint64_t user_id = rs->getUInt64(1);
  if (rs->getUInt64(2) != Fingerprint(user)) {
    return absl::InvalidArgumentError(
        "request_id was already used to create a user with a different "
        "username or email; use a new request_id for a new user");
  }
  sql::PreparedStatement& by_id = conn.Prepare(kSelectById);
  by_id.setUInt64(1, user_id);
  std::unique_ptr<sql::ResultSet> user_rs = Query(by_id);
  if (!user_rs->next()) {
    return absl::FailedPreconditionError(
        absl::StrCat("request_id was already used to create user ", user_id,
                     ", which has since been deleted"));
  }
  out->value = ReadUser(*user_rs);
  // The original write's own GTID was not kept; the primary's current
  // position includes it, so a session read with it still sees the user.
  out->position = QueryPosition(conn, kBinlogPosition);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MysqlUserStore::PurgeCreateRequests(
    absl::Duration age, int limit, const RequestContext& ctx) {
  int64_t purged = 0;
  absl::Status status = WithConnection(ctx, [&](MysqlConnection& conn) {
    sql::PreparedStatement& purge = conn.Prepare(kPurgeRequests);
    purge.setInt64(1, absl::ToInt64Microseconds(age));
    purge.setInt(2, limit);
    purged = purge.executeUpdate();
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
  absl::Status lookup = WithConnection(ctx, [&](MysqlConnection& conn) {
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

absl::StatusOr<Written<User>> MysqlUserStore::UpdateUser(
    const UserUpdate& update, const RequestContext& ctx) {
  Written<User> result;
  absl::Status status = WithConnection(ctx, [&](MysqlConnection& conn) {
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
    sql::PreparedStatement& select = conn.Prepare(kSelectById);
    select.setUInt64(1, update.id);
    std::unique_ptr<sql::ResultSet> rs = Query(select);
    rs->next();
    result.value = ReadUser(*rs);
    conn.Commit();
    result.position = QueryPosition(conn, kLastGtid);
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
  absl::Status status = WithConnection(ctx, [&](MysqlConnection& conn) {
    sql::PreparedStatement& erase = conn.Prepare(kDeleteUser);
    erase.setUInt64(1, id);
    erase.setInt64(2, expected_version);
    erase.setInt64(3, expected_version);
    if (erase.executeUpdate() == 0) {
      return VersionMismatchOrMissing(conn, id, expected_version);
    }
    position = QueryPosition(conn, kLastGtid);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return position;
}

}  // namespace userservice::mysql
