#include "client/bench/service_dataset.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/bench/names.h"
#include "client/bench/requests.h"
#include "grpcpp/client_context.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userbench {
namespace {

using ::userservice::v1::UserService;

// Setup is not measured: a few threads with blocking calls keep it simple
// and fast enough (thousands of rows a second).
constexpr int kSetupThreads = 16;
// How long rows created now may take to reach the replicas.
constexpr absl::Duration kReplicationWait = absl::Seconds(30);

// Runs fn(i) for i in [0, n) on kSetupThreads threads; the first error
// stops the rest.
absl::Status ParallelFor(int64_t n,
                         const std::function<absl::Status(int64_t)>& fn) {
  std::atomic<int64_t> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < std::min<int64_t>(kSetupThreads, n); ++t) {
    threads.emplace_back([&]() {
      for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
        absl::Status status = fn(i);
        if (!status.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = status;
          next.store(n);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return first_error;
}

absl::Status CallError(absl::string_view what, const grpc::Status& status) {
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat(what, ": ", StatusCodeName(status.error_code()), ": ",
                   status.error_message()));
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoNanoseconds(timeout));
}

// The id of `username`, read from the primary; 0 if there is none.
absl::StatusOr<uint64_t> LookUp(UserService::Stub& stub,
                                const std::string& username,
                                absl::Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  userservice::v1::GetUserRequest request;
  request.set_username(username);
  request.mutable_read_options()->set_consistency(
      userservice::v1::CONSISTENCY_STRONG);
  userservice::v1::GetUserResponse response;
  const grpc::Status status = stub.GetUser(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return 0;
  if (!status.ok()) return CallError("looking up dataset rows", status);
  return response.user().id();
}

absl::StatusOr<uint64_t> Create(UserService::Stub& stub,
                                const std::string& username,
                                absl::Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  userservice::v1::CreateUserRequest request;
  request.set_username(username);
  request.set_email(BenchEmail(username));
  userservice::v1::CreateUserResponse response;
  const grpc::Status status = stub.CreateUser(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    // Another run created it in the meantime.
    return LookUp(stub, username, timeout);
  }
  if (!status.ok()) return CallError("creating dataset rows", status);
  return response.user().id();
}

// Waits until a read with the run's consistency finds `id`.
absl::Status AwaitReadable(UserService::Stub& stub,
                           const ReadConsistency& consistency, uint64_t id,
                           absl::Time give_up, absl::Duration timeout) {
  while (true) {
    grpc::ClientContext context;
    SetDeadline(&context, timeout);
    userservice::v1::GetUserRequest request;
    request.set_id(id);
    SetReadOptions(consistency, "", request.mutable_read_options());
    userservice::v1::GetUserResponse response;
    const grpc::Status status = stub.GetUser(&context, request, &response);
    if (status.ok()) return absl::OkStatus();
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      return CallError("reading new dataset rows", status);
    }
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(
          absl::StrCat("dataset row ", id, " was not readable after ",
                       absl::FormatDuration(kReplicationWait)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> PrepareServiceDataset(
    const BenchConfig& config,
    const std::vector<std::unique_ptr<UserService::Stub>>& stubs,
    std::ostream& log) {
  const int64_t n = config.dataset;
  std::vector<uint64_t> ids(n, 0);
  std::atomic<int64_t> created{0};
  absl::Status status = ParallelFor(n, [&](int64_t i) -> absl::Status {
    UserService::Stub& stub = *stubs[i % stubs.size()];
    const std::string username = DatasetUsername(config.prefix, i);
    absl::StatusOr<uint64_t> id = LookUp(stub, username, config.timeout);
    if (id.ok() && *id == 0) {
      id = Create(stub, username, config.timeout);
      created.fetch_add(1);
    }
    if (!id.ok()) return id.status();
    ids[i] = *id;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  log << "dataset: " << n << " rows with prefix \"" << config.prefix << "\", "
      << created.load() << " created now\n";
  if (created.load() == 0) return ids;

  // Twice each: reads go round-robin over the replicas, and every row is
  // then likely to have been found on more than one of them.
  const absl::Time give_up = absl::Now() + kReplicationWait;
  status = ParallelFor(2 * n, [&](int64_t i) {
    return AwaitReadable(*stubs[i % stubs.size()], config.consistency,
                         ids[i % n], give_up, config.timeout);
  });
  if (!status.ok()) return status;
  return ids;
}

absl::StatusOr<std::string> SessionSeedToken(const BenchConfig& config,
                                             UserService::Stub& stub) {
  const std::string username =
      WriteNames(config.prefix, WriteNames::RandomRunTag()).Username(0);
  grpc::ClientContext context;
  SetDeadline(&context, config.timeout);
  userservice::v1::CreateUserRequest request;
  request.set_username(username);
  request.set_email(BenchEmail(username));
  userservice::v1::CreateUserResponse response;
  const grpc::Status status = stub.CreateUser(&context, request, &response);
  if (!status.ok()) return CallError("writing for a session token", status);
  return response.consistency_token();
}

}  // namespace userbench
