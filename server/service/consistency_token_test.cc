#include "server/service/consistency_token.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kField[] = "read_options.consistency_token";

ReplicationPosition At(absl::string_view gtids) {
  return ReplicationPosition::Parse(gtids).value();
}

// A token with the right prefix around an arbitrary payload.
std::string TokenWithPayload(absl::string_view payload) {
  return absl::StrCat("v1.", absl::WebSafeBase64Escape(payload));
}

void ExpectRoundTrip(const ReplicationPosition& position) {
  const std::string token = EncodeConsistencyToken(position);
  absl::StatusOr<ReplicationPosition> decoded =
      DecodeConsistencyToken(kField, token);
  ASSERT_TRUE(decoded.ok()) << decoded.status() << " for " << token;
  EXPECT_EQ(*decoded, position);
}

void ExpectMalformed(absl::string_view token) {
  absl::StatusOr<ReplicationPosition> decoded =
      DecodeConsistencyToken(kField, token);
  ASSERT_FALSE(decoded.ok()) << "accepted " << token;
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(decoded.status().message()),
              StartsWith(absl::StrCat(kField, ":")));
}

TEST(ConsistencyTokenTest, RoundTripsGtidLists) {
  ExpectRoundTrip(At(""));
  ExpectRoundTrip(At("0-1-42"));
  ExpectRoundTrip(At("0-1-42,1-2-7"));
  ExpectRoundTrip(
      At("0-1-42,1-2-7,4294967295-4294967295-18446744073709551615"));
}

TEST(ConsistencyTokenTest, DecodesTokensOfEarlierReleases) {
  // What a write returned before tokens merged: "mariadb:" + @@last_gtid.
  absl::StatusOr<ReplicationPosition> decoded =
      DecodeConsistencyToken(kField, "v1.bWFyaWFkYjowLTEtNDI");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, At("0-1-42"));
}

TEST(ConsistencyTokenTest, TokenIsVersionedAndUrlSafe) {
  const std::string token = EncodeConsistencyToken(At("0-1-42,1-2-7"));
  ASSERT_TRUE(absl::StartsWith(token, "v1."));
  for (char c : token.substr(3)) {
    EXPECT_TRUE(absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                c == '-' || c == '_')
        << "unexpected character '" << c << "' in " << token;
  }
  EXPECT_FALSE(absl::StrContains(token, "0-1-42"));  // opaque
}

TEST(ConsistencyTokenTest, DifferentPositionsGiveDifferentTokens) {
  EXPECT_NE(EncodeConsistencyToken(At("0-1-42")),
            EncodeConsistencyToken(At("0-1-43")));
  EXPECT_NE(EncodeConsistencyToken(At("0-1-42")),
            EncodeConsistencyToken(At("0-2-42")));
}

TEST(ConsistencyTokenTest, AReadTokenCoversTheRequestAndTheServedPosition) {
  absl::StatusOr<ReplicationPosition> read = DecodeConsistencyToken(
      kField, EncodeReadToken(At("0-1-40,2-1-9"), At("0-2-41,1-3-5")));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->ToString(), "0-2-41,1-3-5,2-1-9");
  EXPECT_EQ(EncodeReadToken(At(""), At("0-1-1")),
            EncodeConsistencyToken(At("0-1-1")));
}

TEST(ConsistencyTokenTest, RejectsWrongOrMissingPrefix) {
  const std::string payload = absl::WebSafeBase64Escape("mariadb:0-1-42");
  ExpectMalformed(payload);
  ExpectMalformed(absl::StrCat("v2.", payload));
  ExpectMalformed(absl::StrCat("V1.", payload));
  ExpectMalformed(absl::StrCat("p1.", payload));  // a page token
  ExpectMalformed("");
  ExpectMalformed("v1");
}

TEST(ConsistencyTokenTest, RejectsBadBase64) {
  ExpectMalformed("v1.!!!!");
  ExpectMalformed("v1.abc$def");
  ExpectMalformed("v1.A");  // impossible length
}

TEST(ConsistencyTokenTest, RejectsPayloadWithoutFlavor) {
  ExpectMalformed("v1.");
  ExpectMalformed(TokenWithPayload("0-1-42"));
}

TEST(ConsistencyTokenTest, RejectsOtherFlavors) {
  for (absl::string_view payload :
       {"postgres:0-1-42", "MariaDB:0-1-42", ":0-1-42", "mysql :0-1-42",
        "mysql:3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"}) {
    SCOPED_TRACE(payload);
    ExpectMalformed(TokenWithPayload(payload));
  }
  absl::StatusOr<ReplicationPosition> mysql = DecodeConsistencyToken(
      kField, TokenWithPayload("mysql:3E11FA47-71CA-11E1-9E33-C80AA9429562:1"));
  EXPECT_THAT(std::string(mysql.status().message()), HasSubstr("MySQL"));
}

TEST(ConsistencyTokenTest, RejectsBadOrNonCanonicalGtidLists) {
  for (absl::string_view gtids : {"0-1",
                                  "0-1-2-3",
                                  "0-1-x",
                                  "0-1-2,",
                                  ",0-1-2",
                                  "0-1--2",
                                  "-0-1-2",
                                  "0-1-2 ",
                                  " 0-1-2",
                                  "0-1-+2",
                                  "0-1-99999999999999999999999",
                                  "0-1-18446744073709551616",
                                  "0-1-2;DROP TABLE users",
                                  "0-1-2' OR '1'='1",
                                  "0-1-2,,1-2-3",
                                  "1-1-1,0-1-1",
                                  "0-1-1,0-1-2",
                                  "00-1-2",
                                  "0-1-2, 1-1-1",
                                  "4294967296-1-1"}) {
    SCOPED_TRACE(gtids);
    ExpectMalformed(TokenWithPayload(absl::StrCat("mariadb:", gtids)));
  }
}

// Base64 decoding forgives padding, whitespace and stray low bits in the
// last character; a token must be spelt exactly as Encode spells it.
TEST(ConsistencyTokenTest, RejectsOtherSpellingsOfAToken) {
  const std::string token = EncodeConsistencyToken(At("0-1-46"));
  ASSERT_EQ(token, "v1.bWFyaWFkYjowLTEtNDY");
  ASSERT_TRUE(DecodeConsistencyToken(kField, token).ok());
  ExpectMalformed("v1.bWFyaWFkYjowLTEtNDa");  // stray low bits
  ExpectMalformed(absl::StrCat(token, "="));
  ExpectMalformed(absl::StrCat(token, "\n"));
  ExpectMalformed("v1.bWFyaWFk YjowLTEtNDY");
}

TEST(ConsistencyTokenTest, RejectsHugeTokens) {
  std::string gtids = "0-1-1";
  for (int domain = 1; gtids.size() < 20000; ++domain) {
    absl::StrAppend(&gtids, ",", domain, "-1-1");
  }
  ExpectMalformed(EncodeConsistencyToken(At(gtids)));
  ExpectMalformed(absl::StrCat("v1.", std::string(100000, 'A')));
}

TEST(ConsistencyTokenTest, MessageNamesTheGivenField) {
  absl::StatusOr<ReplicationPosition> decoded =
      DecodeConsistencyToken("some.other_field", "garbage");
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(std::string(decoded.status().message()),
              StartsWith("some.other_field:"));
}

}  // namespace
}  // namespace userservice
