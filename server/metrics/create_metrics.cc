#include "server/metrics/create_metrics.h"

namespace userservice::metrics {

CreateMetrics::CreateMetrics(prometheus::Registry& registry)
    : users_(&prometheus::BuildHistogram()
                  .Name("userservice_create_insert_users")
                  .Help("Users written by one insert statement (1: a create "
                        "written alone); --write-batch-max caps it.")
                  .Register(registry)
                  .Add({}, prometheus::Histogram::BucketBoundaries{
                               1, 2, 4, 8, 16, 32, 64, 128})),
      clashes_(&prometheus::BuildCounter()
                    .Name("userservice_create_insert_clashes_total")
                    .Help("Shared inserts that hit a unique key and were "
                          "retried in halves.")
                    .Register(registry)
                    .Add({})) {}

void CreateMetrics::OnInsert(int users) { users_->Observe(users); }

void CreateMetrics::OnSharedInsertClash() { clashes_->Increment(); }

}  // namespace userservice::metrics
