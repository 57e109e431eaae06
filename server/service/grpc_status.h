#ifndef USERSERVICE_SERVER_SERVICE_GRPC_STATUS_H_
#define USERSERVICE_SERVER_SERVICE_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace userservice {

// The one place an absl::Status becomes a grpc::Status. Abseil's codes are
// gRPC's canonical codes, so the code carries over as is; messages are
// already written for clients by the layers below.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_GRPC_STATUS_H_
