#ifndef USERSERVICE_SERVER_REPOSITORY_USER_H_
#define USERSERVICE_SERVER_REPOSITORY_USER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "server/repository/replication_position.h"

namespace userservice {

// A stored user. Domain type: no proto, no SQL.
struct User {
  uint64_t id = 0;
  std::string username;
  std::string email;
  absl::Time create_time;
  absl::Time update_time;
  int64_t version = 0;
};

struct NewUser {
  std::string username;
  std::string email;
  // Empty: not idempotent. Otherwise a retry with the same key returns the
  // user the first call created.
  std::string request_id;
};

struct UserUpdate {
  uint64_t id = 0;
  std::optional<std::string> username;  // nullopt: leave unchanged
  std::optional<std::string> email;     // nullopt: leave unchanged
  int64_t expected_version = 0;         // 0: unconditional
};

// How a read names the user it wants.
struct UserKey {
  enum class Kind { kId, kUsername, kEmail };
  Kind kind = Kind::kId;
  uint64_t id = 0;
  std::string text;  // username or email, matched case-insensitively

  static UserKey Id(uint64_t id) { return {Kind::kId, id, {}}; }
  static UserKey Username(std::string u) {
    return {Kind::kUsername, 0, std::move(u)};
  }
  static UserKey Email(std::string e) {
    return {Kind::kEmail, 0, std::move(e)};
  }
};

// What a call wrote or read, with a replication position that covers it:
// for a write, the write's own GTID; for a read, the serving database's
// position taken after the statement. A server that has applied the
// position has (at least) this data.
template <typename T>
struct Positioned {
  T value;
  ReplicationPosition position;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_REPOSITORY_USER_H_
