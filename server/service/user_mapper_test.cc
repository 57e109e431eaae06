#include "server/service/user_mapper.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/consistency_token.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

void ExpectInvalid(const absl::Status& status, absl::string_view field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(std::string(field)))
      << status;
}

// --- ToProto -------------------------------------------------------------

TEST(UserToProtoTest, CopiesEveryField) {
  User user;
  user.id = 18446744073709551615u;
  user.username = "Alice_1";
  user.email = "Alice@Example.com";
  user.create_time = absl::FromUnixMicros(1700000000123456);
  user.update_time = absl::FromUnixMicros(1700000100000001);
  user.version = 9;

  v1::User proto;
  ToProto(user, &proto);
  EXPECT_EQ(proto.id(), 18446744073709551615u);
  EXPECT_EQ(proto.username(), "Alice_1");
  EXPECT_EQ(proto.email(), "Alice@Example.com");
  EXPECT_EQ(proto.create_time().seconds(), 1700000000);
  EXPECT_EQ(proto.create_time().nanos(), 123456000);
  EXPECT_EQ(proto.update_time().seconds(), 1700000100);
  EXPECT_EQ(proto.update_time().nanos(), 1000);
  EXPECT_EQ(proto.version(), 9);
}

TEST(UserToProtoTest, WholeSecondsHaveZeroNanos) {
  User user;
  user.create_time = absl::FromUnixSeconds(1600000000);
  user.update_time = absl::UnixEpoch();
  v1::User proto;
  ToProto(user, &proto);
  EXPECT_EQ(proto.create_time().seconds(), 1600000000);
  EXPECT_EQ(proto.create_time().nanos(), 0);
  EXPECT_EQ(proto.update_time().seconds(), 0);
  EXPECT_EQ(proto.update_time().nanos(), 0);
}

TEST(UserToProtoTest, LargestMicrosecondFraction) {
  User user;
  user.create_time = absl::FromUnixMicros(1700000000999999);
  v1::User proto;
  ToProto(user, &proto);
  EXPECT_EQ(proto.create_time().seconds(), 1700000000);
  EXPECT_EQ(proto.create_time().nanos(), 999999000);
}

// google.protobuf.Timestamp: "Negative second values with fractions must
// still have non-negative nanos values that count forward in time."
// DATETIME(6) columns can hold pre-1970 values.
TEST(UserToProtoTest, TimesBeforeTheEpochHaveNonNegativeNanos) {
  User user;
  user.create_time = absl::FromUnixMicros(-1500000);  // 1969-12-31T23:59:58.5Z
  v1::User proto;
  ToProto(user, &proto);
  EXPECT_EQ(proto.create_time().seconds(), -2);
  EXPECT_EQ(proto.create_time().nanos(), 500000000);
}

// --- FromProto(CreateUserRequest) ----------------------------------------

TEST(CreateUserFromProtoTest, ConvertsAValidRequest) {
  v1::CreateUserRequest request;
  request.set_username("alice");
  request.set_email("alice@example.com");
  request.set_request_id("req-1");
  absl::StatusOr<NewUser> user = FromProto(request);
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->username, "alice");
  EXPECT_EQ(user->email, "alice@example.com");
  EXPECT_EQ(user->request_id, "req-1");
}

TEST(CreateUserFromProtoTest, RequestIdIsOptional) {
  v1::CreateUserRequest request;
  request.set_username("alice");
  request.set_email("alice@example.com");
  absl::StatusOr<NewUser> user = FromProto(request);
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->request_id, "");
}

TEST(CreateUserFromProtoTest, NamesTheInvalidField) {
  v1::CreateUserRequest request;
  request.set_username("alice");
  request.set_email("alice@example.com");

  v1::CreateUserRequest bad = request;
  bad.set_username("a");
  ExpectInvalid(FromProto(bad).status(), "username:");

  bad = request;
  bad.clear_username();
  ExpectInvalid(FromProto(bad).status(), "username:");

  bad = request;
  bad.set_email("not-an-email");
  ExpectInvalid(FromProto(bad).status(), "email:");

  bad = request;
  bad.set_request_id("has space");
  ExpectInvalid(FromProto(bad).status(), "request_id:");
}

// --- FromProto(GetUserRequest) -------------------------------------------

