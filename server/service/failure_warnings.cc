#include "server/service/failure_warnings.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"
#include "server/observability/line_limiter.h"
#include "server/observability/request_id.h"
#include "server/service/grpc_status.h"

namespace userservice {

FailureWarnings::FailureWarnings(int per_second)
    : limiter_(std::make_unique<observability::LineLimiter>(per_second)) {}

FailureWarnings::~FailureWarnings() = default;

// Server-side failures are worth a log line; a caller's mistake is not.
// (Every call, failed or not, also gets an access line from the
// interceptor; both carry the call's request id.)
grpc::Status FailureWarnings::ToReply(const grpc::ServerContextBase& context,
                                      absl::string_view method,
                                      const absl::Status& status) const {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kFailedPrecondition: {
      const std::string code = absl::StatusCodeToString(status.code());
      // An outage fails every call the same way: a few lines per second,
      // each counting those left out, tell it as well as thousands.
      const std::optional<int64_t> left_out =
          limiter_->Admit(absl::StrCat(method, " ", code));
      if (!left_out.has_value()) break;
      std::vector<log::Field> fields = {
          {"request_id", observability::RequestIdOf(context)},
          {"method", std::string(method)},
          {"code", code},
          {"error", std::string(status.message())}};
      observability::AddLeftOut(*left_out, fields);
      log::Warning("call failed", fields);
      break;
    }
    default:
      break;
  }
  return ToGrpcStatus(status);
}

}  // namespace userservice
