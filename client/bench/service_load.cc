#include "client/bench/service_load.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/bench/load_plan.h"
#include "client/bench/names.h"
#include "client/bench/requests.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/support/async_unary_call.h"
#include "grpcpp/support/status.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userbench {

using ::userservice::v1::UserService;

struct ServiceLoad::Call {
  grpc::ClientContext context;
  grpc::Status status;
  std::unique_ptr<
      grpc::ClientAsyncResponseReader<userservice::v1::GetUserResponse>>
      get_reader;
  std::unique_ptr<
      grpc::ClientAsyncResponseReader<userservice::v1::BatchGetUsersResponse>>
      batch_reader;
  std::unique_ptr<
      grpc::ClientAsyncResponseReader<userservice::v1::CreateUserResponse>>
      create_reader;
  OpKind kind = OpKind::kRead;
  int slot = -1;
  int64_t intended_ns = 0;
  int64_t sent_ns = 0;
  userservice::v1::GetUserRequest get_request;
  userservice::v1::GetUserResponse get_response;
  userservice::v1::BatchGetUsersRequest batch_request;
  userservice::v1::BatchGetUsersResponse batch_response;
  userservice::v1::CreateUserRequest create_request;
  userservice::v1::CreateUserResponse create_response;
};

ServiceLoad::ServiceLoad(
    const BenchConfig& config,
    const std::vector<std::unique_ptr<UserService::Stub>>& stubs,
    const std::vector<uint64_t>& ids, std::string session_token,
    Recorder* recorder)
    : config_(config),
      stubs_(stubs),
      ids_(ids),
      recorder_(recorder),
      mix_(config.seed, config.workload.read_percent, ids.size()),
      names_(config.prefix, WriteNames::RandomRunTag()),
      latest_token_(std::move(session_token)) {}

void ServiceLoad::Run(const RunWindow& window) {
  window_ = window;
  const int threads = std::max(1, config_.client_threads);
  std::vector<std::thread> pollers;
  for (int i = 0; i < threads; ++i) {
    cqs_.push_back(std::make_unique<grpc::CompletionQueue>());
  }
  for (int i = 0; i < threads; ++i) {
    pollers.emplace_back([this, cq = cqs_[i].get()] { Poll(cq); });
  }
  if (config_.open_loop()) {
    RunOpenLoop();
  } else {
    RunClosedLoop();
  }
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &ServiceLoad::Drained));
  }
  for (auto& cq : cqs_) cq->Shutdown();
  for (std::thread& poller : pollers) poller.join();
  cqs_.clear();
}

void ServiceLoad::Poll(grpc::CompletionQueue* cq) {
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
    auto* call = static_cast<Call*>(tag);
    // A unary Finish always completes with ok; the status says the rest.
    Finish(call, call->status);
  }
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

std::string ServiceLoad::SessionToken() {
  if (config_.consistency.level != ReadConsistency::Level::kSession) return "";
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
  UserService::Stub& stub = *stubs_[channel];
  // A closed-loop slot sends from its completion's thread, so it stays on
  // one queue and never wakes another thread.
  grpc::CompletionQueue* cq =
      cqs_[(slot >= 0 ? static_cast<size_t>(slot) : seq) % cqs_.size()].get();
  Start(call, op, seq, stub, cq);
}

void ServiceLoad::Start(Call* call, const Op& op, uint64_t seq,
                        UserService::Stub& stub, grpc::CompletionQueue* cq) {
  if (op.kind == OpKind::kRead && config_.batch()) {
    std::vector<size_t> rows;
    mix_.BatchRows(seq, config_.workload.batch_size, &rows);
    for (size_t row : rows) call->batch_request.add_ids(ids_[row]);
    SetReadOptions(config_.consistency, SessionToken(),
                   call->batch_request.mutable_read_options());
    call->sent_ns = NowNanos();
    call->batch_reader =
        stub.AsyncBatchGetUsers(&call->context, call->batch_request, cq);
    call->batch_reader->Finish(&call->batch_response, &call->status, call);
  } else if (op.kind == OpKind::kRead) {
    call->get_request.set_id(ids_[op.row]);
    SetReadOptions(config_.consistency, SessionToken(),
                   call->get_request.mutable_read_options());
    call->sent_ns = NowNanos();
    call->get_reader = stub.AsyncGetUser(&call->context, call->get_request, cq);
    call->get_reader->Finish(&call->get_response, &call->status, call);
  } else {
    const std::string username = names_.Username(seq);
    call->create_request.set_email(BenchEmail(username));
    call->create_request.set_username(username);
    call->sent_ns = NowNanos();
    call->create_reader =
        stub.AsyncCreateUser(&call->context, call->create_request, cq);
    call->create_reader->Finish(&call->create_response, &call->status, call);
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
