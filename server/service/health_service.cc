#include "server/service/health_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace userservice {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

void HealthService::SetServingStatus(const std::string& service, bool serving) {
  absl::MutexLock lock(&mu_);
  statuses_[service] = serving && !shut_down_
                           ? HealthCheckResponse::SERVING
                           : HealthCheckResponse::NOT_SERVING;
  ++generation_;
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [service, status] : statuses_) {
    status = HealthCheckResponse::NOT_SERVING;
  }
  ++generation_;
}

HealthService::ServingStatus HealthService::StatusOf(
    const std::string& service) const {
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN
                               : it->second;
}

std::string HealthService::UnknownServiceMessage() const {
  std::vector<std::string> known;
  for (const auto& [name, status] : statuses_) {
    known.push_back(absl::StrCat("\"", name, "\""));
  }
  std::sort(known.begin(), known.end());
  return absl::StrCat("unknown service; this server reports ",
                      known.empty() ? "none yet" : absl::StrJoin(known, ", "));
}

grpc::Status HealthService::Check(grpc::ServerContext* /*context*/,
                                  const HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  absl::ReaderMutexLock lock(&mu_);
  const ServingStatus status = StatusOf(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    // The name asked for is not quoted: it may be any size and any bytes.
    return grpc::Status(grpc::StatusCode::NOT_FOUND, UnknownServiceMessage());
  }
  response->set_status(status);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(
    grpc::ServerContext* context, const HealthCheckRequest* request,
    grpc::ServerWriter<HealthCheckResponse>* writer) {
  // Polled, because a sync handler has no other way to learn that its
  // client left; a second is what a watcher may lag behind a departure.
  constexpr absl::Duration kCancelPoll = absl::Seconds(1);
  uint64_t seen = 0;
  bool first = true;
  ServingStatus last = HealthCheckResponse::UNKNOWN;
  for (;;) {
    ServingStatus status;
    bool shut_down;
    {
      absl::MutexLock lock(&mu_);
      auto changed = [this, &seen, &first]() {
        mu_.AssertReaderHeld();
        return first || generation_ != seen || shut_down_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&changed), kCancelPoll);
      seen = generation_;
      status = StatusOf(request->service());
      shut_down = shut_down_;
    }
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
    }
    if (first || status != last) {
      HealthCheckResponse response;
      response.set_status(status);
      if (!writer->Write(response)) return grpc::Status::OK;
      last = status;
      first = false;
    }
    if (shut_down) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the server is shutting down");
    }
  }
}

}  // namespace userservice
