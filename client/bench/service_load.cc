#include "client/bench/service_load.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/bench/load_plan.h"
#include "client/bench/names.h"
#include "client/bench/requests.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userbench {

using ::userservice::v1::UserService;

struct ServiceLoad::Call {
  grpc::ClientContext context;
  OpKind kind = OpKind::kRead;
  int slot = -1;
  int64_t intended_ns = 0;
  int64_t sent_ns = 0;
  userservice::v1::GetUserRequest get_request;
  userservice::v1::GetUserResponse get_response;
  userservice::v1::CreateUserRequest create_request;
  userservice::v1::CreateUserResponse create_response;
};

ServiceLoad::ServiceLoad(
    const BenchConfig& config,
    const std::vector<std::unique_ptr<UserService::Stub>>& stubs,
    const std::vector<uint64_t>& ids, Recorder* recorder)
    : config_(config),
      stubs_(stubs),
      ids_(ids),
      recorder_(recorder),
      mix_(config.seed, config.workload.read_percent, ids.size()),
      names_(config.prefix, WriteNames::RandomRunTag()) {}

void ServiceLoad::Run(const RunWindow& window) {
  window_ = window;
  if (config_.open_loop()) {
    RunOpenLoop();
  } else {
    RunClosedLoop();
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &ServiceLoad::Drained));
}

void ServiceLoad::RunClosedLoop() {
  {
    absl::MutexLock lock(&mu_);
    in_flight_ = config_.concurrency;
  }
  // Each slot sends its next call from the completion of its last (Finish)
  // until the window ends.
  for (int slot = 0; slot < config_.concurrency; ++slot) {
    Send(slot, NowNanos());
  }
}

void ServiceLoad::RunOpenLoop() {
  const ArrivalSchedule schedule(window_.start_ns, config_.rate);
  for (uint64_t i = 0;; ++i) {
    const int64_t due = schedule.DueAt(i);
    if (due >= window_.end_ns) break;
    const int64_t now = NowNanos();
    // Calls that fell due while this thread slept or waited go out at
    // once; their latency still counts from `due`.
    if (due > now) absl::SleepFor(absl::Nanoseconds(due - now));
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &ServiceLoad::SlotFree));
      ++in_flight_;
    }
    Send(-1, due);
  }
}

std::string ServiceLoad::LatestToken() {
  absl::MutexLock lock(&token_mu_);
  return latest_token_;
}

void ServiceLoad::Send(int slot, int64_t intended_ns) {
  const uint64_t seq = next_seq_.fetch_add(1);
  const Op op = mix_.ForCall(seq);
  auto* call = new Call;
  call->kind = op.kind;
  call->slot = slot;
  call->intended_ns = intended_ns;
  call->context.set_deadline(std::chrono::system_clock::now() +
                             absl::ToChronoNanoseconds(config_.timeout));
  // Closed-loop slots stay on one channel; open-loop calls take turns.
  const size_t channel =
      (slot >= 0 ? static_cast<size_t>(slot) : seq) % stubs_.size();
  UserService::Stub::async_interface* async = stubs_[channel]->async();
  auto done = [this, call](grpc::Status status) { Finish(call, status); };
  if (op.kind == OpKind::kRead) {
    call->get_request.set_id(ids_[op.row]);
    SetReadOptions(config_.consistency,
                   config_.consistency.level == ReadConsistency::Level::kSession
                       ? LatestToken()
                       : std::string(),
                   call->get_request.mutable_read_options());
    call->sent_ns = NowNanos();
    async->GetUser(&call->context, &call->get_request, &call->get_response,
                   std::move(done));
  } else {
    const std::string username = names_.Username(seq);
    call->create_request.set_email(BenchEmail(username));
    call->create_request.set_username(username);
    call->sent_ns = NowNanos();
    async->CreateUser(&call->context, &call->create_request,
                      &call->create_response, std::move(done));
  }
}

void ServiceLoad::Finish(Call* call, const grpc::Status& status) {
  const int64_t now = NowNanos();
  std::unique_ptr<Call> owned(call);
  if (window_.Measured(call->intended_ns)) {
    const bool late =
        config_.open_loop() && call->sent_ns - call->intended_ns > kLateAfterNs;
    recorder_->Record(call->kind, now - call->intended_ns,
                      status.ok() ? "" : StatusCodeName(status.error_code()),
                      late);
  }
  if (status.ok() && call->kind == OpKind::kWrite &&
      config_.consistency.level == ReadConsistency::Level::kSession) {
    absl::MutexLock lock(&token_mu_);
    latest_token_ = call->create_response.consistency_token();
  }
  if (call->slot >= 0 && now < window_.end_ns) {
    Send(call->slot, NowNanos());
    return;
  }
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

}  // namespace userbench
