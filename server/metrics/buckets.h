#ifndef USERSERVICE_SERVER_METRICS_BUCKETS_H_
#define USERSERVICE_SERVER_METRICS_BUCKETS_H_

#include <vector>

namespace userservice::metrics {

// Upper bounds, in seconds, of every latency histogram: from 100 us (a
// cached point read) to 10 s (a call stuck behind a lock or a full pool).
inline const std::vector<double>& LatencyBuckets() {
  static const std::vector<double>* const buckets = new std::vector<double>{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *buckets;
}

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_BUCKETS_H_
