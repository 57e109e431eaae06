#ifndef USERSERVICE_SERVER_METRICS_PROCESS_METRICS_H_
#define USERSERVICE_SERVER_METRICS_PROCESS_METRICS_H_

#include <vector>

#include "prometheus/collectable.h"

namespace userservice::metrics {

// The standard process_* metrics of Prometheus client libraries, which
// prometheus-cpp does not provide, read from /proc at scrape time:
// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_start_time_seconds. A value that cannot be read is left out.
class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_PROCESS_METRICS_H_
