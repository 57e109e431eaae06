#ifndef USERSERVICE_SERVER_TESTING_FIXED_TOPOLOGY_H_
#define USERSERVICE_SERVER_TESTING_FIXED_TOPOLOGY_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/health/replica_health.h"
#include "server/health/topology.h"
#include "server/routing/read_router.h"

namespace userservice {

// What a check of endpoint `server_id` finds when it is the writer, or when
// it replicates from `source`.
inline ProbeResult WriterProbe(int64_t server_id) {
  ProbeResult seen;
  seen.reachable = true;
  seen.server_id = server_id;
  seen.read_only = false;
  seen.replication_status_known = true;
  return seen;
}

inline ProbeResult ReplicaProbe(int64_t server_id, int64_t source) {
  ProbeResult seen = WriterProbe(server_id);
  seen.read_only = true;
  seen.replication_configured = true;
  seen.io_running = true;
  seen.sql_running = true;
  seen.source_server_id = source;
  return seen;
}

// A Topology whose election made endpoint 0 the writer and every other
// endpoint its replica, as the health checker would after one check of
// each. Endpoint i is server i + 1.
inline std::unique_ptr<Topology> PrimaryWithReplicas(
    std::vector<std::string> names, TopologyOptions options = {}) {
  const size_t count = names.size();
  auto topology =
      std::make_unique<Topology>(std::move(names), options, nullptr);
  for (size_t i = 0; i < count; ++i) {
    topology->Record(i, i == 0 ? WriterProbe(1) : ReplicaProbe(i + 1, 1));
  }
  return topology;
}

// `primary` followed by `replicas`: the endpoint order of a ReadRouter
// over PrimaryWithReplicas(NamesOf(...)).
inline std::vector<NamedReader> PrimaryFirst(NamedReader primary,
                                             std::vector<NamedReader> replicas) {
  std::vector<NamedReader> all = {std::move(primary)};
  for (NamedReader& r : replicas) all.push_back(std::move(r));
  return all;
}

inline std::vector<std::string> NamesOf(
    const std::vector<NamedReader>& endpoints) {
  std::vector<std::string> names;
  for (const NamedReader& e : endpoints) names.push_back(e.name);
  return names;
}

}  // namespace userservice

#endif  // USERSERVICE_SERVER_TESTING_FIXED_TOPOLOGY_H_
