#include "server/observability/library_logs.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/grpc.h"
#include "grpc/support/log.h"
#include "gtest/gtest.h"
#include "server/testing/log_capture.h"
#include "userservice/v1/user_service.pb.h"

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

TEST(LibraryLogsTest, AParserComplaintAboutRequestBytesIsAWarning) {
  log::LogCapture capture;
  RouteLibraryLogs();
  // What a client's invalid UTF-8 in a string field makes protobuf say.
  v1::GetUserRequest request;
  std::string bytes = "\x0a\x02\xc3\x28";  // field 1: not UTF-8
  bytes[0] =
      static_cast<char>((v1::GetUserRequest::kUsernameFieldNumber << 3) | 2);
  EXPECT_FALSE(request.ParseFromString(bytes));
  const std::vector<std::string> lines = capture.Lines();
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_THAT(lines[0], HasSubstr("\"level\":\"warning\""));
  EXPECT_THAT(lines[0], HasSubstr("invalid UTF-8"));
  EXPECT_THAT(lines[0], HasSubstr("\"library\":\"protobuf\""));
}

TEST(LibraryLogsTest, OtherProtobufErrorsStayErrors) {
  EXPECT_EQ(ProtobufLineLevel(google::protobuf::LOGLEVEL_ERROR,
                              "String field 'x' contains invalid UTF-8 data "
                              "when serializing a protocol buffer."),
            log::Level::kError);
  EXPECT_EQ(ProtobufLineLevel(google::protobuf::LOGLEVEL_ERROR,
                              "Can't parse message of type \"x\" because it "
                              "is missing required fields: y"),
            log::Level::kWarning);
  EXPECT_EQ(ProtobufLineLevel(google::protobuf::LOGLEVEL_DFATAL, "oops"),
            log::Level::kError);
  EXPECT_EQ(ProtobufLineLevel(google::protobuf::LOGLEVEL_INFO, "fyi"),
            log::Level::kInfo);
}

TEST(LibraryLogsTest, EachSourceLocationWritesItsShareOfASecond) {
  log::LogCapture capture;
  RouteLibraryLogs();
  LimitLibraryLogs(3);
  grpc_init();
  for (int i = 0; i < 50; ++i) gpr_log(GPR_ERROR, "flood %d", i);
  gpr_log(GPR_ERROR, "another place");
  grpc_shutdown();
  const std::vector<std::string> lines = capture.Lines();
  ASSERT_THAT(lines, SizeIs(4));
  EXPECT_THAT(lines[2], HasSubstr("flood 2"));
  EXPECT_THAT(lines[3], HasSubstr("another place"));
  LimitLibraryLogs(0);
}

}  // namespace
}  // namespace userservice::observability
