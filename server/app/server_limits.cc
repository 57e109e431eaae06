#include "server/app/server_limits.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/grpc.h"
#include "grpcpp/server_builder.h"

namespace userservice {
namespace {

int Millis(absl::Duration d) {
  const int64_t ms = absl::ToInt64Milliseconds(d);
  return static_cast<int>(
      std::min<int64_t>(ms, std::numeric_limits<int>::max()));
}

}  // namespace

absl::Status ValidateServerLimits(const ServerLimits& limits) {
  if (limits.max_receive_message_bytes < 1024) {
    return absl::InvalidArgumentError(
        "--max-receive-message-size: must be at least 1024 bytes");
  }
  if (limits.max_concurrent_streams < 1) {
    return absl::InvalidArgumentError(
        "--max-concurrent-streams: must be at least 1");
  }
  if (limits.max_ping_strikes < 0) {
    return absl::InvalidArgumentError(
        "--keepalive-max-ping-strikes: must not be negative (0: unlimited)");
  }
  if (limits.max_connection_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--max-connection-age: must not be negative (0: never)");
  }
  for (const auto& [name, value] :
       {std::pair{"--keepalive-min-ping-interval", limits.min_ping_interval},
        std::pair{"--keepalive-time", limits.keepalive_time},
        std::pair{"--keepalive-timeout", limits.keepalive_timeout},
        std::pair{"--max-connection-age-grace",
                  limits.max_connection_age_grace},
        std::pair{"--handshake-timeout", limits.handshake_timeout}}) {
    if (value <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": must be a positive duration such as 10s"));
    }
  }
  return absl::OkStatus();
}

void ApplyServerLimits(const ServerLimits& limits,
                       grpc::ServerBuilder& builder) {
  // An oversized request fails with RESOURCE_EXHAUSTED before it is parsed.
  builder.SetMaxReceiveMessageSize(limits.max_receive_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             limits.max_concurrent_streams);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      Millis(limits.min_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES,
                             limits.max_ping_strikes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             Millis(limits.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             Millis(limits.keepalive_timeout));
  // Clients that keep a connection open between calls (a pool, userctl in
  // a loop) may ping it, within the interval above.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             Millis(limits.handshake_timeout));
  if (limits.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               Millis(limits.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               Millis(limits.max_connection_age_grace));
  }
}

}  // namespace userservice
