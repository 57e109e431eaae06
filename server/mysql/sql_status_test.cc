#include "server/mysql/sql_status.h"

#include <new>
#include <ostream>
#include <stdexcept>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cppconn/exception.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userservice::mysql {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::Time Future() { return absl::Now() + absl::Hours(1); }
absl::Time Past() { return absl::Now() - absl::Seconds(1); }

struct CodeCase {
  int error_code;
  absl::StatusCode expected;
};

void PrintTo(const CodeCase& c, std::ostream* os) {
  *os << c.error_code << " -> " << absl::StatusCodeToString(c.expected);
}

class StatusFromSqlErrorTest : public ::testing::TestWithParam<CodeCase> {};

TEST_P(StatusFromSqlErrorTest, MapsTheCodeAndNamesEndpointAndNumber) {
  const CodeCase& c = GetParam();
  absl::Status status = StatusFromSqlError(c.error_code, "replica-2", Future());
  EXPECT_EQ(status.code(), c.expected) << status;
  EXPECT_THAT(status.message(), HasSubstr("replica-2"));
  EXPECT_THAT(status.message(), HasSubstr(absl::StrCat(c.error_code)));
}

INSTANTIATE_TEST_SUITE_P(
    Codes, StatusFromSqlErrorTest,
    ::testing::Values(CodeCase{1062, absl::StatusCode::kAlreadyExists},
                      CodeCase{1290, absl::StatusCode::kUnavailable},
                      CodeCase{2002, absl::StatusCode::kUnavailable},
                      CodeCase{2003, absl::StatusCode::kUnavailable},
                      CodeCase{2006, absl::StatusCode::kUnavailable},
                      CodeCase{2013, absl::StatusCode::kUnavailable},
                      CodeCase{2055, absl::StatusCode::kUnavailable},
                      CodeCase{1053, absl::StatusCode::kUnavailable},
                      CodeCase{1040, absl::StatusCode::kUnavailable},
                      CodeCase{1969, absl::StatusCode::kDeadlineExceeded},
                      CodeCase{3024, absl::StatusCode::kDeadlineExceeded},
                      CodeCase{1205, absl::StatusCode::kAborted},
                      CodeCase{1213, absl::StatusCode::kAborted},
                      CodeCase{1317, absl::StatusCode::kAborted},
                      CodeCase{1045, absl::StatusCode::kUnavailable},
                      CodeCase{1044, absl::StatusCode::kUnavailable},
                      CodeCase{1227, absl::StatusCode::kPermissionDenied},
                      CodeCase{1146, absl::StatusCode::kFailedPrecondition},
                      CodeCase{1049, absl::StatusCode::kFailedPrecondition},
                      CodeCase{1054, absl::StatusCode::kFailedPrecondition},
                      CodeCase{1064, absl::StatusCode::kInternal},
                      CodeCase{9999, absl::StatusCode::kInternal},
                      CodeCase{0, absl::StatusCode::kInternal}),
    [](const ::testing::TestParamInfo<CodeCase>& info) {
      return absl::StrCat("Error", info.param.error_code);
    });

TEST(StatusFromSqlErrorDeadlineTest, ConnectionErrorsAfterTheDeadline) {
  for (int code : {2002, 2003, 2006, 2013}) {
    SCOPED_TRACE(code);
    absl::Status status = StatusFromSqlError(code, "primary", Past());
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
    EXPECT_THAT(status.message(), HasSubstr("primary"));
    EXPECT_THAT(status.message(), HasSubstr(absl::StrCat(code)));
  }
}

