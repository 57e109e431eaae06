#include "server/metrics/routing_metrics.h"

#include "server/metrics/buckets.h"

namespace userservice::metrics {

RoutingMetrics::RoutingMetrics(prometheus::Registry& registry,
                               const std::vector<std::string>& endpoints) {
  auto& reads = prometheus::BuildCounter()
                    .Name("userservice_reads_total")
                    .Help(
                        "Read attempts by the endpoint they ran on and why "
                        "the router chose it.")
                    .Register(registry);
  auto& waits =
      prometheus::BuildCounter()
          .Name("userservice_gtid_wait_total")
          .Help(
              "Session reads' waits (MASTER_GTID_WAIT) for a replica to "
              "apply the caller's write, by outcome.")
          .Register(registry);
  auto& wait_seconds =
      prometheus::BuildHistogram()
          .Name("userservice_gtid_wait_seconds")
          .Help(
              "Time session reads waited for a replica to apply the "
              "caller's write.")
          .Register(registry);
  refused_ = &prometheus::BuildCounter()
                  .Name("userservice_read_fallback_refused_total")
                  .Help(
                      "EVENTUAL/BOUNDED_STALENESS reads refused with "
                      "UNAVAILABLE because no replica could take them and "
                      "the primary's fallback budget was used up.")
                  .Register(registry)
                  .Add({});

  // Any endpoint may be elected writer or serve as a replica, so each has
  // every series.
  for (const std::string& name : endpoints) {
    Endpoint& r = endpoints_[name];
    for (int reason = 0; reason < kReadReasonCount; ++reason) {
      r.reads[reason] = &reads.Add(
          {{"endpoint", name},
           {"reason", ReadReasonName(static_cast<ReadReason>(reason))}});
    }
    for (PositionWaitOutcome outcome :
         {PositionWaitOutcome::kReached, PositionWaitOutcome::kTimeout,
          PositionWaitOutcome::kError}) {
      r.waits[static_cast<int>(outcome)] = &waits.Add(
          {{"endpoint", name}, {"outcome", PositionWaitOutcomeName(outcome)}});
    }
    r.wait_seconds = &wait_seconds.Add({{"endpoint", name}}, LatencyBuckets());
  }
}

void RoutingMetrics::OnRead(const std::string& endpoint, ReadReason reason,
                            int reads) {
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end()) return;
  prometheus::Counter* counter = it->second.reads[static_cast<int>(reason)];
  if (counter != nullptr) counter->Increment(reads);
}

void RoutingMetrics::OnFallbackRefused() { refused_->Increment(); }

void RoutingMetrics::OnPositionWait(const std::string& endpoint,
                                    PositionWaitOutcome outcome,
                                    absl::Duration waited) {
  auto it = endpoints_.find(endpoint);
  if (it == endpoints_.end() || it->second.wait_seconds == nullptr) return;
  it->second.waits[static_cast<int>(outcome)]->Increment();
  it->second.wait_seconds->Observe(absl::ToDoubleSeconds(waited));
}

}  // namespace userservice::metrics