TEST(GetUserFromProtoTest, ConvertsEachKind) {
  v1::GetUserRequest request;
  request.set_id(42);
  absl::StatusOr<UserKey> key = FromProto(request);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->kind, UserKey::Kind::kId);
  EXPECT_EQ(key->id, 42u);

  request.set_username("Alice");
  key = FromProto(request);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->kind, UserKey::Kind::kUsername);
  EXPECT_EQ(key->text, "Alice");

  request.set_email("Alice@Example.com");
  key = FromProto(request);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->kind, UserKey::Kind::kEmail);
  EXPECT_EQ(key->text, "Alice@Example.com");
}

TEST(GetUserFromProtoTest, RejectsMissingKeyAndZeroId) {
  v1::GetUserRequest request;
  ExpectInvalid(FromProto(request).status(), "key:");
  request.set_id(0);
  ExpectInvalid(FromProto(request).status(), "id:");
}

TEST(GetUserFromProtoTest, ValidatesUsernameAndEmailKeys) {
  v1::GetUserRequest request;
  request.set_username("x");
  ExpectInvalid(FromProto(request).status(), "username:");
  request.set_email("no-at-sign");
  ExpectInvalid(FromProto(request).status(), "email:");
}

// --- FromProto(UpdateUserRequest) ----------------------------------------

v1::UpdateUserRequest ValidUpdate() {
  v1::UpdateUserRequest request;
  request.mutable_user()->set_id(7);
  request.mutable_user()->set_username("bob");
  request.mutable_user()->set_email("bob@example.com");
  return request;
}

TEST(UpdateUserFromProtoTest, EmptyMaskUpdatesBothFields) {
  absl::StatusOr<UserUpdate> update = FromProto(ValidUpdate());
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->id, 7u);
  EXPECT_EQ(update->username, "bob");
  EXPECT_EQ(update->email, "bob@example.com");
  EXPECT_EQ(update->expected_version, 0);
}

TEST(UpdateUserFromProtoTest, EmptyMaskValidatesBothFields) {
  v1::UpdateUserRequest request = ValidUpdate();
  request.mutable_user()->clear_email();
  ExpectInvalid(FromProto(request).status(), "user.email:");

  request = ValidUpdate();
  request.mutable_user()->set_username("b");
  ExpectInvalid(FromProto(request).status(), "user.username:");
}

TEST(UpdateUserFromProtoTest, MaskSelectsTheFields) {
  v1::UpdateUserRequest request = ValidUpdate();
  request.mutable_user()->set_email("ignored, not validated");
  request.mutable_update_mask()->add_paths("username");
  absl::StatusOr<UserUpdate> update = FromProto(request);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->username, "bob");
  EXPECT_FALSE(update->email.has_value());

  request = ValidUpdate();
  request.mutable_user()->clear_username();
  request.mutable_update_mask()->add_paths("email");
  update = FromProto(request);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_FALSE(update->username.has_value());
  EXPECT_EQ(update->email, "bob@example.com");

  request = ValidUpdate();
  request.mutable_update_mask()->add_paths("email");
  request.mutable_update_mask()->add_paths("username");
  update = FromProto(request);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->username, "bob");
  EXPECT_EQ(update->email, "bob@example.com");
}

TEST(UpdateUserFromProtoTest, MaskedFieldIsValidated) {
  v1::UpdateUserRequest request = ValidUpdate();
  request.mutable_user()->set_email("bad email@example.com");
  request.mutable_update_mask()->add_paths("email");
  ExpectInvalid(FromProto(request).status(), "user.email:");
}

TEST(UpdateUserFromProtoTest, RejectsUnknownMaskPaths) {
  for (absl::string_view path :
       {"id", "version", "create_time", "user.username", "Username", ""}) {
    SCOPED_TRACE(path);
    v1::UpdateUserRequest request = ValidUpdate();
    request.mutable_update_mask()->add_paths("username");
    request.mutable_update_mask()->add_paths(std::string(path));
    absl::Status status = FromProto(request).status();
    ExpectInvalid(status, "update_mask:");
    EXPECT_THAT(status.message(), HasSubstr("paths[1]"));
  }
}

