#ifndef CLIENT_BENCH_RUN_BENCH_H_
#define CLIENT_BENCH_RUN_BENCH_H_

#include <ostream>

#include "absl/status/statusor.h"
#include "client/bench/bench_config.h"
#include "client/bench/report.h"

namespace userbench {

// One run: connect, prepare the dataset (if the workload reads), warm up,
// measure. Setup failures (server or database unreachable, dataset cannot
// be made) are errors; failed calls during the run are results. Progress
// goes to `log`.
absl::StatusOr<RunReport> RunBench(const BenchConfig& config,
                                   std::ostream& log);

// --prepare-only: makes the dataset (through the service or, with --direct,
// the database) and nothing else, so that scripts create it once before
// many runs.
absl::Status PrepareDataset(const BenchConfig& config, std::ostream& log);

}  // namespace userbench

#endif  // CLIENT_BENCH_RUN_BENCH_H_
