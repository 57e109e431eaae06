#include "server/service/user_mapper.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/service/consistency_token.h"
#include "server/service/validation.h"

namespace userservice {
namespace {

void ToProto(absl::Time time, google::protobuf::Timestamp* out) {
  // Rounds down, so nanos stay in [0, 1e9) also before 1970.
  const int64_t seconds = absl::ToUnixSeconds(time);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
}

}  // namespace

void ToProto(const User& user, v1::User* out) {
  out->set_id(user.id);
  out->set_username(user.username);
  out->set_email(user.email);
  ToProto(user.create_time, out->mutable_create_time());
  ToProto(user.update_time, out->mutable_update_time());
  out->set_version(user.version);
}

absl::StatusOr<NewUser> FromProto(const v1::CreateUserRequest& request) {
  if (absl::Status s = ValidateUsername("username", request.username());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateEmail("email", request.email()); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateRequestId("request_id", request.request_id());
      !s.ok()) {
    return s;
  }
  return NewUser{request.username(), request.email(), request.request_id()};
}

absl::StatusOr<UserKey> FromProto(const v1::GetUserRequest& request) {
  switch (request.key_case()) {
    case v1::GetUserRequest::kId:
      if (absl::Status s = ValidateUserId("id", request.id()); !s.ok()) {
        return s;
      }
      return UserKey::Id(request.id());
    case v1::GetUserRequest::kUsername:
      if (absl::Status s = ValidateUsername("username", request.username());
          !s.ok()) {
        return s;
      }
      return UserKey::Username(request.username());
    case v1::GetUserRequest::kEmail:
      if (absl::Status s = ValidateEmail("email", request.email()); !s.ok()) {
        return s;
      }
      return UserKey::Email(request.email());
    case v1::GetUserRequest::KEY_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "key: set exactly one of id, username or email");
}

absl::StatusOr<std::vector<uint64_t>> FromProto(
    const v1::BatchGetUsersRequest& request) {
  if (request.ids_size() > kMaxBatchGetIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("ids: at most ", kMaxBatchGetIds, " ids per call, got ",
                     request.ids_size(), "; split the batch"));
  }
  for (int i = 0; i < request.ids_size(); ++i) {
    if (absl::Status s =
            ValidateUserId(absl::StrCat("ids[", i, "]"), request.ids(i));
        !s.ok()) {
      return s;
    }
  }
  return std::vector<uint64_t>(request.ids().begin(), request.ids().end());
}

absl::StatusOr<UserUpdate> FromProto(const v1::UpdateUserRequest& request) {
  if (!request.has_user()) {
    return absl::InvalidArgumentError(
        "user: is required (user.id selects the user to update)");
  }
  if (absl::Status s = ValidateUserId("user.id", request.user().id());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateExpectedVersion("expected_version",
                                               request.expected_version());
      !s.ok()) {
    return s;
  }
  const auto& paths = request.update_mask().paths();
  bool username = paths.empty();
  bool email = username;
  for (int i = 0; i < paths.size(); ++i) {
    if (paths[i] == "username") {
      username = true;
    } else if (paths[i] == "email") {
      email = true;
    } else {
      // Named by its index: a path is client text, and may be an email.
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask: paths[", i,
          "] is not supported; allowed paths are \"username\" and \"email\""));
    }
  }
  UserUpdate update;
  update.id = request.user().id();
  update.expected_version = request.expected_version();
  if (username) {
    if (absl::Status s =
            ValidateUsername("user.username", request.user().username());
        !s.ok()) {
      return s;
    }
    update.username = request.user().username();
  }
  if (email) {
    if (absl::Status s = ValidateEmail("user.email", request.user().email());
        !s.ok()) {
      return s;
    }
    update.email = request.user().email();
  }
  return update;
}

absl::StatusOr<ReplicationPosition> MergedTokens(
    const v1::ReadOptions& options) {
  if (options.consistency_tokens_size() > kMaxConsistencyTokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "read_options.consistency_tokens: at most ", kMaxConsistencyTokens,
        " tokens; a response token covers its request's tokens, so keep "
        "only the newest of each chain"));
  }
  ReplicationPosition merged;
  if (!options.consistency_token().empty()) {
    absl::StatusOr<ReplicationPosition> decoded = DecodeConsistencyToken(
        "read_options.consistency_token", options.consistency_token());
    if (!decoded.ok()) return decoded.status();
    merged = *std::move(decoded);
  }
  for (int i = 0; i < options.consistency_tokens_size(); ++i) {
    absl::StatusOr<ReplicationPosition> decoded = DecodeConsistencyToken(
        absl::StrCat("read_options.consistency_tokens[", i, "]"),
        options.consistency_tokens(i));
    if (!decoded.ok()) return decoded.status();
    merged.Merge(*decoded);
  }
  if (EncodeConsistencyToken(merged).size() > kMaxConsistencyTokenSize) {
    return absl::InvalidArgumentError(
        "read_options.consistency_tokens: together they name more "
        "replication domains than one token can hold");
  }
  return merged;
}

absl::StatusOr<ReadPolicy> ToReadPolicy(const v1::ReadOptions& options,
                                        ReadConsistency default_consistency) {
  ReadPolicy policy;
  absl::StatusOr<ReplicationPosition> tokens = MergedTokens(options);
  if (!tokens.ok()) return tokens.status();
  const bool has_tokens = !options.consistency_token().empty() ||
                          options.consistency_tokens_size() > 0;
  policy.min_position = *std::move(tokens);
  switch (options.consistency()) {
    case v1::CONSISTENCY_UNSPECIFIED:
      // A caller that hands over a token wants to see that write.
      policy.consistency =
          has_tokens ? ReadConsistency::kSession : default_consistency;
      break;
    case v1::CONSISTENCY_EVENTUAL:
      policy.consistency = ReadConsistency::kEventual;
      break;
    case v1::CONSISTENCY_BOUNDED_STALENESS:
      policy.consistency = ReadConsistency::kBoundedStaleness;
      break;
    case v1::CONSISTENCY_SESSION:
      policy.consistency = ReadConsistency::kSession;
      break;
    case v1::CONSISTENCY_STRONG:
      policy.consistency = ReadConsistency::kStrong;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "read_options.consistency: unknown value ", options.consistency()));
  }
  if (policy.consistency == ReadConsistency::kBoundedStaleness) {
    const auto& d = options.max_staleness();
    const bool valid_duration =
        (d.seconds() >= 0 && d.nanos() >= 0 && d.nanos() < 1000000000);
    if (!options.has_max_staleness() || !valid_duration ||
        (d.seconds() == 0 && d.nanos() == 0)) {
      return absl::InvalidArgumentError(
          "read_options.max_staleness: required and positive with "
          "CONSISTENCY_BOUNDED_STALENESS");
    }
    policy.max_staleness =
        absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  }
  return policy;
}

absl::StatusOr<int> EffectivePageSize(int32_t requested) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        "page_size: must not be negative (0 means the default of 50)");
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min<int>(requested, kMaxPageSize);
}

}  // namespace userservice
