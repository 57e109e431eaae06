#include "client/userctl/exit_codes.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace userctl {
namespace {

constexpr absl::string_view kRpcErrorPayload = "type.userctl/rpc-error";

bool IsCanonicalCode(int code) {
  return code > 0 &&
         code <= static_cast<int>(grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace

absl::Status FromRpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int code = static_cast<int>(status.error_code());
  // gRPC and absl share the canonical code numbering.
  absl::Status result(IsCanonicalCode(code)
                          ? static_cast<absl::StatusCode>(code)
                          : absl::StatusCode::kUnknown,
                      status.error_message());
  result.SetPayload(kRpcErrorPayload, absl::Cord());
  return result;
}

bool IsRpcError(const absl::Status& status) {
  return status.GetPayload(kRpcErrorPayload).has_value();
}

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitSuccess;
  if (!IsRpcError(status)) return kExitFailure;
  return kExitRpcErrorBase + static_cast<int>(status.code());
}

std::string ErrorLine(const absl::Status& status) {
  if (!IsRpcError(status)) return absl::StrCat("error: ", status.message());
  std::string line =
      absl::StrCat("error: ", absl::StatusCodeToString(status.code()));
  if (!status.message().empty()) absl::StrAppend(&line, ": ", status.message());
  return line;
}

}  // namespace userctl
