#ifndef USERSERVICE_SERVER_SERVICE_SERVED_BY_H_
#define USERSERVICE_SERVER_SERVICE_SERVED_BY_H_

// The initial metadata that tells a caller (and the access log) which
// endpoint served its read.

#include <string>

#include "grpcpp/server_context.h"

namespace userservice {

// Initial-metadata key naming the endpoint that served a read.
inline constexpr char kServedByMetadataKey[] = "x-served-by";

// Adds `endpoint` as the call's x-served-by; nothing when no endpoint
// answered.
inline void AddServedBy(grpc::ServerContextBase* context,
                        const std::string& endpoint) {
  if (!endpoint.empty()) {
    context->AddInitialMetadata(kServedByMetadataKey, endpoint);
  }
}

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_SERVED_BY_H_
