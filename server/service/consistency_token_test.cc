#include "server/service/consistency_token.h"

#include <string>
#include <vector>

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
constexpr char kUuid1[] = "3E11FA47-71CA-11E1-9E33-C80AA9429562";
constexpr char kUuid2[] = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

// A token with the right prefix around an arbitrary payload.
std::string TokenWithPayload(absl::string_view payload) {
  return absl::StrCat("v1.", absl::WebSafeBase64Escape(payload));
}

void ExpectRoundTrip(const ReplicationPosition& position) {
  const std::string token = EncodeConsistencyToken(position);
  absl::StatusOr<ReplicationPosition> decoded =
      DecodeConsistencyToken(kField, token);
  ASSERT_TRUE(decoded.ok()) << decoded.status() << " for " << token;
  EXPECT_EQ(decoded->flavor, position.flavor);
  EXPECT_EQ(decoded->gtids, position.gtids);
}

void ExpectMalformed(absl::string_view token) {
  absl::StatusOr<ReplicationPosition> decoded =
      DecodeConsistencyToken(kField, token);
  ASSERT_FALSE(decoded.ok()) << "accepted " << token;
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(decoded.status().message()),
              StartsWith(absl::StrCat(kField, ":")));
}

TEST(ConsistencyTokenTest, RoundTripsMariaDbGtidLists) {
  ExpectRoundTrip({kFlavorMariaDb, "0-1-42"});
  ExpectRoundTrip({kFlavorMariaDb, "0-1-42,1-2-7"});
  ExpectRoundTrip({kFlavorMariaDb,
                   "0-1-42,1-2-7,4294967295-4294967295-"
                   "18446744073709551615"});
}

TEST(ConsistencyTokenTest, RoundTripsMySqlGtidSets) {
  ExpectRoundTrip({kFlavorMySql, absl::StrCat(kUuid1, ":1-5")});
  ExpectRoundTrip({kFlavorMySql, absl::StrCat(kUuid1, ":1-5:11-18")});
  ExpectRoundTrip({kFlavorMySql, absl::StrCat(kUuid1, ":1-5,", kUuid2, ":7")});
  // @@gtid_executed puts a newline after each comma.
  ExpectRoundTrip(
      {kFlavorMySql, absl::StrCat(kUuid1, ":1-5,\n", kUuid2, ":1-27")});
  // MySQL 8.3+ tagged GTIDs.
  ExpectRoundTrip({kFlavorMySql, absl::StrCat(kUuid1, ":my_tag:1-3")});
}

TEST(ConsistencyTokenTest, RoundTripsEmptyPositions) {
  ExpectRoundTrip({kFlavorMariaDb, ""});
  ExpectRoundTrip({kFlavorMySql, ""});
}

TEST(ConsistencyTokenTest, TokenIsVersionedAndUrlSafe) {
  const std::string token = EncodeConsistencyToken(
      {kFlavorMySql, absl::StrCat(kUuid1, ":1-5,\n", kUuid2, ":1-27")});
  ASSERT_TRUE(absl::StartsWith(token, "v1."));
  for (char c : token.substr(3)) {
    EXPECT_TRUE(absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                c == '-' || c == '_')
        << "unexpected character '" << c << "' in " << token;
  }
  // Opaque: the raw position does not show through.
  EXPECT_FALSE(absl::StrContains(token, kUuid1));
}

TEST(ConsistencyTokenTest, DifferentPositionsGiveDifferentTokens) {
  EXPECT_NE(EncodeConsistencyToken({kFlavorMariaDb, "0-1-42"}),
            EncodeConsistencyToken({kFlavorMariaDb, "0-1-43"}));
  EXPECT_NE(EncodeConsistencyToken({kFlavorMariaDb, ""}),
            EncodeConsistencyToken({kFlavorMySql, ""}));
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

TEST(ConsistencyTokenTest, RejectsUnknownFlavor) {
  for (absl::string_view flavor : {"postgres", "MariaDB", "", "mysql "}) {
    SCOPED_TRACE(flavor);
    absl::StatusOr<ReplicationPosition> decoded = DecodeConsistencyToken(
        kField, TokenWithPayload(absl::StrCat(flavor, ":0-1-42")));
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr(kField));
  }
}

TEST(ConsistencyTokenTest, RejectsBadMariaDbGtids) {
  for (absl::string_view gtids :
       {"0-1", "0-1-2-3", "0-1-x", "0-1-2,", ",0-1-2", "0-1--2", "-0-1-2",
        "0-1-2 ", " 0-1-2", "0-1-+2", "0-1-99999999999999999999999",
        "0-1-18446744073709551616", "0-1-2;DROP TABLE users",
        "0-1-2' OR '1'='1", "0-1-2,,1-2-3"}) {
    SCOPED_TRACE(gtids);
    ExpectMalformed(TokenWithPayload(absl::StrCat("mariadb:", gtids)));
  }
}

TEST(ConsistencyTokenTest, RejectsBadMySqlGtidSets) {
  for (const std::string& gtids : std::vector<std::string>{
           "not-a-uuid:1-5",
           kUuid1,                               // no interval
           absl::StrCat(kUuid1, ":"),            // empty interval
           absl::StrCat(kUuid1, "::1-5"),        // empty part
           absl::StrCat(kUuid1, ":1-5;x"),       // separator injection
           absl::StrCat(kUuid1, ":1-5'"),        // quote
           absl::StrCat("G", kUuid1 + 1, ":1"),  // non-hex
           absl::StrCat(kUuid1, "0:1-5"),        // 37 characters
           absl::StrCat(kUuid1, ":1-5,"),        // trailing comma
           "0-1-42",                             // a MariaDB list
       }) {
    SCOPED_TRACE(gtids);
    ExpectMalformed(TokenWithPayload(absl::StrCat("mysql:", gtids)));
  }
}

TEST(ConsistencyTokenTest, RejectsHugeTokens) {
  // A valid-looking but enormous GTID list.
  std::string gtids = "0-1-1";
  while (gtids.size() < 20000) absl::StrAppend(&gtids, ",0-1-1");
  ExpectMalformed(EncodeConsistencyToken({kFlavorMariaDb, gtids}));
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
