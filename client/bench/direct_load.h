#ifndef CLIENT_BENCH_DIRECT_LOAD_H_
#define CLIENT_BENCH_DIRECT_LOAD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "client/bench/bench_config.h"
#include "client/bench/db_session.h"
#include "client/bench/load_plan.h"
#include "client/bench/names.h"
#include "client/bench/run_stats.h"

namespace userbench {

// Runs the service's statements straight against the databases, the way
// the service would with no overhead of its own: config.concurrency worker
// threads, each with its own connection to the database it needs (a
// replica, picked round-robin per worker, for reads; the primary for
// writes and strong reads), so a call in flight is a thread blocked on its
// socket, as in the service's connection pools.
//
// Closed loop: each worker runs calls back to back. Open loop: workers
// take the next call of the ArrivalSchedule, wait for its time, run it,
// and latency counts from the scheduled time.
class DirectLoad {
 public:
  // `ids` (the dataset, read at random) must outlive the object.
  DirectLoad(const BenchConfig& config, const DbLogin& login,
             const std::vector<uint64_t>& ids, Recorder* recorder);
  ~DirectLoad();

  // Opens every worker's connections before the clock starts, so
  // connecting is not measured.
  absl::Status Connect();

  // Runs the load over `window` and returns when every worker is done.
  void Run(const RunWindow& window);

 private:
  struct Worker {
    HostPort read_endpoint;
    std::unique_ptr<DbSession> reads;
    std::unique_ptr<DbSession> primary;
    // A batch read's rows and ids, kept to reuse their memory.
    std::vector<size_t> batch_rows;
    std::vector<uint64_t> batch_ids;
  };

  void Work(Worker& worker);
  // One call; returns "" or an error name.
  std::string Execute(Worker& worker, const Op& op, uint64_t seq);
  // Runs `select` on the database a read goes to (see the class comment),
  // waiting for the latest write first for a session read.
  std::string Read(Worker& worker,
                   absl::FunctionRef<std::string(DbSession&)> select);
  // Reopens the worker's broken sessions; false if the database is down.
  bool Repair(Worker& worker);
  bool NeedsPrimary() const;
  bool ReadsOnPrimary() const;
  std::string LatestGtid();

  const BenchConfig& config_;
  const DbLogin login_;
  const std::vector<uint64_t>& ids_;
  Recorder* recorder_;
  const OpMix mix_;
  const WriteNames names_;
  RunWindow window_;
  std::vector<Worker> workers_;
  std::atomic<uint64_t> next_seq_{0};
  absl::Mutex gtid_mu_;
  std::string latest_gtid_ ABSL_GUARDED_BY(gtid_mu_);
};

}  // namespace userbench

#endif  // CLIENT_BENCH_DIRECT_LOAD_H_
