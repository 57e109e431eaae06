#include "client/userctl/exit_codes.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"

namespace userctl {
namespace {

TEST(ExitCodesTest, OkIsZero) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(FromRpcStatus(grpc::Status::OK)), 0);
  EXPECT_TRUE(FromRpcStatus(grpc::Status::OK).ok());
}

TEST(ExitCodesTest, RpcErrorsAreTenPlusTheGrpcCode) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status status = FromRpcStatus(
        grpc::Status(static_cast<grpc::StatusCode>(code), "boom"));
    EXPECT_TRUE(IsRpcError(status));
    EXPECT_EQ(ExitCodeFor(status), 10 + code) << status;
  }
}

TEST(ExitCodesTest, DocumentedExamples) {
  EXPECT_EQ(
      ExitCodeFor(FromRpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, ""))),
      15);
  EXPECT_EQ(ExitCodeFor(FromRpcStatus(
                grpc::Status(grpc::StatusCode::ALREADY_EXISTS, ""))),
            16);
  EXPECT_EQ(
      ExitCodeFor(FromRpcStatus(grpc::Status(grpc::StatusCode::ABORTED, ""))),
      20);
  EXPECT_EQ(ExitCodeFor(
                FromRpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, ""))),
            24);
}

TEST(ExitCodesTest, NonCanonicalRpcCodeCountsAsUnknown) {
  const absl::Status status =
      FromRpcStatus(grpc::Status(static_cast<grpc::StatusCode>(99), "odd"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(ExitCodeFor(status), 12);
}

TEST(ExitCodesTest, LocalErrorsAreOneEvenWithAnRpcLikeCode) {
  EXPECT_FALSE(IsRpcError(absl::InvalidArgumentError("x")));
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), kExitFailure);
  EXPECT_EQ(ExitCodeFor(absl::DataLossError("x")), 1);
  EXPECT_EQ(kExitUsage, 2);
}

TEST(ExitCodesTest, ErrorLineNamesTheCodeForRpcErrors) {
  EXPECT_EQ(ErrorLine(FromRpcStatus(
                grpc::Status(grpc::StatusCode::NOT_FOUND, "user 7 not found"))),
            "error: NOT_FOUND: user 7 not found");
  EXPECT_EQ(
      ErrorLine(FromRpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, ""))),
      "error: UNAVAILABLE");
  EXPECT_EQ(ErrorLine(absl::DataLossError("could not write the output")),
            "error: could not write the output");
}

}  // namespace
}  // namespace userctl
