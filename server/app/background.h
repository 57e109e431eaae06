#ifndef USERSERVICE_SERVER_APP_BACKGROUND_H_
#define USERSERVICE_SERVER_APP_BACKGROUND_H_

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/app/endpoint_set.h"
#include "server/health/topology.h"

namespace userservice {

// The server's housekeeping thread: every second the pools retire idle and
// aged connections (even when no call comes by), and once a minute the
// writer forgets idempotency keys older than the retention.
class Background {
 public:
  // `endpoints` and `topology` must outlive this object. A zero retention keeps keys
  // forever.
  Background(EndpointSet* endpoints, const Topology* topology,
             absl::Duration request_id_retention);
  // Stops and joins the thread.
  ~Background();

  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

 private:
  void Loop();
  void PurgeExpiredRequestIds();

  EndpointSet* const endpoints_;
  const Topology* const topology_;
  const absl::Duration request_id_retention_;
  absl::Notification stop_;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_BACKGROUND_H_
