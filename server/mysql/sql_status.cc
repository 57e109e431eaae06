#include "server/mysql/sql_status.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cppconn/exception.h"
#include "server/common/log.h"

namespace userservice::mysql {
namespace {

// Client-side (libmariadb) error numbers.
constexpr int kCrConnectionError = 2002;  // local socket
constexpr int kCrConnHostError = 2003;    // TCP connect refused / timed out
constexpr int kCrUnknownHost = 2005;
constexpr int kCrServerGoneError = 2006;
constexpr int kCrOutOfMemory = 2008;
constexpr int kCrServerHandshakeErr = 2012;
constexpr int kCrCommandsOutOfSync = 2014;
constexpr int kCrSslConnectionError = 2026;
constexpr int kCrNoPrepareStmt = 2030;  // statement lost with a reconnect
constexpr int kCrServerLostExtended = 2055;
// Server-side error numbers that end the session.
constexpr int kErrServerShutdown = 1053;
constexpr int kErrTooManyConnections = 1040;
constexpr int kErrConnectionKilled = 1927;
constexpr int kErrClientInteractionTimeout = 4031;
// Server-side error numbers with a caller-visible meaning.
constexpr int kErrLockWaitTimeout = 1205;
constexpr int kErrDeadlock = 1213;
constexpr int kErrUnknownDatabase = 1049;
constexpr int kErrNoSuchTable = 1146;
constexpr int kErrBadField = 1054;
constexpr int kErrDbAccessDenied = 1044;
constexpr int kErrSpecificAccessDenied = 1227;  // a missing global privilege
constexpr int kErrMySqlQueryTimeout = 3024;  // MySQL's MAX_EXECUTION_TIME

}  // namespace

bool IsConnectionError(int error_code) {
  switch (error_code) {
    case kCrConnectionError:
    case kCrConnHostError:
    case kCrUnknownHost:
    case kCrServerGoneError:
    case kCrOutOfMemory:
    case kCrServerHandshakeErr:
    case kErrServerLost:
    case kCrCommandsOutOfSync:
    case kCrSslConnectionError:
    case kCrNoPrepareStmt:
    case kCrServerLostExtended:
    case kErrServerShutdown:
    case kErrConnectionKilled:
    case kErrClientInteractionTimeout:
      return true;
    default:
      return false;
  }
}

absl::Status StatusFromSqlError(int error_code, absl::string_view endpoint,
                                absl::Time deadline) {
  const std::string where =
      absl::StrCat(" (database ", endpoint, ", error ", error_code, ")");
  if (IsConnectionError(error_code)) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "deadline exceeded while talking to the database", where));
    }
    return absl::UnavailableError(
        absl::StrCat("database connection failed", where));
  }
  switch (error_code) {
    case kErrDuplicateEntry:
      return absl::AlreadyExistsError(
          absl::StrCat("duplicate value for a unique field", where));
    case kErrReadOnly:
      return absl::UnavailableError(absl::StrCat(
          "database is read-only and refuses writes; it may have been "
          "demoted",
          where));
    case kErrStatementTimeout:
    case kErrMySqlQueryTimeout:
      return absl::DeadlineExceededError(
          absl::StrCat("query stopped at the call's deadline", where));
    case kErrQueryInterrupted:
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("query stopped at the call's deadline", where));
      }
      return absl::AbortedError(
          absl::StrCat("query was interrupted; retry", where));
    case kErrLockWaitTimeout:
    case kErrDeadlock:
      return absl::AbortedError(
          absl::StrCat("conflicting concurrent write; retry the call", where));
    case kErrTooManyConnections:
      return absl::UnavailableError(
          absl::StrCat("database has no free connections", where));
    case kErrAccessDenied:
    case kErrDbAccessDenied:
      return absl::UnavailableError(
          absl::StrCat("database rejected the service's credentials", where));
    case kErrSpecificAccessDenied:
      return absl::PermissionDeniedError(absl::StrCat(
          "the service's database user lacks a privilege this needs", where));
    case kErrUnknownDatabase:
    case kErrNoSuchTable:
    case kErrBadField:
      return absl::FailedPreconditionError(absl::StrCat(
          "database schema is missing or outdated; run user_server "
          "--migrate-only",
          where));
    default:
      return absl::InternalError(
          absl::StrCat("unexpected database error", where));
  }
}

absl::Status RunSql(absl::string_view endpoint, absl::Time deadline,
                    absl::FunctionRef<absl::Status()> body,
                    SqlOutcome* outcome) {
  SqlOutcome ignored;
  if (outcome == nullptr) outcome = &ignored;
  *outcome = SqlOutcome();
  try {
    return body();
  } catch (const sql::SQLException& e) {
    // e.what() may quote SQL or values (a duplicate entry names the value),
    // so only the numbers are logged.
    const int code = e.getErrorCode();
    outcome->error_code = code;
    outcome->connection_broken = IsConnectionError(code);
    absl::Status status = StatusFromSqlError(code, endpoint, deadline);
    if (status.code() == absl::StatusCode::kInternal) {
      log::Error("unexpected database error",
                 {{"endpoint", std::string(endpoint)},
                  {"error_code", absl::StrCat(code)},
                  {"sql_state", e.getSQLState()}});
    }
    return status;
  } catch (const std::exception& e) {
    // Connector/C++ also throws std:: exceptions (bad_alloc, invalid
    // arguments to its own API); they leave the connection state unknown.
    outcome->connection_broken = true;
    log::Error("database client library failure",
               {{"endpoint", std::string(endpoint)}, {"what", e.what()}});
    return absl::InternalError(
        absl::StrCat("database client failure (database ", endpoint, ")"));
  }
}

}  // namespace userservice::mysql