// A path is client text: the message names it by index, so an email sent
// as a path reaches neither the caller's error nor a log.
TEST(UpdateUserFromProtoTest, RejectedMaskPathIsNotEchoed) {
  for (absl::string_view path :
       {"ada@example.com", "ve@sion", "user.email", "emails"}) {
    SCOPED_TRACE(path);
    v1::UpdateUserRequest request = ValidUpdate();
    request.mutable_update_mask()->add_paths(std::string(path));
    absl::Status status = FromProto(request).status();
    ExpectInvalid(status, "update_mask: paths[0] ");
    EXPECT_THAT(status.message(), Not(HasSubstr(path)));
    EXPECT_THAT(status.message(), Not(HasSubstr("@")));
  }
}

TEST(UpdateUserFromProtoTest, RejectsMissingUserAndZeroId) {
  v1::UpdateUserRequest request;
  ExpectInvalid(FromProto(request).status(), "user:");

  request = ValidUpdate();
  request.mutable_user()->set_id(0);
  ExpectInvalid(FromProto(request).status(), "user.id:");
}

TEST(UpdateUserFromProtoTest, ExpectedVersion) {
  v1::UpdateUserRequest request = ValidUpdate();
  request.set_expected_version(5);
  absl::StatusOr<UserUpdate> update = FromProto(request);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->expected_version, 5);

  request.set_expected_version(-1);
  ExpectInvalid(FromProto(request).status(), "expected_version:");
  request.set_expected_version(std::numeric_limits<int64_t>::min());
  ExpectInvalid(FromProto(request).status(), "expected_version:");
}

// --- ToReadPolicy --------------------------------------------------------

v1::ReadOptions WithConsistency(v1::Consistency consistency) {
  v1::ReadOptions options;
  options.set_consistency(consistency);
  return options;
}

std::string ValidToken() {
  return EncodeConsistencyToken((*ReplicationPosition::Parse("0-1-42")));
}

TEST(ToReadPolicyTest, UnspecifiedUsesTheServerDefault) {
  for (ReadConsistency fallback :
       {ReadConsistency::kEventual, ReadConsistency::kStrong,
        ReadConsistency::kSession}) {
    absl::StatusOr<ReadPolicy> policy =
        ToReadPolicy(v1::ReadOptions(), fallback);
    ASSERT_TRUE(policy.ok()) << policy.status();
    EXPECT_EQ(policy->consistency, fallback);
    EXPECT_TRUE(policy->min_position.empty());
  }
}

TEST(ToReadPolicyTest, ExplicitLevelsMap) {
  struct Case {
    v1::Consistency in;
    ReadConsistency out;
  };
  for (const Case& c :
       {Case{v1::CONSISTENCY_EVENTUAL, ReadConsistency::kEventual},
        Case{v1::CONSISTENCY_SESSION, ReadConsistency::kSession},
        Case{v1::CONSISTENCY_STRONG, ReadConsistency::kStrong}}) {
    absl::StatusOr<ReadPolicy> policy =
        ToReadPolicy(WithConsistency(c.in), ReadConsistency::kStrong);
    ASSERT_TRUE(policy.ok()) << policy.status();
    EXPECT_EQ(policy->consistency, c.out);
    EXPECT_TRUE(policy->min_position.empty());
  }
}

TEST(ToReadPolicyTest, TokenWithUnspecifiedSelectsSession) {
  v1::ReadOptions options;
  options.set_consistency_token(ValidToken());
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(options, ReadConsistency::kEventual);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->consistency, ReadConsistency::kSession);
  EXPECT_EQ(policy->min_position, (*ReplicationPosition::Parse("0-1-42")));
}

TEST(ToReadPolicyTest, SessionCarriesThePosition) {
  v1::ReadOptions options = WithConsistency(v1::CONSISTENCY_SESSION);
  options.set_consistency_token(ValidToken());
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(options, ReadConsistency::kEventual);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->consistency, ReadConsistency::kSession);
  EXPECT_EQ(policy->min_position.ToString(), "0-1-42");
}

TEST(ToReadPolicyTest, OtherLevelsRouteWithoutAValidToken) {
  v1::ReadOptions options = WithConsistency(v1::CONSISTENCY_EVENTUAL);
  options.set_consistency_token(ValidToken());
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(options, ReadConsistency::kEventual);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->consistency, ReadConsistency::kEventual);
  // Kept, so that the response's token covers it.
  EXPECT_EQ(policy->min_position.ToString(), "0-1-42");
}

