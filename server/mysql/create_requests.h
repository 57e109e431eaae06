#ifndef USERSERVICE_SERVER_MYSQL_CREATE_REQUESTS_H_
#define USERSERVICE_SERVER_MYSQL_CREATE_REQUESTS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/mysql/mysql_connection.h"
#include "server/repository/user.h"

namespace userservice::mysql {

// Idempotency keys: the create_requests table ties a create's request_id
// to the user it made, so a retried create returns that user instead of
// making a second one or failing on its own username.
//
// These run on a session the caller leased and may throw sql::SQLException:
// call them inside RunSql. A body that fails between Begin and Commit leaves
// the rollback to that caller.

// Creates `user` and records its request_id in one transaction, unless the
// request_id is already recorded: then as ReplayCreate. ALREADY_EXISTS (as
// mapped by RunSql) when a concurrent create with the same key, or another
// user with the same username or email, committed first.
absl::Status CreateIdempotent(MysqlConnection& conn, const NewUser& user,
                              Positioned<User>* out);

// The user recorded for `user.request_id`: NOT_FOUND when the key is unused,
// INVALID_ARGUMENT when it was used for other fields, FAILED_PRECONDITION
// when its user has since been deleted.
absl::Status ReplayCreate(MysqlConnection& conn, const NewUser& user,
                          Positioned<User>* out);

// Forgets idempotency keys older than `age`, at most `limit` of them in one
// statement; returns how many went.
int64_t PurgeCreateRequests(MysqlConnection& conn, absl::Duration age,
                            int limit);

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_CREATE_REQUESTS_H_
