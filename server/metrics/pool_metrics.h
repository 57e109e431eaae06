#ifndef USERSERVICE_SERVER_METRICS_POOL_METRICS_H_
#define USERSERVICE_SERVER_METRICS_POOL_METRICS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/pool/connection_pool.h"
#include "server/pool/pool_observer.h"

namespace userservice::metrics {

// userservice_pool_acquire_wait_seconds{endpoint}: how long each Acquire
// took, successful or not. One observer per endpoint, for
// PoolOptions::observer.
class PoolWaitMetrics {
 public:
  PoolWaitMetrics(prometheus::Registry& registry,
                  const std::vector<std::string>& endpoints);
  ~PoolWaitMetrics();
  PoolWaitMetrics(const PoolWaitMetrics&) = delete;
  PoolWaitMetrics& operator=(const PoolWaitMetrics&) = delete;

  // The observer for `endpoint`'s pool (null for an endpoint not named at
  // construction). Owned by this object.
  PoolObserver* ObserverFor(const std::string& endpoint);

 private:
  class Observer;
  absl::flat_hash_map<std::string, std::unique_ptr<Observer>> observers_;
};

// The pools' own counts (PoolStats), read at scrape time:
//   userservice_pool_max_connections{endpoint}
//   userservice_pool_connections{endpoint, state=in_use|idle}
//   userservice_pool_waiters{endpoint}
//   userservice_pool_connections_opened_total{endpoint}
//   userservice_pool_connections_closed_total{endpoint, reason}
//     error (the connection failed, failed validation, or was flushed
//     after another one failed or the primary turned read-only), lifetime,
//     idle, shutdown
//   userservice_pool_acquire_failures_total{endpoint, reason}
//     timeout (acquire timeout or the call's deadline), connect_error,
//     closed (the pool was shutting down)
class PoolStatsCollector : public prometheus::Collectable {
 public:
  struct Pool {
    std::string endpoint;
    std::function<PoolStats()> stats;
  };

  explicit PoolStatsCollector(std::vector<Pool> pools);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::vector<Pool> pools_;
};

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_POOL_METRICS_H_
