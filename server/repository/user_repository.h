#ifndef USERSERVICE_SERVER_REPOSITORY_USER_REPOSITORY_H_
#define USERSERVICE_SERVER_REPOSITORY_USER_REPOSITORY_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/repository/request_context.h"
#include "server/repository/user.h"

namespace userservice {

// Reads served by one database endpoint (the primary or one replica). Each
// read returns, with its data, the endpoint's position taken after the
// statement on the same session: it covers what the read saw.
//
// Error contract (absl codes, which are gRPC's): NOT_FOUND for a missing
// user; UNAVAILABLE when the endpoint cannot be reached or the connection
// broke (the caller may retry on another endpoint); DEADLINE_EXCEEDED when
// `ctx.deadline` passed; RESOURCE_EXHAUSTED when the endpoint's pool stayed
// full. Messages are safe to show to clients.
class UserReader {
 public:
  virtual ~UserReader() = default;

  virtual absl::StatusOr<Positioned<User>> GetUser(
      const UserKey& key, const RequestContext& ctx) = 0;

  // The users among `ids` that exist, in no particular order; an id with no
  // user is simply absent (not an error). One statement for all of them:
  // this is what lets concurrent point reads share a database round trip.
  virtual absl::StatusOr<Positioned<std::vector<User>>> GetUsersByIds(
      absl::Span<const uint64_t> ids, const RequestContext& ctx) = 0;

  // Up to `limit` users with id > `after_id`, ascending by id.
  virtual absl::StatusOr<Positioned<std::vector<User>>> ListUsers(
      uint64_t after_id, int limit, const RequestContext& ctx) = 0;

  // True once this endpoint has applied every transaction up to `position`,
  // false if it has not within `timeout`.
  virtual absl::StatusOr<bool> WaitForPosition(
      const ReplicationPosition& position, absl::Duration timeout,
      const RequestContext& ctx) = 0;
};

// Writes, served by the primary. Besides the reader's codes: ALREADY_EXISTS
// for a username/email taken, ABORTED for an expected_version mismatch,
// FAILED_PRECONDITION for a request_id whose user was deleted, and
// INVALID_ARGUMENT for a request_id reused with different fields.
class UserWriter {
 public:
  virtual ~UserWriter() = default;

  virtual absl::StatusOr<Positioned<User>> CreateUser(
      const NewUser& user, const RequestContext& ctx) = 0;
  // Creates all of `users` in one statement and one commit, or none of them:
  // this is what lets concurrent creates share a round trip and a commit.
  // The results follow the order of `users` and share one position. A clash
  // with an existing user, or between two of `users`, fails the whole batch
  // with ALREADY_EXISTS without naming the culprit: create them one by one
  // to learn which. No user may carry a request_id.
  virtual absl::StatusOr<std::vector<Positioned<User>>> CreateUsers(
      absl::Span<const NewUser> users, const RequestContext& ctx) = 0;
  virtual absl::StatusOr<Positioned<User>> UpdateUser(
      const UserUpdate& update, const RequestContext& ctx) = 0;
  virtual absl::StatusOr<ReplicationPosition> DeleteUser(
      uint64_t id, int64_t expected_version, const RequestContext& ctx) = 0;
};

}  // namespace userservice

#endif  // USERSERVICE_SERVER_REPOSITORY_USER_REPOSITORY_H_
