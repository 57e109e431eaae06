#ifndef CLIENT_BENCH_SERVICE_CHANNELS_H_
#define CLIENT_BENCH_SERVICE_CHANNELS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userbench {

// `count` channels to `addr`, each on its own HTTP/2 connection: gRPC
// would otherwise share one subchannel (one TCP connection, one reading
// thread on the server) between equal channels, and that connection, not
// the server, would bound the throughput.
std::vector<std::shared_ptr<grpc::Channel>> OpenChannels(
    const std::string& addr, int count);

// One stub per channel.
std::vector<std::unique_ptr<userservice::v1::UserService::Stub>> MakeStubs(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels);

// Connects every channel, so the first measured calls do not pay for it.
// Unavailable if one does not connect within `timeout`.
absl::Status ConnectAll(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels,
    absl::Duration timeout);

}  // namespace userbench

#endif  // CLIENT_BENCH_SERVICE_CHANNELS_H_
