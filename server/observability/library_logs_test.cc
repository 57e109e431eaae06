#include "server/observability/library_logs.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/grpc.h"
#include "grpc/support/log.h"
#include "gtest/gtest.h"
#include "server/testing/log_capture.h"

namespace userservice::observability {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

TEST(LibraryLogsTest, GrpcAndProtobufLinesBecomeJsonLines) {
  log::LogCapture capture;
  // As in main: routed first, then gRPC starts (which sets its verbosity).
  RouteLibraryLogs();
  grpc_init();
  gpr_log(GPR_ERROR, "grpc says \"%s\"", "hi");
  GOOGLE_LOG(WARNING) << "protobuf says\nhello";
  grpc_shutdown();
  const std::vector<std::string> lines = capture.Lines();
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_THAT(lines[0], StartsWith("{\"time\":"));
  EXPECT_THAT(lines[0], HasSubstr("\"level\":\"error\",\"message\":\"grpc "
                                  "says \\\"hi\\\"\",\"library\":\"grpc\""));
  EXPECT_THAT(lines[0], HasSubstr("library_logs_test.cc:"));
  EXPECT_THAT(lines[1],
              HasSubstr("\"level\":\"warning\",\"message\":\"protobuf "
                        "says\\nhello\",\"library\":\"protobuf\""));
}

}  // namespace
}  // namespace userservice::observability