TEST(StatusFromSqlErrorDeadlineTest, InterruptedQueryAfterTheDeadline) {
  EXPECT_EQ(StatusFromSqlError(1317, "primary", Past()).code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(StatusFromSqlErrorDeadlineTest, NonConnectionErrorsIgnoreThePastDeadline) {
  EXPECT_EQ(StatusFromSqlError(1062, "primary", Past()).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusFromSqlError(1213, "primary", Past()).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromSqlError(1146, "primary", Past()).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(StatusFromSqlErrorDeadlineTest, InfiniteDeadlineNeverExpires) {
  EXPECT_EQ(StatusFromSqlError(2013, "primary", absl::InfiniteFuture()).code(),
            absl::StatusCode::kUnavailable);
}

TEST(IsConnectionErrorTest, ConnectionLevelErrors) {
  for (int code : {2002, 2003, 2005, 2006, 2013, 2014, 2026, 2030, 2055, 1053,
                   1927, 4031}) {
    EXPECT_TRUE(IsConnectionError(code)) << code;
  }
}

TEST(IsConnectionErrorTest, StatementLevelErrors) {
  for (int code : {0, 1040, 1045, 1062, 1146, 1205, 1213, 1290, 1317, 1969,
                   3024, 1064, 9999}) {
    EXPECT_FALSE(IsConnectionError(code)) << code;
  }
}

// --- RunSql --------------------------------------------------------------

TEST(RunSqlTest, ReturnsTheBodysStatus) {
  SqlOutcome outcome;
  outcome.connection_broken = true;
  EXPECT_TRUE(
      RunSql(
          "primary", Future(), []() { return absl::OkStatus(); }, &outcome)
          .ok());
  EXPECT_FALSE(outcome.connection_broken);

  outcome.connection_broken = true;
  absl::Status status = RunSql(
      "primary", Future(), []() { return absl::NotFoundError("user 3"); },
      &outcome);
  EXPECT_EQ(status, absl::NotFoundError("user 3"));
  EXPECT_FALSE(outcome.connection_broken);
}

TEST(RunSqlTest, DuplicateEntryHidesTheValue) {
  SqlOutcome outcome;
  outcome.connection_broken = true;
  absl::Status status = RunSql(
      "primary", Future(),
      []() -> absl::Status {
        throw sql::SQLException(
            "Duplicate entry 'secret@x.com' for key 'users_email'", "23000",
            1062);
      },
      &outcome);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_THAT(status.message(), Not(HasSubstr("secret")));
  EXPECT_THAT(status.message(), Not(HasSubstr("x.com")));
  EXPECT_THAT(status.message(), Not(HasSubstr("Duplicate entry")));
  EXPECT_THAT(status.message(), Not(HasSubstr("users_email")));
  EXPECT_THAT(status.message(), Not(HasSubstr("23000")));
  EXPECT_THAT(status.message(), HasSubstr("primary"));
  EXPECT_THAT(status.message(), HasSubstr("1062"));
  EXPECT_FALSE(outcome.connection_broken);
  EXPECT_EQ(outcome.error_code, 1062);
}

TEST(RunSqlTest, LostConnectionMarksTheConnectionBroken) {
  SqlOutcome outcome;
  absl::Status status = RunSql(
      "replica-0", Future(),
      []() -> absl::Status {
        throw sql::SQLException("Lost connection to server at 'db:3306'",
                                "HY000", 2013);
      },
      &outcome);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("replica-0"));
  EXPECT_THAT(status.message(), Not(HasSubstr("db:3306")));
  EXPECT_TRUE(outcome.connection_broken);
}

TEST(RunSqlTest, LostConnectionAfterTheDeadlineIsDeadlineExceeded) {
  SqlOutcome outcome;
  absl::Status status = RunSql(
      "replica-0", Past(),
      []() -> absl::Status {
        throw sql::SQLException("Lost connection", "HY000", 2013);
      },
      &outcome);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_TRUE(outcome.connection_broken);
}

TEST(RunSqlTest, StatementErrorKeepsTheConnection) {
  SqlOutcome outcome;
  outcome.connection_broken = true;
  absl::Status status = RunSql(
      "primary", Future(),
      []() -> absl::Status {
        throw sql::SQLException("Deadlock found when trying to get lock",
                                "40001", 1213);
      },
      &outcome);
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  EXPECT_FALSE(outcome.connection_broken);
}

TEST(RunSqlTest, UnknownSqlErrorIsInternalWithoutTheText) {
  SqlOutcome outcome;
  outcome.connection_broken = true;
  absl::Status status = RunSql(
      "primary", Future(),
      []() -> absl::Status {
        throw sql::SQLException(
            "You have an error in your SQL syntax near 'password=hunter2'",
            "42000", 1064);
      },
      &outcome);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(status.message(), Not(HasSubstr("syntax")));
  EXPECT_FALSE(outcome.connection_broken);
}

TEST(RunSqlTest, OtherExceptionsAreInternalAndBreakTheConnection) {
  SqlOutcome outcome;
  absl::Status status = RunSql(
      "replica-1", Future(),
      []() -> absl::Status {
        throw std::runtime_error("driver state corrupt: user=root pw=hunter2");
      },
      &outcome);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), HasSubstr("replica-1"));
  EXPECT_THAT(status.message(), Not(HasSubstr("hunter2")));
  EXPECT_THAT(status.message(), Not(HasSubstr("corrupt")));
  EXPECT_TRUE(outcome.connection_broken);
  EXPECT_EQ(outcome.error_code, 0);
}

TEST(RunSqlTest, OutcomeIsOptional) {
  absl::Status status = RunSql("primary", Future(), []() -> absl::Status {
    throw sql::SQLException("gone", "HY000", 2006);
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  status = RunSql("primary", Future(),
                  []() -> absl::Status { throw std::bad_alloc(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace userservice::mysql
