#include "client/bench/service_channels.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/grpc.h"
#include "grpcpp/channel.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace userbench {

std::vector<std::shared_ptr<grpc::Channel>> OpenChannels(
    const std::string& addr, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    // A private subchannel pool and a distinct argument set: either keeps
    // gRPC from reusing another channel's connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_CHANNEL_ID, i);
    channels.push_back(grpc::CreateCustomChannel(
        addr, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

std::vector<std::unique_ptr<userservice::v1::UserService::Stub>> MakeStubs(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  std::vector<std::unique_ptr<userservice::v1::UserService::Stub>> stubs;
  for (const auto& channel : channels) {
    stubs.push_back(userservice::v1::UserService::NewStub(channel));
  }
  return stubs;
}

absl::Status ConnectAll(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels,
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (size_t i = 0; i < channels.size(); ++i) {
    if (!channels[i]->WaitForConnected(absl::ToChronoTime(deadline))) {
      return absl::UnavailableError(absl::StrCat(
          "channel ", i, " did not connect within ",
          absl::FormatDuration(timeout), "; is the server running?"));
    }
  }
  return absl::OkStatus();
}

}  // namespace userbench
