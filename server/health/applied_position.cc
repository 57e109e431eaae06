#include "server/health/applied_position.h"

#include <utility>

namespace userservice {

void AppliedPosition::Observe(int64_t server_id, ReplicationPosition applied) {
  absl::MutexLock lock(&mu_);
  server_id_ = server_id;
  applied_ = std::move(applied);
}

void AppliedPosition::Reached(int64_t server_id,
                              const ReplicationPosition& applied) {
  absl::MutexLock lock(&mu_);
  if (server_id != server_id_) {
    server_id_ = server_id;
    applied_ = applied;
  } else if (!applied_.Covers(applied)) {
    applied_.Merge(applied);
  }
}

void AppliedPosition::Forget() {
  absl::MutexLock lock(&mu_);
  server_id_ = 0;
  applied_ = ReplicationPosition();
}

bool AppliedPosition::Covers(const ReplicationPosition& position) const {
  absl::MutexLock lock(&mu_);
  return server_id_ != 0 && applied_.Covers(position);
}

ReplicationPosition AppliedPosition::Known() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

}  // namespace userservice
