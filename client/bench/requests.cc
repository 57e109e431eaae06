#include "client/bench/requests.h"

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/bench/bench_config.h"
#include "grpcpp/support/status.h"
#include "userservice/v1/user_service.pb.h"

namespace userbench {

void SetReadOptions(const ReadConsistency& consistency,
                    const std::string& token,
                    userservice::v1::ReadOptions* options) {
  using Level = ReadConsistency::Level;
  switch (consistency.level) {
    case Level::kEventual:
      options->set_consistency(userservice::v1::CONSISTENCY_EVENTUAL);
      break;
    case Level::kSession:
      options->set_consistency(userservice::v1::CONSISTENCY_SESSION);
      if (!token.empty()) options->set_consistency_token(token);
      break;
    case Level::kStrong:
      options->set_consistency(userservice::v1::CONSISTENCY_STRONG);
      break;
    case Level::kBounded: {
      options->set_consistency(userservice::v1::CONSISTENCY_BOUNDED_STALENESS);
      const int64_t nanos = absl::ToInt64Nanoseconds(consistency.max_staleness);
      options->mutable_max_staleness()->set_seconds(nanos / 1'000'000'000);
      options->mutable_max_staleness()->set_nanos(
          static_cast<int32_t>(nanos % 1'000'000'000));
      break;
    }
  }
}

absl::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

}  // namespace userbench