std::string TokenAt(absl::string_view gtids) {
  return EncodeConsistencyToken(*ReplicationPosition::Parse(gtids));
}

TEST(ToReadPolicyTest, TokensMergeByTheLatestPositionPerDomain) {
  v1::ReadOptions options;
  options.set_consistency_token(TokenAt("0-1-40,1-2-9"));
  options.add_consistency_tokens(TokenAt("0-3-42"));  // after a failover
  options.add_consistency_tokens(TokenAt("1-2-7,2-1-1"));
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(options, ReadConsistency::kEventual);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->consistency, ReadConsistency::kSession);
  EXPECT_EQ(policy->min_position.ToString(), "0-3-42,1-2-9,2-1-1");
}

TEST(ToReadPolicyTest, RepeatedTokensAloneSelectSession) {
  v1::ReadOptions options;
  options.add_consistency_tokens(TokenAt("0-1-5"));
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(options, ReadConsistency::kEventual);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->consistency, ReadConsistency::kSession);
  EXPECT_EQ(policy->min_position.ToString(), "0-1-5");
}

TEST(ToReadPolicyTest, AMalformedRepeatedTokenIsNamedByItsIndex) {
  v1::ReadOptions options = WithConsistency(v1::CONSISTENCY_STRONG);
  options.set_consistency_token(ValidToken());
  options.add_consistency_tokens(ValidToken());
  options.add_consistency_tokens("v1.not-a-token");
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(options, ReadConsistency::kEventual);
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(policy.status().message()),
              ::testing::StartsWith("read_options.consistency_tokens[1]:"));
}

TEST(ToReadPolicyTest, AtMost64Tokens) {
  v1::ReadOptions options;
  for (int i = 0; i < kMaxConsistencyTokens; ++i) {
    options.add_consistency_tokens(ValidToken());
  }
  EXPECT_TRUE(ToReadPolicy(options, ReadConsistency::kEventual).ok());
  options.add_consistency_tokens(ValidToken());
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(options, ReadConsistency::kEventual);
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(policy.status().message()),
              ::testing::HasSubstr("at most 64"));
}

TEST(ToReadPolicyTest, TokensThatTogetherOutgrowOneTokenAreRefused) {
  v1::ReadOptions options;
  // Each token alone is fine; their domains together are not.
  for (int t = 0; t < 4; ++t) {
    std::string gtids;
    for (int d = 0; d < 100; ++d) {
      absl::StrAppend(&gtids, gtids.empty() ? "" : ",", t * 100 + d,
                      "-4294967295-18446744073709551615");
    }
    options.add_consistency_tokens(TokenAt(gtids));
  }
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(options, ReadConsistency::kEventual);
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BatchGetUsersRequestTest, IdsInRequestOrderWithDuplicates) {
  v1::BatchGetUsersRequest request;
  for (uint64_t id : {9, 3, 9}) request.add_ids(id);
  absl::StatusOr<std::vector<uint64_t>> ids = FromProto(request);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, (std::vector<uint64_t>{9, 3, 9}));
  EXPECT_TRUE(FromProto(v1::BatchGetUsersRequest()).ok());
}

TEST(BatchGetUsersRequestTest, RejectsZeroIdsAndTooManyIds) {
  v1::BatchGetUsersRequest request;
  request.add_ids(4);
  request.add_ids(0);
  absl::StatusOr<std::vector<uint64_t>> ids = FromProto(request);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ids.status().message()),
              ::testing::StartsWith("ids[1]:"));
  v1::BatchGetUsersRequest many;
  for (int i = 1; i <= kMaxBatchGetIds; ++i) many.add_ids(i);
  EXPECT_TRUE(FromProto(many).ok());
  many.add_ids(1);
  ids = FromProto(many);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ids.status().message()),
              ::testing::HasSubstr("at most 1000"));
}

