#include "server/metrics/topology_metrics.h"

#include <utility>

#include "server/metrics/samples.h"

namespace userservice::metrics {

using prometheus::MetricType;

TopologyCollector::TopologyCollector(const Topology* topology,
                                     const WriteRouter* writes)
    : topology_(topology), writes_(writes) {}

namespace {

prometheus::MetricFamily Roles(const Topology& topology) {
  auto role = MakeFamily("userservice_endpoint_role",
                         "1 for the endpoint's current role (writer, replica, "
                         "unreachable, rival, alias, detached, unknown).",
                         MetricType::Gauge);
  for (size_t i = 0; i < topology.size(); ++i) {
    const EndpointRole current = topology.role(i);
    for (int r = 0; r < kEndpointRoleCount; ++r) {
      const auto each = static_cast<EndpointRole>(r);
      AddSample(&role,
                {{"endpoint", topology.name(i)},
                 {"role", EndpointRoleName(each)}},
                current == each ? 1 : 0);
    }
  }
  return role;
}

prometheus::MetricFamily Holds(const TopologyStats& stats) {
  auto holds = MakeFamily("userservice_write_holds_total",
                          "Calls that waited for a writer, by how the wait "
                          "ended (refused: too many waiting already).",
                          MetricType::Counter);
  AddSample(&holds, {{"outcome", "writer_elected"}},
            static_cast<double>(stats.holds_ended_with_writer));
  AddSample(&holds, {{"outcome", "timed_out"}},
            static_cast<double>(stats.holds_timed_out));
  AddSample(&holds, {{"outcome", "refused"}},
            static_cast<double>(stats.holds_refused));
  return holds;
}

}  // namespace

std::vector<prometheus::MetricFamily> TopologyCollector::Collect() const {
  const TopologyStats stats = topology_->stats();
  std::vector<prometheus::MetricFamily> families;
  families.push_back(Roles(*topology_));
  families.push_back(Holds(stats));
  const auto single = [&](const char* name, const char* help, MetricType type,
                          double value) {
    auto family = MakeFamily(name, help, type);
    AddSample(&family, {}, value);
    families.push_back(std::move(family));
  };
  single("userservice_writer_elected", "1 while a writer is elected.",
         MetricType::Gauge, topology_->writer() >= 0 ? 1 : 0);
  single("userservice_writable_databases",
         "Database servers that are writable and replicate from nobody; "
         "more than 1 is a split brain.",
         MetricType::Gauge, stats.writable_servers);
  single("userservice_writer_changes_total",
         "Elections that changed the writer (to none included).",
         MetricType::Counter, static_cast<double>(stats.writer_changes));
  single("userservice_role_changes_total", "Endpoint role changes.",
         MetricType::Counter, static_cast<double>(stats.role_changes));
  single("userservice_held_writes",
         "Calls waiting for a writer to be elected now.", MetricType::Gauge,
         stats.held_now);
  single("userservice_write_hold_seconds_total",
         "Time calls spent waiting for a writer.", MetricType::Counter,
         absl::ToDoubleSeconds(stats.hold_time_total));
  single("userservice_write_resends_total",
         "Writes sent again to the next writer after the writer failed them: "
         "those that certainly did not run, and creates with a request_id.",
         MetricType::Counter, static_cast<double>(writes_->resends()));
  return families;
}

}  // namespace userservice::metrics
