#ifndef USERSERVICE_SERVER_APP_SERVER_LIMITS_H_
#define USERSERVICE_SERVER_APP_SERVER_LIMITS_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/server_builder.h"

namespace userservice {

// Transport limits that keep one client from taking more than its share of
// the server: request size, streams per connection, and how often a client
// may ping. Requests are a few hundred bytes, so the message limit is small.
struct ServerLimits {
  int max_receive_message_bytes = 1 << 20;
  int max_concurrent_streams = 1000;
  // Pings without data more often than this count as a strike; after
  // max_ping_strikes strikes the server closes the connection (GOAWAY
  // "too_many_pings").
  absl::Duration min_ping_interval = absl::Seconds(10);
  int max_ping_strikes = 2;
  // The server pings idle clients this often and drops a connection whose
  // ping is not answered within keepalive_timeout (a vanished peer).
  absl::Duration keepalive_time = absl::Minutes(1);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // A connection older than this (give or take gRPC's 10 % jitter) is told
  // to go away, and its in-flight calls get max_connection_age_grace to
  // finish; the client reconnects, through the load balancer or Kubernetes
  // Service, so servers added since (a scale-up, a rollout) get their share
  // of long-lived clients. Zero: never.
  absl::Duration max_connection_age = absl::Minutes(30);
  absl::Duration max_connection_age_grace = absl::Minutes(1);
  // A connection must finish its handshake (TLS, and the client's HTTP/2
  // preface and SETTINGS) within this, or it is closed: each one half-open
  // holds a socket and memory, and gRPC's own default is two minutes.
  absl::Duration handshake_timeout = absl::Seconds(10);
};

// Checks ranges; names the flag at fault.
absl::Status ValidateServerLimits(const ServerLimits& limits);

void ApplyServerLimits(const ServerLimits& limits,
                       grpc::ServerBuilder& builder);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_SERVER_LIMITS_H_
