#include "server/mysql/migrations.h"

#include <algorithm>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cppconn/prepared_statement.h"
#include "cppconn/resultset.h"
#include "server/common/log.h"
#include "server/mysql/sql_status.h"

namespace userservice::mysql {

const std::vector<Migration>& AllMigrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1,
       "create users and create_requests",
       {
           // username/email keep the caller's spelling; the *_key columns
           // hold LOWER() copies under a binary collation, so uniqueness is
           // case-insensitive (and enforced by the database) without the
           // accent folding of the *_ci collations.
           "CREATE TABLE IF NOT EXISTS users ("
           " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,"
           " username VARCHAR(32) NOT NULL,"
           " email VARCHAR(254) NOT NULL,"
           " username_key VARCHAR(32) AS (LOWER(username)) STORED,"
           " email_key VARCHAR(254) AS (LOWER(email)) STORED,"
           " create_time DATETIME(6) NOT NULL,"
           " update_time DATETIME(6) NOT NULL,"
           " version BIGINT NOT NULL DEFAULT 1,"
           " PRIMARY KEY (id),"
           " UNIQUE KEY users_username_key (username_key),"
           " UNIQUE KEY users_email_key (email_key)"
           ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
           // Idempotency keys of CreateUser, written in the same transaction
           // as the user. Kept after the user is deleted, so a late retry
           // is told rather than creating the user again.
           "CREATE TABLE IF NOT EXISTS create_requests ("
           " request_id VARCHAR(128) NOT NULL,"
           " user_id BIGINT UNSIGNED NOT NULL,"
           " fingerprint BIGINT UNSIGNED NOT NULL,"
           " create_time DATETIME(6) NOT NULL,"
           " PRIMARY KEY (request_id)"
           ") ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin",
       }},
      {2,
       "create heartbeat",
       {
           // Replication lag, measured with one clock: each server process
           // writes its own row here every few hundred milliseconds,
           // stamped with its own clock in microseconds since the Unix
           // epoch, and reads the replicas' copies of that row back, so no
           // other host's clock is involved (see
           // server/health/lag_ledger.h). updated_at (the primary's clock)
           // only serves to delete the rows of servers that are gone.
           "CREATE TABLE IF NOT EXISTS heartbeat ("
           " writer VARCHAR(64) NOT NULL PRIMARY KEY,"
           " stamp_us BIGINT NOT NULL,"
           " updated_at DATETIME(6) NOT NULL"
           ") ENGINE=InnoDB",
       }},
      {3,
       "index create_requests by age",
       {
           // Idempotency keys are kept for --request-id-retention; the
           // purge finds the old ones through this index.
           "CREATE INDEX IF NOT EXISTS create_requests_create_time "
           "ON create_requests (create_time)",
       }},
  };
  return *migrations;
}

namespace {

constexpr char kLockName[] = "userservice.schema_migrations";

}  // namespace

absl::StatusOr<MigrationResult> Migrate(MysqlConnection& conn,
                                        absl::Time deadline) {
  MigrationResult result;
  absl::Status status = RunSql("primary", deadline, [&]() -> absl::Status {
    // DDL can take long on a big table; the lock wait is what is bounded.
    const double lock_wait =
        std::max(1.0, absl::ToDoubleSeconds(deadline - absl::Now()));
    sql::PreparedStatement& lock = conn.Prepare("SELECT GET_LOCK(?, ?)");
    lock.setString(1, kLockName);
    lock.setDouble(2, lock_wait);
    std::unique_ptr<sql::ResultSet> locked(lock.executeQuery());
    if (!locked->next() || locked->isNull(1) || locked->getInt(1) != 1) {
      return absl::UnavailableError(
          "timed out waiting for another server to finish migrating the "
          "schema");
    }

    conn.Execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INT NOT NULL PRIMARY KEY,"
        " name VARCHAR(200) NOT NULL,"
        " applied_at DATETIME(6) NOT NULL"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    absl::flat_hash_set<int> applied;
    {
      std::unique_ptr<sql::ResultSet> rs(
          conn.Prepare("SELECT version FROM schema_migrations").executeQuery());
      while (rs->next()) {
        applied.insert(rs->getInt(1));
        result.schema_version = std::max(result.schema_version, rs->getInt(1));
      }
    }
    for (const Migration& migration : AllMigrations()) {
      if (applied.contains(migration.version)) continue;
      log::Info("applying schema migration",
                {{"version", absl::StrCat(migration.version)},
                 {"name", migration.name}});
      for (const char* statement : migration.statements) {
        conn.Execute(statement);
      }
      sql::PreparedStatement& record = conn.Prepare(
          "INSERT INTO schema_migrations (version, name, applied_at) "
          "VALUES (?, ?, NOW(6))");
      record.setInt(1, migration.version);
      record.setString(2, migration.name);
      record.executeUpdate();
      ++result.applied;
      result.schema_version =
          std::max(result.schema_version, migration.version);
    }
    if (result.schema_version > AllMigrations().back().version) {
      log::Warning(
          "database schema is newer than this server knows",
          {{"schema_version", absl::StrCat(result.schema_version)},
           {"known_version", absl::StrCat(AllMigrations().back().version)}});
    }
    sql::PreparedStatement& unlock = conn.Prepare("SELECT RELEASE_LOCK(?)");
    unlock.setString(1, kLockName);
    std::unique_ptr<sql::ResultSet> released(unlock.executeQuery());
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

}  // namespace userservice::mysql
