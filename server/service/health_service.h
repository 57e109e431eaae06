#ifndef USERSERVICE_SERVER_SERVICE_HEALTH_SERVICE_H_
#define USERSERVICE_SERVER_SERVICE_HEALTH_SERVICE_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace userservice {

// grpc.health.v1.Health (doc/health-checking.md in gRPC): Check answers with
// a service's status or NOT_FOUND for a service never set; Watch streams
// the status, first the current one, then each change (SERVICE_UNKNOWN for
// a service not set yet), until the client leaves or Shutdown.
//
// Used instead of gRPC's built-in service: in gRPC 1.51 that one runs on the
// callback API, whose extra polling threads take part in every call's
// socket work and cost as much CPU as a GetUser call.
class HealthService final : public grpc::health::v1::Health::Service {
 public:
  // "" is the server as a whole.
  void SetServingStatus(const std::string& service, bool serving);
  // Every service NOT_SERVING from now on, whatever is set later, and every
  // Watch ends.
  void Shutdown();

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>*
                         writer) override;

 private:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  ServingStatus StatusOf(const std::string& service) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // NOT_FOUND's message: the services this server knows, in order.
  std::string UnknownServiceMessage() const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ServingStatus> statuses_
      ABSL_GUARDED_BY(mu_);
  // Bumped on every change, so a Watch can wait for "something changed".
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_HEALTH_SERVICE_H_
