#include "server/service/failure_warnings.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"
#include "server/testing/log_capture.h"

// Through the service, with real calls, the limit is also checked in
// user_service_impl_test.cc (CallFailedWarningsAreLimitedPerSecondAndCounted).

namespace userservice {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::vector<std::string> CallFailedLines(const log::LogCapture& capture) {
  std::vector<std::string> lines;
  for (const std::string& line : capture.Lines()) {
    if (absl::StrContains(line, "\"message\":\"call failed\"")) {
      lines.push_back(line);
    }
  }
  return lines;
}

TEST(FailureWarningsTest, RepliesWithTheStatusCodeAndMessage) {
  const FailureWarnings warnings(0);
  grpc::ServerContext context;
  EXPECT_TRUE(warnings.ToReply(context, "GetUser", absl::OkStatus()).ok());
  const grpc::Status reply = warnings.ToReply(
      context, "GetUser", absl::NotFoundError("user 7 not found"));
  EXPECT_EQ(reply.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(reply.error_message(), "user 7 not found");
}

TEST(FailureWarningsTest, WarnsOnlyAboutServerSideFailures) {
  log::LogCapture capture;
  const FailureWarnings warnings(0);
  grpc::ServerContext context;
  for (const absl::Status& callers :
       {absl::OkStatus(), absl::InvalidArgumentError("bad"),
        absl::NotFoundError("none"), absl::AlreadyExistsError("taken"),
        absl::AbortedError("version"), absl::CancelledError("gone"),
        absl::DeadlineExceededError("late")}) {
    warnings.ToReply(context, "UpdateUser", callers);
  }
  EXPECT_THAT(CallFailedLines(capture), IsEmpty());
  for (const absl::Status& servers :
       {absl::UnavailableError("down"), absl::InternalError("bug"),
        absl::ResourceExhaustedError("full"),
        absl::FailedPreconditionError("read-only")}) {
    warnings.ToReply(context, "UpdateUser", servers);
  }
  const std::vector<std::string> lines = CallFailedLines(capture);
  ASSERT_THAT(lines, SizeIs(4));
  EXPECT_THAT(lines[0], AllOf(HasSubstr("\"method\":\"UpdateUser\""),
                              HasSubstr("\"code\":\"UNAVAILABLE\""),
                              HasSubstr("\"error\":\"down\"")));
  EXPECT_THAT(lines[3], HasSubstr("\"code\":\"FAILED_PRECONDITION\""));
}

TEST(FailureWarningsTest, TheLimitIsPerMethodAndCode) {
  log::LogCapture capture;
  const FailureWarnings warnings(1);
  grpc::ServerContext context;
  for (int i = 0; i < 3; ++i) {
    warnings.ToReply(context, "GetUser", absl::UnavailableError("down"));
  }
  warnings.ToReply(context, "CreateUser", absl::UnavailableError("down"));
  warnings.ToReply(context, "GetUser", absl::InternalError("bug"));
  EXPECT_THAT(CallFailedLines(capture), SizeIs(3));
}

}  // namespace
}  // namespace userservice
