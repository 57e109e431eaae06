#ifndef CLIENT_BENCH_SERVICE_LOAD_H_
#define CLIENT_BENCH_SERVICE_LOAD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "client/bench/bench_config.h"
#include "client/bench/load_plan.h"
#include "client/bench/names.h"
#include "client/bench/run_stats.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/support/status.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userbench {

// Drives the service with gRPC's async completion-queue API: every call in
// flight is a small heap object, not a thread, so thousands can be
// outstanding from config.client_threads threads, each draining its own
// queue. (The callback API would add gRPC's own polling threads, whose
// thread switches cost this client, and so the server sharing its cores,
// as much CPU as a call.)
//
// Closed loop (config.rate == 0): config.concurrency "slots" each keep one
// call outstanding, sending the next from the completion of the last,
// until the window ends; latency is measured from the send.
// Open loop: one thread sends on the ArrivalSchedule, waiting for a free
// slot when config.concurrency calls are already out; latency is measured
// from the scheduled time, so waiting for the server is never left out.
class ServiceLoad {
 public:
  // `stubs` (one per channel) and `ids` (the dataset, read at random) must
  // outlive the object. Session reads carry `session_token` until a write
  // of the run completes, then the latest write's token.
  ServiceLoad(
      const BenchConfig& config,
      const std::vector<std::unique_ptr<userservice::v1::UserService::Stub>>&
          stubs,
      const std::vector<uint64_t>& ids, std::string session_token,
      Recorder* recorder);

  // Runs the load over `window` (which should start about now) and
  // returns when every call sent has completed.
  void Run(const RunWindow& window);

 private:
  struct Call;

  void Poll(grpc::CompletionQueue* cq);
  void RunClosedLoop();
  void RunOpenLoop();
  // Starts the next call of the sequence; `slot` is the closed-loop slot
  // it belongs to, or -1.
  void Send(int slot, int64_t intended_ns);
  // Sends call number `seq`, which does `op`, on `stub` with replies to
  // `cq`.
  void Start(Call* call, const Op& op, uint64_t seq,
             userservice::v1::UserService::Stub& stub,
             grpc::CompletionQueue* cq);
  void Finish(Call* call, const grpc::Status& status);
  // The token a read carries: the latest write's with session
  // consistency, else none.
  std::string SessionToken();
  bool SlotFree() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_flight_ < config_.concurrency;
  }
  bool Drained() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return in_flight_ == 0;
  }

  const BenchConfig& config_;
  const std::vector<std::unique_ptr<userservice::v1::UserService::Stub>>&
      stubs_;
  const std::vector<uint64_t>& ids_;
  Recorder* recorder_;
  const OpMix mix_;
  const WriteNames names_;
  RunWindow window_;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> cqs_;

  std::atomic<uint64_t> next_seq_{0};
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // Session reads carry the token of the latest write that completed.
  absl::Mutex token_mu_;
  std::string latest_token_ ABSL_GUARDED_BY(token_mu_);
};

}  // namespace userbench

#endif  // CLIENT_BENCH_SERVICE_LOAD_H_
