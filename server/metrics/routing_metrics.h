#ifndef USERSERVICE_SERVER_METRICS_ROUTING_METRICS_H_
#define USERSERVICE_SERVER_METRICS_ROUTING_METRICS_H_

#include <array>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/routing/routing_observer.h"

namespace userservice::metrics {

// The ReadRouter's decisions as userservice_reads_total{endpoint, reason},
// userservice_read_fallback_refused_total, and the session waits as
// userservice_gtid_wait_total{endpoint, outcome} and
// userservice_gtid_wait_seconds{endpoint}.
//
// Series exist from the start for every endpoint with every reason and
// wait outcome: roles change, so any endpoint may be the writer or a
// replica. Endpoints not named at construction are ignored.
class RoutingMetrics : public RoutingObserver {
 public:
  RoutingMetrics(prometheus::Registry& registry,
                 const std::vector<std::string>& endpoints);

  void OnRead(const std::string& endpoint, ReadReason reason,
              int reads) override;
  void OnFallbackRefused() override;
  void OnPositionWait(const std::string& endpoint, PositionWaitOutcome outcome,
                      absl::Duration waited) override;

 private:
  struct Endpoint {
    std::array<prometheus::Counter*, kReadReasonCount> reads{};
    std::array<prometheus::Counter*, kPositionWaitOutcomeCount> waits{};
    prometheus::Histogram* wait_seconds = nullptr;
  };

  // Immutable after construction, so lookups need no lock.
  absl::flat_hash_map<std::string, Endpoint> endpoints_;
  prometheus::Counter* refused_ = nullptr;
};

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_ROUTING_METRICS_H_