TEST(ToReadPolicyTest, MalformedTokenIsRejectedAtEveryLevel) {
  for (v1::Consistency consistency :
       {v1::CONSISTENCY_UNSPECIFIED, v1::CONSISTENCY_EVENTUAL,
        v1::CONSISTENCY_SESSION, v1::CONSISTENCY_STRONG}) {
    SCOPED_TRACE(v1::Consistency_Name(consistency));
    v1::ReadOptions options = WithConsistency(consistency);
    options.set_consistency_token("not-a-token");
    ExpectInvalid(ToReadPolicy(options, ReadConsistency::kEventual).status(),
                  "read_options.consistency_token:");
  }
}

TEST(ToReadPolicyTest, BoundedStalenessRequiresPositiveMaxStaleness) {
  v1::ReadOptions options = WithConsistency(v1::CONSISTENCY_BOUNDED_STALENESS);
  ExpectInvalid(ToReadPolicy(options, ReadConsistency::kEventual).status(),
                "read_options.max_staleness:");

  options.mutable_max_staleness();  // present but zero
  ExpectInvalid(ToReadPolicy(options, ReadConsistency::kEventual).status(),
                "read_options.max_staleness:");

  options.mutable_max_staleness()->set_seconds(-1);
  ExpectInvalid(ToReadPolicy(options, ReadConsistency::kEventual).status(),
                "read_options.max_staleness:");

  options.mutable_max_staleness()->set_seconds(0);
  options.mutable_max_staleness()->set_nanos(-5);
  ExpectInvalid(ToReadPolicy(options, ReadConsistency::kEventual).status(),
                "read_options.max_staleness:");

  options.mutable_max_staleness()->set_seconds(1);
  options.mutable_max_staleness()->set_nanos(500000000);
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(options, ReadConsistency::kEventual);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->consistency, ReadConsistency::kBoundedStaleness);
  EXPECT_EQ(policy->max_staleness, absl::Milliseconds(1500));

  options.mutable_max_staleness()->set_seconds(0);
  options.mutable_max_staleness()->set_nanos(1);
  policy = ToReadPolicy(options, ReadConsistency::kEventual);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->max_staleness, absl::Nanoseconds(1));
}

TEST(ToReadPolicyTest, MaxStalenessIsIgnoredByOtherLevels) {
  v1::ReadOptions options = WithConsistency(v1::CONSISTENCY_STRONG);
  options.mutable_max_staleness()->set_seconds(-3);
  absl::StatusOr<ReadPolicy> policy =
      ToReadPolicy(options, ReadConsistency::kEventual);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->consistency, ReadConsistency::kStrong);
}

TEST(ToReadPolicyTest, UnknownEnumValueIsInvalidArgument) {
  v1::ReadOptions options;
  options.set_consistency(static_cast<v1::Consistency>(99));
  absl::Status status =
      ToReadPolicy(options, ReadConsistency::kEventual).status();
  ExpectInvalid(status, "read_options.consistency:");
  EXPECT_THAT(status.message(), HasSubstr("99"));

  // The same value arriving over the wire.
  v1::ReadOptions parsed;
  ASSERT_TRUE(parsed.ParseFromString(options.SerializeAsString()));
  EXPECT_EQ(static_cast<int>(parsed.consistency()), 99);
  ExpectInvalid(ToReadPolicy(parsed, ReadConsistency::kEventual).status(),
                "read_options.consistency:");
}

// --- EffectivePageSize ---------------------------------------------------

TEST(EffectivePageSizeTest, DefaultsAndCaps) {
  EXPECT_EQ(EffectivePageSize(0).value(), 50);
  EXPECT_EQ(EffectivePageSize(1).value(), 1);
  EXPECT_EQ(EffectivePageSize(50).value(), 50);
  EXPECT_EQ(EffectivePageSize(999).value(), 999);
  EXPECT_EQ(EffectivePageSize(1000).value(), 1000);
  EXPECT_EQ(EffectivePageSize(1001).value(), 1000);
  EXPECT_EQ(EffectivePageSize(5000).value(), 1000);
  EXPECT_EQ(EffectivePageSize(std::numeric_limits<int32_t>::max()).value(),
            1000);
}

TEST(EffectivePageSizeTest, RejectsNegative) {
  ExpectInvalid(EffectivePageSize(-1).status(), "page_size:");
  ExpectInvalid(EffectivePageSize(std::numeric_limits<int32_t>::min()).status(),
                "page_size:");
}

}  // namespace
}  // namespace userservice
