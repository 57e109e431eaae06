#ifndef USERSERVICE_SERVER_TESTING_METRIC_TEST_UTIL_H_
#define USERSERVICE_SERVER_TESTING_METRIC_TEST_UTIL_H_

// Test-only lookups in collected samples.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace userservice::metrics {

// The sample of family `name` with exactly `labels`, or null.
inline const prometheus::ClientMetric* FindSample(
    const std::vector<prometheus::MetricFamily>& families,
    const std::string& name, const std::map<std::string, std::string>& labels) {
  for (const prometheus::MetricFamily& family : families) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::map<std::string, std::string> got;
      for (const auto& label : metric.label) got[label.name] = label.value;
      if (got == labels) return &metric;
    }
  }
  return nullptr;
}

// Counter or gauge value, nullopt if there is no such sample.
inline std::optional<double> Value(
    const prometheus::Collectable& collectable, const std::string& name,
    const std::map<std::string, std::string>& labels) {
  const std::vector<prometheus::MetricFamily> families = collectable.Collect();
  for (const prometheus::MetricFamily& family : families) {
    if (family.name != name) continue;
    const prometheus::ClientMetric* metric = FindSample(families, name, labels);
    if (metric == nullptr) return std::nullopt;
    return family.type == prometheus::MetricType::Counter
               ? metric->counter.value
               : metric->gauge.value;
  }
  return std::nullopt;
}

// Number of observations of a histogram sample, nullopt if there is none.
inline std::optional<uint64_t> HistogramCount(
    const prometheus::Collectable& collectable, const std::string& name,
    const std::map<std::string, std::string>& labels) {
  const std::vector<prometheus::MetricFamily> families = collectable.Collect();
  const prometheus::ClientMetric* metric = FindSample(families, name, labels);
  if (metric == nullptr) return std::nullopt;
  return metric->histogram.sample_count;
}

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_TESTING_METRIC_TEST_UTIL_H_
