#ifndef USERSERVICE_SERVER_SERVICE_USER_MAPPER_H_
#define USERSERVICE_SERVER_SERVICE_USER_MAPPER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "server/repository/user.h"
#include "server/routing/read_router.h"
#include "userservice/v1/user_service.pb.h"

// Proto <-> domain conversions, with the validation each request needs.
namespace userservice {

void ToProto(const User& user, v1::User* out);

absl::StatusOr<NewUser> FromProto(const v1::CreateUserRequest& request);
absl::StatusOr<UserKey> FromProto(const v1::GetUserRequest& request);
absl::StatusOr<UserUpdate> FromProto(const v1::UpdateUserRequest& request);

// The ids of a BatchGetUsers request, in request order (at most
// kMaxBatchGetIds, none zero).
absl::StatusOr<std::vector<uint64_t>> FromProto(
    const v1::BatchGetUsersRequest& request);

// The merged position of every consistency token in `options`; empty when
// there are none. INVALID_ARGUMENT naming a malformed token's field.
absl::StatusOr<ReplicationPosition> MergedTokens(
    const v1::ReadOptions& options);

// The routing policy for a read; its min_position is MergedTokens.
// `default_consistency` stands in for CONSISTENCY_UNSPECIFIED, unless a
// token is given: then it is CONSISTENCY_SESSION.
absl::StatusOr<ReadPolicy> ToReadPolicy(const v1::ReadOptions& options,
                                        ReadConsistency default_consistency);

// ListUsers' page size after defaulting (0 -> 50) and capping (-> 1000).
absl::StatusOr<int> EffectivePageSize(int32_t requested);

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kMaxBatchGetIds = 1000;
inline constexpr int kMaxConsistencyTokens = 64;

}  // namespace userservice

#endif  // USERSERVICE_SERVER_SERVICE_USER_MAPPER_H_
