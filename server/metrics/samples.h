#ifndef USERSERVICE_SERVER_METRICS_SAMPLES_H_
#define USERSERVICE_SERVER_METRICS_SAMPLES_H_

// Helpers for collectors that build their samples at scrape time.

#include <string>
#include <utility>
#include <vector>

#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "prometheus/metric_type.h"

namespace userservice::metrics {

inline prometheus::MetricFamily MakeFamily(std::string name, std::string help,
                                           prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

// Appends one sample of a counter or gauge family.
inline void AddSample(prometheus::MetricFamily* family,
                      std::vector<std::pair<std::string, std::string>> labels,
                      double value) {
  prometheus::ClientMetric metric;
  for (auto& [name, label_value] : labels) {
    metric.label.push_back({std::move(name), std::move(label_value)});
  }
  if (family->type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family->metric.push_back(std::move(metric));
}

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_SAMPLES_H_
