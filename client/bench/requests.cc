#include "client/bench/requests.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
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

std::string StatusCodeName(grpc::StatusCode code) {
  // gRPC's codes are Abseil's, number for number.
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace userbench
