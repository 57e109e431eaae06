#ifndef USERSERVICE_SERVER_MYSQL_MIGRATIONS_H_
#define USERSERVICE_SERVER_MYSQL_MIGRATIONS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/mysql/mysql_connection.h"

namespace userservice::mysql {

// One schema change. Statements are idempotent (IF NOT EXISTS), so a
// migration interrupted half-way is simply run again.
struct Migration {
  int version;
  const char* name;
  std::vector<const char*> statements;
};

// Every migration, in the order they are applied. Append only: a released
// migration is never edited, a change is a new migration.
const std::vector<Migration>& AllMigrations();

struct MigrationResult {
  int applied = 0;         // migrations run by this call
  int schema_version = 0;  // highest version present afterwards
};

// Brings the primary's schema up to date, recording each migration in
// `schema_migrations`. Servers starting together serialize on a named lock
// (GET_LOCK), so each migration runs once; the others wait and find nothing
// left to do. A schema newer than this binary knows is accepted (a rolling
// update may run the old binary against the new schema) and logged.
absl::StatusOr<MigrationResult> Migrate(MysqlConnection& conn,
                                        absl::Time deadline);

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_MIGRATIONS_H_
