#ifndef USERSERVICE_SERVER_TESTING_FAKE_USER_READER_H_
#define USERSERVICE_SERVER_TESTING_FAKE_USER_READER_H_

// Test-only in-memory UserReader for the router and service tests.

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/repository/request_context.h"
#include "server/repository/user.h"
#include "server/repository/user_repository.h"

namespace userservice {

// Serves the users added with AddUser, or fails every GetUser/ListUsers call
// with the status set by FailReads. Records every call so tests can check
// what reached the endpoint. Thread-safe: gRPC handlers call it from their
// own threads.
class FakeUserReader : public UserReader {
 public:
  FakeUserReader() = default;
  FakeUserReader(const FakeUserReader&) = delete;
  FakeUserReader& operator=(const FakeUserReader&) = delete;

  void AddUser(User user) {
    absl::MutexLock lock(&mu_);
    users_.push_back(std::move(user));
    std::sort(users_.begin(), users_.end(),
              [](const User& a, const User& b) { return a.id < b.id; });
  }

  // Every later GetUser and ListUsers call returns `status` (OK: serve data).
  void FailReads(absl::Status status) {
    absl::MutexLock lock(&mu_);
    read_status_ = std::move(status);
  }

  // The position every later read returns (what the endpoint has applied).
  void SetPosition(ReplicationPosition position) {
    absl::MutexLock lock(&mu_);
    position_ = std::move(position);
  }

  // What every later WaitForPosition call returns.
  void SetWaitResult(absl::StatusOr<bool> result) {
    absl::MutexLock lock(&mu_);
    wait_result_ = std::move(result);
  }

  absl::StatusOr<Positioned<User>> GetUser(const UserKey& key,
                                           const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++get_user_calls_;
    last_key_ = key;
    last_ctx_ = ctx;
    if (!read_status_.ok()) return read_status_;
    for (const User& user : users_) {
      switch (key.kind) {
        case UserKey::Kind::kId:
          if (user.id == key.id) return Positioned<User>{user, position_};
          break;
        case UserKey::Kind::kUsername:
          if (absl::EqualsIgnoreCase(user.username, key.text)) {
            return Positioned<User>{user, position_};
          }
          break;
        case UserKey::Kind::kEmail:
          if (absl::EqualsIgnoreCase(user.email, key.text)) {
            return Positioned<User>{user, position_};
          }
          break;
      }
    }
    return absl::NotFoundError("user not found");
  }

  absl::StatusOr<Positioned<std::vector<User>>> GetUsersByIds(
      absl::Span<const uint64_t> ids, const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++get_users_by_ids_calls_;
    last_ids_.assign(ids.begin(), ids.end());
    last_ctx_ = ctx;
    if (!read_status_.ok()) return read_status_;
    std::vector<User> found;
    for (const User& user : users_) {
      if (std::find(ids.begin(), ids.end(), user.id) != ids.end()) {
        found.push_back(user);
      }
    }
    return Positioned<std::vector<User>>{std::move(found), position_};
  }

  absl::StatusOr<Positioned<std::vector<User>>> ListUsers(
      uint64_t after_id, int limit, const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++list_users_calls_;
    last_after_id_ = after_id;
    last_limit_ = limit;
    last_ctx_ = ctx;
    if (!read_status_.ok()) return read_status_;
    std::vector<User> page;
    for (const User& user : users_) {
      if (static_cast<int>(page.size()) >= limit) break;
      if (user.id > after_id) page.push_back(user);
    }
    return Positioned<std::vector<User>>{std::move(page), position_};
  }

  absl::StatusOr<bool> WaitForPosition(const ReplicationPosition& position,
                                       absl::Duration timeout,
                                       const RequestContext& ctx) override {
    absl::MutexLock lock(&mu_);
    ++wait_calls_;
    last_wait_position_ = position;
    last_wait_timeout_ = timeout;
    last_ctx_ = ctx;
    return wait_result_;
  }

  int get_user_calls() const {
    absl::MutexLock lock(&mu_);
    return get_user_calls_;
  }
  int get_users_by_ids_calls() const {
    absl::MutexLock lock(&mu_);
    return get_users_by_ids_calls_;
  }
  int list_users_calls() const {
    absl::MutexLock lock(&mu_);
    return list_users_calls_;
  }
  int read_calls() const {
    absl::MutexLock lock(&mu_);
    return get_user_calls_ + get_users_by_ids_calls_ + list_users_calls_;
  }
  int wait_calls() const {
    absl::MutexLock lock(&mu_);
    return wait_calls_;
  }
  std::vector<uint64_t> last_ids() const {
    absl::MutexLock lock(&mu_);
    return last_ids_;
  }
  UserKey last_key() const {
    absl::MutexLock lock(&mu_);
    return last_key_;
  }
  uint64_t last_after_id() const {
    absl::MutexLock lock(&mu_);
    return last_after_id_;
  }
  int last_limit() const {
    absl::MutexLock lock(&mu_);
    return last_limit_;
  }
  RequestContext last_ctx() const {
    absl::MutexLock lock(&mu_);
    return last_ctx_;
  }
  ReplicationPosition last_wait_position() const {
    absl::MutexLock lock(&mu_);
    return last_wait_position_;
  }
  absl::Duration last_wait_timeout() const {
    absl::MutexLock lock(&mu_);
    return last_wait_timeout_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<User> users_ ABSL_GUARDED_BY(mu_);
  absl::Status read_status_ ABSL_GUARDED_BY(mu_);
  absl::StatusOr<bool> wait_result_ ABSL_GUARDED_BY(mu_) = true;
  ReplicationPosition position_ ABSL_GUARDED_BY(mu_);

  int get_user_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int get_users_by_ids_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int list_users_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int wait_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> last_ids_ ABSL_GUARDED_BY(mu_);
  UserKey last_key_ ABSL_GUARDED_BY(mu_);
  uint64_t last_after_id_ ABSL_GUARDED_BY(mu_) = 0;
  int last_limit_ ABSL_GUARDED_BY(mu_) = -1;
  RequestContext last_ctx_ ABSL_GUARDED_BY(mu_);
  ReplicationPosition last_wait_position_ ABSL_GUARDED_BY(mu_);
  absl::Duration last_wait_timeout_ ABSL_GUARDED_BY(mu_) =
      absl::InfiniteDuration();
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_TESTING_FAKE_USER_READER_H_
