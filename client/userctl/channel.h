#ifndef CLIENT_USERCTL_CHANNEL_H_
#define CLIENT_USERCTL_CHANNEL_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"

namespace userctl {

// How to reach the server. TLS settings (CA bundle, client certificate)
// belong here once the server terminates TLS.
struct ChannelOptions {
  std::string addr;
};

// Insecure for now; the single place to switch to grpc::SslCredentials.
std::shared_ptr<grpc::ChannelCredentials> BuildChannelCredentials(
    const ChannelOptions& options);

// A channel to options.addr. Connects lazily, on the first RPC.
std::shared_ptr<grpc::Channel> BuildChannel(const ChannelOptions& options);

}  // namespace userctl

#endif  // CLIENT_USERCTL_CHANNEL_H_
