#ifndef CLIENT_USERCTL_CHANNEL_H_
#define CLIENT_USERCTL_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"

namespace userctl {

// How to reach the server. With every TLS field empty the channel is
// plaintext; any of them turns TLS on.
struct ChannelOptions {
  std::string addr;
  std::string tls_ca;    // PEM bundle to verify the server (empty: system roots)
  std::string tls_cert;  // client certificate for mutual TLS
  std::string tls_key;   // its private key
  // Name expected in the server's certificate when it differs from the
  // host in addr (e.g. connecting by IP to a certificate for a DNS name).
  std::string tls_server_name;

  bool tls() const {
    return !tls_ca.empty() || !tls_cert.empty() || !tls_key.empty() ||
           !tls_server_name.empty();
  }
};

// Plaintext or TLS credentials; fails (InvalidArgument, naming the flag) if
// a file cannot be read or only one of cert and key is given.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
BuildChannelCredentials(const ChannelOptions& options);

// A channel to options.addr. Connects lazily, on the first RPC.
absl::StatusOr<std::shared_ptr<grpc::Channel>> BuildChannel(
    const ChannelOptions& options);

}  // namespace userctl

#endif  // CLIENT_USERCTL_CHANNEL_H_
