#ifndef USERSERVICE_SERVER_METRICS_TOPOLOGY_METRICS_H_
#define USERSERVICE_SERVER_METRICS_TOPOLOGY_METRICS_H_

#include <vector>

#include "prometheus/collectable.h"
#include "server/health/topology.h"
#include "server/routing/write_router.h"

namespace userservice::metrics {

// The elected roles and the write hold, read at scrape time:
//   userservice_endpoint_role{endpoint, role}   1 for the current role
//   userservice_writer_elected                  1 while a writer is elected
//   userservice_writable_databases              servers writable and
//                                               replicating from nobody
//                                               (more than 1: split brain)
//   userservice_writer_changes_total, userservice_role_changes_total
//   userservice_held_writes                     calls waiting for a writer
//   userservice_write_holds_total{outcome}      writer_elected, timed_out,
//                                               refused
//   userservice_write_hold_seconds_total        time spent waiting
//   userservice_write_resends_total             writes sent to a new writer
class TopologyCollector : public prometheus::Collectable {
 public:
  // Both must outlive the collector.
  TopologyCollector(const Topology* topology, const WriteRouter* writes);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Topology* const topology_;
  const WriteRouter* const writes_;
};

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_TOPOLOGY_METRICS_H_
