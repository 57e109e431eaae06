#include "server/metrics/pool_metrics.h"

#include <utility>

#include "server/metrics/buckets.h"
#include "server/metrics/samples.h"

namespace userservice::metrics {

class PoolWaitMetrics::Observer : public PoolObserver {
 public:
  explicit Observer(prometheus::Histogram* wait) : wait_(wait) {}

  void OnAcquire(absl::Duration waited, const absl::Status&) override {
    wait_->Observe(absl::ToDoubleSeconds(waited));
  }

 private:
  prometheus::Histogram* const wait_;
};

PoolWaitMetrics::PoolWaitMetrics(prometheus::Registry& registry,
                                 const std::vector<std::string>& endpoints) {
  auto& wait = prometheus::BuildHistogram()
                   .Name("userservice_pool_acquire_wait_seconds")
                   .Help(
                       "Time to get a pooled database connection (waiting "
                       "for a free one, opening or validating it), "
                       "including acquires that failed.")
                   .Register(registry);
  for (const std::string& endpoint : endpoints) {
    observers_[endpoint] = std::make_unique<Observer>(
        &wait.Add({{"endpoint", endpoint}}, LatencyBuckets()));
  }
}

PoolWaitMetrics::~PoolWaitMetrics() = default;

PoolObserver* PoolWaitMetrics::ObserverFor(const std::string& endpoint) {
  auto it = observers_.find(endpoint);
  return it == observers_.end() ? nullptr : it->second.get();
}

PoolStatsCollector::PoolStatsCollector(std::vector<Pool> pools)
    : pools_(std::move(pools)) {}

std::vector<prometheus::MetricFamily> PoolStatsCollector::Collect() const {
  using prometheus::MetricType;
  auto max = MakeFamily("userservice_pool_max_connections",
                        "Most connections the endpoint's pool may hold "
                        "(--pool-size).",
                        MetricType::Gauge);
  auto connections =
      MakeFamily("userservice_pool_connections",
                 "Open pooled connections, by state (in_use includes ones "
                 "being validated).",
                 MetricType::Gauge);
  auto waiters =
      MakeFamily("userservice_pool_waiters",
                 "Calls waiting for a pooled connection.", MetricType::Gauge);
  auto opened = MakeFamily("userservice_pool_connections_opened_total",
                           "Database connections opened by the pool.",
                           MetricType::Counter);
  auto closed = MakeFamily("userservice_pool_connections_closed_total",
                           "Pooled database connections closed, by reason.",
                           MetricType::Counter);
  auto failures = MakeFamily("userservice_pool_acquire_failures_total",
                             "Calls that got no pooled connection, by reason.",
                             MetricType::Counter);
  for (const Pool& pool : pools_) {
    const PoolStats s = pool.stats();
    const std::string& e = pool.endpoint;
    AddSample(&max, {{"endpoint", e}}, s.max_size);
    AddSample(&connections, {{"endpoint", e}, {"state", "in_use"}}, s.in_use);
    AddSample(&connections, {{"endpoint", e}, {"state", "idle"}}, s.idle);
    AddSample(&waiters, {{"endpoint", e}}, s.waiters);
    AddSample(&opened, {{"endpoint", e}}, static_cast<double>(s.opened));
    AddSample(&closed, {{"endpoint", e}, {"reason", "error"}},
              static_cast<double>(s.closed_broken + s.closed_validation +
                                  s.closed_discarded));
    AddSample(&closed, {{"endpoint", e}, {"reason", "lifetime"}},
              static_cast<double>(s.closed_lifetime));
    AddSample(&closed, {{"endpoint", e}, {"reason", "idle"}},
              static_cast<double>(s.closed_idle));
    AddSample(&closed, {{"endpoint", e}, {"reason", "shutdown"}},
              static_cast<double>(s.closed_shutdown));
    AddSample(&failures, {{"endpoint", e}, {"reason", "timeout"}},
              static_cast<double>(s.acquire_resource_exhausted +
                                  s.acquire_deadline_exceeded));
    AddSample(&failures, {{"endpoint", e}, {"reason", "connect_error"}},
              static_cast<double>(s.open_failures));
    AddSample(&failures, {{"endpoint", e}, {"reason", "closed"}},
              static_cast<double>(s.acquire_closed));
  }
  return {std::move(max),    std::move(connections), std::move(waiters),
          std::move(opened), std::move(closed),      std::move(failures)};
}

}  // namespace userservice::metrics
