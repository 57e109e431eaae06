#ifndef USERSERVICE_SERVER_TESTING_FAKE_USER_WRITER_H_
#define USERSERVICE_SERVER_TESTING_FAKE_USER_WRITER_H_

// Test-only UserWriter for the service tests.

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "server/repository/request_context.h"
#include "server/repository/user.h"
#include "server/repository/user_repository.h"

namespace userservice {

// Records every write and answers with configurable results. Thread-safe:
// the service calls it from its worker threads.
class FakeUserWriter : public UserWriter {
 public:
  void SetCreateResult(absl::StatusOr<Positioned<User>> result) {
    absl::MutexLock lock(&mu_);
    create_result_ = std::move(result);
  }
  void SetUpdateResult(absl::StatusOr<Positioned<User>> result) {
    absl::MutexLock lock(&mu_);
    update_result_ = std::move(result);
  }
  void SetDeleteResult(absl::StatusOr<ReplicationPosition> result) {
    absl::MutexLock lock(&mu_);
    delete_result_ = std::move(result);
  }

  absl::StatusOr<Positioned<User>> CreateUser(
      const NewUser& user, const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_new_user_ = user;
    last_ctx_ = ctx;
    return create_result_;
  }
  absl::StatusOr<std::vector<Positioned<User>>> CreateUsers(
      absl::Span<const NewUser> users, const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_new_user_ = users.back();
    last_ctx_ = ctx;
    if (!create_result_.ok()) return create_result_.status();
    return std::vector<Positioned<User>>(users.size(), *create_result_);
  }
  absl::StatusOr<Positioned<User>> UpdateUser(
      const UserUpdate& update, const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_update_ = update;
    last_ctx_ = ctx;
    return update_result_;
  }
  absl::StatusOr<ReplicationPosition> DeleteUser(
      uint64_t id, int64_t expected_version,
      const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    last_delete_id_ = id;
    last_delete_version_ = expected_version;
    last_ctx_ = ctx;
    return delete_result_;
  }

  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  NewUser last_new_user() const {
    absl::MutexLock lock(&mu_);
    return last_new_user_;
  }
  UserUpdate last_update() const {
    absl::MutexLock lock(&mu_);
    return last_update_;
  }
  uint64_t last_delete_id() const {
    absl::MutexLock lock(&mu_);
    return last_delete_id_;
  }
  int64_t last_delete_version() const {
    absl::MutexLock lock(&mu_);
    return last_delete_version_;
  }
  RequestContext last_ctx() const {
    absl::MutexLock lock(&mu_);
    return last_ctx_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::StatusOr<Positioned<User>> create_result_ ABSL_GUARDED_BY(mu_) =
      absl::InternalError("create result not set");
  absl::StatusOr<Positioned<User>> update_result_ ABSL_GUARDED_BY(mu_) =
      absl::InternalError("update result not set");
  absl::StatusOr<ReplicationPosition> delete_result_ ABSL_GUARDED_BY(mu_) =
      absl::InternalError("delete result not set");
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  NewUser last_new_user_ ABSL_GUARDED_BY(mu_);
  UserUpdate last_update_ ABSL_GUARDED_BY(mu_);
  uint64_t last_delete_id_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_delete_version_ ABSL_GUARDED_BY(mu_) = 0;
  RequestContext last_ctx_ ABSL_GUARDED_BY(mu_);
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_TESTING_FAKE_USER_WRITER_H_
