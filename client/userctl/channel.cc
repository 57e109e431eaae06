#include "client/userctl/channel.h"

#include <memory>

#include "grpcpp/channel.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace userctl {

std::shared_ptr<grpc::ChannelCredentials> BuildChannelCredentials(
    const ChannelOptions& options) {
  return grpc::InsecureChannelCredentials();
}

std::shared_ptr<grpc::Channel> BuildChannel(const ChannelOptions& options) {
  return grpc::CreateChannel(options.addr, BuildChannelCredentials(options));
}

}  // namespace userctl
