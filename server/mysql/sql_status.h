#ifndef USERSERVICE_SERVER_MYSQL_SQL_STATUS_H_
#define USERSERVICE_SERVER_MYSQL_SQL_STATUS_H_

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace userservice::mysql {

// Server and client error numbers this layer treats specially.
inline constexpr int kErrDuplicateEntry = 1062;
inline constexpr int kErrReadOnly = 1290;
inline constexpr int kErrAccessDenied = 1045;
inline constexpr int kErrStatementTimeout = 1969;  // max_statement_time
inline constexpr int kErrQueryInterrupted = 1317;  // KILL QUERY
inline constexpr int kErrServerLost = 2013;  // includes the socket timeout

// True for errors after which the connection cannot be trusted again: the
// server went away, the socket timed out mid-result, the protocol state is
// unknown. Such a connection must be discarded.
bool IsConnectionError(int error_code);

// Maps a MySQL/MariaDB error number to a status whose message is safe to
// show a client: it never contains SQL text, parameters or credentials, only
// what went wrong in words and the error number. `endpoint` names the
// database ("primary", "replica-0"). A connection-level failure after
// `deadline` is reported as DEADLINE_EXCEEDED, since the deadline, not the
// database, is what the caller ran into.
absl::Status StatusFromSqlError(int error_code, absl::string_view endpoint,
                                absl::Time deadline);

// How a RunSql body ended, beyond its status.
struct SqlOutcome {
  // The connection the body used must be discarded.
  bool connection_broken = false;
  // The MySQL/MariaDB error number of the exception, 0 if none was thrown.
  int error_code = 0;
};

// Runs `body`, which may throw sql::SQLException, and returns its status or
// the mapped exception. The only place in the project that catches
// Connector/C++ exceptions. `*outcome`, when given, says whether the
// connection that `body` used must be discarded and which error ended it.
absl::Status RunSql(absl::string_view endpoint, absl::Time deadline,
                    absl::FunctionRef<absl::Status()> body,
                    SqlOutcome* outcome = nullptr);

}  // namespace userservice::mysql

#endif  // USERSERVICE_SERVER_MYSQL_SQL_STATUS_H_
