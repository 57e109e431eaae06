#include "server/service/page_token.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/consistency_token.h"

namespace userservice {
namespace {

using ::testing::StartsWith;

std::string TokenWithPayload(absl::string_view payload) {
  return absl::StrCat("p1.", absl::WebSafeBase64Escape(payload));
}

void ExpectMalformed(absl::string_view token) {
  absl::StatusOr<uint64_t> decoded = DecodePageToken("page_token", token);
  ASSERT_FALSE(decoded.ok()) << "accepted " << token << " as " << *decoded;
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(decoded.status().message()),
              StartsWith("page_token:"));
}

TEST(PageTokenTest, RoundTrips) {
  for (uint64_t id : {uint64_t{1}, uint64_t{42}, uint64_t{1000000007},
                      std::numeric_limits<uint64_t>::max()}) {
    SCOPED_TRACE(id);
    const std::string token = EncodePageToken(id);
    absl::StatusOr<uint64_t> decoded = DecodePageToken("page_token", token);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, id);
  }
}

TEST(PageTokenTest, TokenIsVersionedAndOpaque) {
  const std::string token = EncodePageToken(123456);
  EXPECT_TRUE(absl::StartsWith(token, "p1.")) << token;
  EXPECT_FALSE(absl::StrContains(token, "123456")) << token;
  EXPECT_NE(EncodePageToken(1), EncodePageToken(2));
}

TEST(PageTokenTest, RejectsZeroNegativeAndNonDigits) {
  for (absl::string_view payload :
       {"after:0", "after:-5", "after:12a", "after:", "after: 5", "after:5 ",
        "after:+5", "after:0x10", "after:1.5", "after:1e3"}) {
    SCOPED_TRACE(payload);
    ExpectMalformed(TokenWithPayload(payload));
  }
}

// Base64 decoding forgives padding, whitespace and stray low bits in the
// last character, and SimpleAtoi leading zeros; a token must be spelt
// exactly as Encode spells it.
TEST(PageTokenTest, RejectsOtherSpellingsOfAToken) {
  const std::string token = EncodePageToken(1844674402);
  ASSERT_EQ(token, "p1.YWZ0ZXI6MTg0NDY3NDQwMg");
  ASSERT_TRUE(DecodePageToken("page_token", token).ok());
  ExpectMalformed("p1.YWZ0ZXI6MTg0NDY3NDQwMk");  // stray low bits
  ExpectMalformed(absl::StrCat(token, "=="));
  ExpectMalformed(absl::StrCat(token, "\n"));
  ExpectMalformed("p1.YWZ0ZXI6 MTg0NDY3NDQwMg");
  ExpectMalformed(TokenWithPayload("after:0042"));
}

TEST(PageTokenTest, RejectsOverflow) {
  ExpectMalformed(TokenWithPayload("after:18446744073709551616"));
  ExpectMalformed(TokenWithPayload("after:99999999999999999999999"));
}

TEST(PageTokenTest, RejectsWrongPrefixOrPayload) {
  const std::string payload = absl::WebSafeBase64Escape("after:5");
  ExpectMalformed(payload);
  ExpectMalformed(absl::StrCat("p2.", payload));
  ExpectMalformed(absl::StrCat("v1.", payload));
  ExpectMalformed(TokenWithPayload("before:5"));
  ExpectMalformed(TokenWithPayload("5"));
  ExpectMalformed("p1.");
  ExpectMalformed("p1.!!!");
  ExpectMalformed("p1");
  // A consistency token is not a page token.
  ExpectMalformed(
      EncodeConsistencyToken((*ReplicationPosition::Parse("0-1-5"))));
}

TEST(PageTokenTest, RejectsOverlongTokens) {
  ExpectMalformed(absl::StrCat("p1.", std::string(1000, 'A')));
  ExpectMalformed(
      TokenWithPayload(absl::StrCat("after:", std::string(60, '1'))));
}

}  // namespace
}  // namespace userservice
