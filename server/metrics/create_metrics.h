#ifndef USERSERVICE_SERVER_METRICS_CREATE_METRICS_H_
#define USERSERVICE_SERVER_METRICS_CREATE_METRICS_H_

#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/service/create_observer.h"

namespace userservice::metrics {

// How creates were written: userservice_create_insert_users (a histogram of
// the users per insert statement; its count is the number of inserts) and
// userservice_create_insert_clashes_total (shared inserts that hit a unique
// key and were split). Mean users per insert near 1 under load means the
// creates arrive too far apart to share a commit.
class CreateMetrics : public CreateObserver {
 public:
  explicit CreateMetrics(prometheus::Registry& registry);

  void OnInsert(int users) override;
  void OnSharedInsertClash() override;

 private:
  prometheus::Histogram* users_ = nullptr;
  prometheus::Counter* clashes_ = nullptr;
};

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_CREATE_METRICS_H_
