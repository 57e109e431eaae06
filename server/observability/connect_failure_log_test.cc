#include "server/observability/connect_failure_log.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/fake_clock.h"
#include "server/testing/log_capture.h"

namespace userservice::observability {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

class ConnectFailureLogTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1000)};
  ConnectFailureLog log_{"replica-1", absl::Seconds(30), clock_.AsClock()};
  log::LogCapture capture_;
};

TEST_F(ConnectFailureLogTest, SuccessesAloneLogNothing) {
  log_.Record(absl::OkStatus());
  log_.Record(absl::OkStatus());
  EXPECT_THAT(capture_.Lines(), SizeIs(0));
}

TEST_F(ConnectFailureLogTest, AnOutageIsAFewLinesNotOnePerAttempt) {
  const absl::Status down = absl::UnavailableError(
      "database connection failed (database replica-1, "
      "error 2003)");
  for (int i = 0; i < 100; ++i) log_.Record(down);
  std::vector<std::string> lines = capture_.Lines();
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_THAT(lines[0], HasSubstr("\"level\":\"error\""));
  EXPECT_THAT(lines[0], HasSubstr("\"endpoint\":\"replica-1\""));
  EXPECT_THAT(lines[0], HasSubstr("error 2003"));

  clock_.Advance(absl::Seconds(31));
  log_.Record(down);
  log_.Record(down);
  lines = capture_.Lines();
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_THAT(lines[1], HasSubstr("\"level\":\"warning\""));
  EXPECT_THAT(lines[1], HasSubstr("\"failed_attempts\":100"));

  log_.Record(absl::OkStatus());
  log_.Record(absl::OkStatus());
  lines = capture_.Lines();
  ASSERT_THAT(lines, SizeIs(3));
  EXPECT_THAT(lines[2], HasSubstr("connections open again"));
  EXPECT_THAT(lines[2], HasSubstr("\"failed_attempts\":102"));

  // The next outage is reported at once again.
  log_.Record(down);
  EXPECT_THAT(capture_.Lines(), SizeIs(4));
}

TEST_F(ConnectFailureLogTest, CallerDeadlinesAreNotEndpointFailures) {
  log_.Record(absl::DeadlineExceededError("deadline exceeded"));
  log_.Record(absl::CancelledError("cancelled"));
  EXPECT_THAT(capture_.Lines(), SizeIs(0));
}

}  // namespace
}  // namespace userservice::observability
