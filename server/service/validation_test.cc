#include "server/service/validation.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Repeat(absl::string_view piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) absl::StrAppend(&out, piece);
  return out;
}

// Checks INVALID_ARGUMENT whose message starts with the field path.
void ExpectInvalid(const absl::Status& status, absl::string_view field) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()),
              StartsWith(absl::StrCat(field, ":")));
}

// --- Usernames ---------------------------------------------------------

TEST(ValidateUsernameTest, AcceptsLengthsThreeToThirtyTwo) {
  EXPECT_TRUE(ValidateUsername("username", "abc").ok());
  EXPECT_TRUE(ValidateUsername("username", std::string(32, 'a')).ok());
  EXPECT_TRUE(ValidateUsername("username", std::string(17, 'z')).ok());
}

TEST(ValidateUsernameTest, RejectsTwoAndThirtyThreeCharacters) {
  absl::Status too_short = ValidateUsername("user.username", "ab");
  ExpectInvalid(too_short, "user.username");
  EXPECT_THAT(too_short.message(), HasSubstr("3 to 32"));

  absl::Status too_long =
      ValidateUsername("user.username", std::string(33, 'a'));
  ExpectInvalid(too_long, "user.username");
  EXPECT_THAT(too_long.message(), HasSubstr("got 33"));
}

TEST(ValidateUsernameTest, RejectsEmptyAsRequired) {
  absl::Status status = ValidateUsername("username", "");
  ExpectInvalid(status, "username");
  EXPECT_THAT(status.message(), HasSubstr("required"));
}

TEST(ValidateUsernameTest, AcceptsEveryAllowedCharacter) {
  EXPECT_TRUE(ValidateUsername("username", "ABCDEFGHIJKLMNOPQRSTUVWXYZ").ok());
  EXPECT_TRUE(ValidateUsername("username", "abcdefghijklmnopqrstuvwxyz").ok());
  EXPECT_TRUE(ValidateUsername("username", "0123456789").ok());
  EXPECT_TRUE(ValidateUsername("username", "a_b.c-d").ok());
  EXPECT_TRUE(ValidateUsername("username", "._-").ok());
}

TEST(ValidateUsernameTest, RejectsOtherCharacters) {
  for (const std::string& bad : std::vector<std::string>{
           "a b", "abc!", "ab@c", "ab+c", "ab/c", "ab\tc", "ab,c", "ab'c",
           "ab\"c", "ab;c", "abc\n", std::string("ab\0c", 4), "ab~c"}) {
    SCOPED_TRACE(bad);
    ExpectInvalid(ValidateUsername("username", bad), "username");
  }
}

TEST(ValidateUsernameTest, RejectsUnicode) {
  // Letters outside ASCII, even when short enough in code points.
  for (const std::string& bad : std::vector<std::string>{
           "jos\xC3\xA9", "\xC3\xA9\xC3\xA9\xC3\xA9",
           "\xE6\x97\xA5\xE6\x9C\xAC", "ab\xF0\x9F\x98\x80",
           "abc\xEF\xBC\xA1"}) {  // fullwidth A
    SCOPED_TRACE(bad);
    ExpectInvalid(ValidateUsername("username", bad), "username");
  }
}

// --- Emails ------------------------------------------------------------

TEST(ValidateEmailTest, AcceptsOrdinaryAddresses) {
  for (const std::string& good : std::vector<std::string>{
           "a@b", "alice@example.com", "Alice.Smith+tag@Example.CO.uk",
           "user_name-1@sub.domain.io", "\"quoted\"@example.com"}) {
    SCOPED_TRACE(good);
    EXPECT_TRUE(ValidateEmail("email", good).ok());
  }
}

TEST(ValidateEmailTest, AcceptsInternationalizedAddresses) {
  for (const std::string& good : std::vector<std::string>{
           "jos\xC3\xA9@ex\xC3\xA4mple.com",            // josé@exämple.com
           "\xE7\x94\xA8\xE6\x88\xB7@\xE4\xBE\x8B.cn",  // 用户@例.cn
           "\xF0\x9F\x98\x80@example.com",              // 😀@example.com
           "a@b\xC3\xA9"}) {                            // multibyte at the end
    SCOPED_TRACE(good);
    EXPECT_TRUE(ValidateEmail("email", good).ok());
  }
}

TEST(ValidateEmailTest, CountsLengthInCodePoints) {
  // 250 two-byte characters + "@b.c": 254 code points but 504 bytes.
  const std::string local_254 = Repeat("\xC3\xA9", 250);
  EXPECT_TRUE(ValidateEmail("email", local_254 + "@b.c").ok());

  const std::string local_255 = Repeat("\xC3\xA9", 251);
  absl::Status status = ValidateEmail("user.email", local_255 + "@b.c");
  ExpectInvalid(status, "user.email");
  EXPECT_THAT(status.message(), HasSubstr("254"));
  EXPECT_THAT(status.message(), HasSubstr("got 255"));
}

TEST(ValidateEmailTest, LengthBoundaryWithAsciiAndFourByteCharacters) {
  EXPECT_TRUE(
      ValidateEmail("email", std::string(250, 'a') + "@b.c").ok());  // 254
  ExpectInvalid(ValidateEmail("email", std::string(251, 'a') + "@b.c"),
                "email");  // 255
  // 4-byte code points: 254 of them are fine, 255 are not.
  EXPECT_TRUE(
      ValidateEmail("email", Repeat("\xF0\x9F\x98\x80", 250) + "@b.c").ok());
  ExpectInvalid(
      ValidateEmail("email", Repeat("\xF0\x9F\x98\x80", 251) + "@b.c"),
      "email");
}

TEST(ValidateEmailTest, RequiresExactlyOneAt) {
  for (const std::string& bad :
       std::vector<std::string>{"alice.example.com", "a@b@c", "@@", "a@@b"}) {
    SCOPED_TRACE(bad);
    absl::Status status = ValidateEmail("email", bad);
    ExpectInvalid(status, "email");
    EXPECT_THAT(status.message(), HasSubstr("'@'"));
  }
}

TEST(ValidateEmailTest, RequiresLocalPartAndDomain) {
  absl::Status no_local = ValidateEmail("email", "@example.com");
  ExpectInvalid(no_local, "email");
  EXPECT_THAT(no_local.message(), HasSubstr("local part"));

  absl::Status no_domain = ValidateEmail("email", "alice@");
  ExpectInvalid(no_domain, "email");
  EXPECT_THAT(no_domain.message(), HasSubstr("domain"));

  ExpectInvalid(ValidateEmail("email", "@"), "email");
}

TEST(ValidateEmailTest, RejectsEmptyAsRequired) {
  absl::Status status = ValidateEmail("user.email", "");
  ExpectInvalid(status, "user.email");
  EXPECT_THAT(status.message(), HasSubstr("required"));
}

TEST(ValidateEmailTest, RejectsWhitespace) {
  for (const std::string& bad : std::vector<std::string>{
           "a b@example.com",  // space
           " a@example.com",   // leading space
           "a@example.com ",   // trailing space
           "a\xC2\xA0"
           "b@example.com",  // NBSP U+00A0
           "a\xE2\x80\x8B"
           "b@example.com",  // zero-width space U+200B
           "a\xE2\x80\x83"
           "b@example.com",  // em space U+2003
           "a\xE3\x80\x80"
           "b@example.com",  // ideographic space U+3000
           "a\xEF\xBB\xBF"
           "b@example.com",  // BOM / ZWNBSP U+FEFF
           "a\xE2\x80\xA8"
           "b@example.com",  // line separator U+2028
       }) {
    SCOPED_TRACE(bad);
    ExpectInvalid(ValidateEmail("email", bad), "email");
  }
}

TEST(ValidateEmailTest, RejectsControlCharacters) {
  for (const std::string& bad : std::vector<std::string>{
           "a\tb@example.com",                   // tab
           "a\nb@example.com",                   // newline
           "a@example.com\r\n",                  // header injection
           std::string("a\0b@example.com", 15),  // NUL
           "a\x01"
           "b@example.com",
           "a\x1F"
           "b@example.com",
           "a\x7F"
           "b@example.com",  // DEL
           "a\xC2\x85"
           "b@example.com",  // NEL U+0085
           "a\xC2\x9F"
           "b@example.com",  // U+009F
       }) {
    SCOPED_TRACE(bad);
    ExpectInvalid(ValidateEmail("email", bad), "email");
  }
}

TEST(ValidateEmailTest, RejectsInvalidUtf8) {
  for (const std::string& bad : std::vector<std::string>{
           "a\xFF"
           "b@example.com",  // never valid
           "a\x80"
           "b@example.com",      // lone continuation byte
           "a@example.com\xC3",  // truncated at the end
           "a\xE2\x82"
           "@example.com",               // truncated before '@'
           "a@example.com\xF0\x9F\x98",  // truncated 4-byte
           "a\xC0\xAF"
           "b@example.com",  // overlong '/'
           "a\xC1\xBF"
           "b@example.com",  // overlong
           "a\xE0\x80\xAF"
           "b@example.com",  // overlong 3-byte
           "a\xF0\x80\x80\xAF"
           "b@example.com",  // overlong 4-byte
           "a\xED\xA0\x80"
           "b@example.com",  // surrogate U+D800
           "a\xED\xBF\xBF"
           "b@example.com",  // surrogate U+DFFF
           "a\xF4\x90\x80\x80"
           "b@example.com",  // above U+10FFFF
           "a\xF8\x88\x80\x80\x80"
           "b@example.com",  // 5-byte form
       }) {
    SCOPED_TRACE(absl::CEscape(bad));
    absl::Status status = ValidateEmail("email", bad);
    ExpectInvalid(status, "email");
    EXPECT_THAT(status.message(), HasSubstr("UTF-8"));
  }
}

// --- Request ids -------------------------------------------------------

TEST(ValidateRequestIdTest, AcceptsEmptyAndUuids) {
  EXPECT_TRUE(ValidateRequestId("request_id", "").ok());
  EXPECT_TRUE(
      ValidateRequestId("request_id", "3f2504e0-4f89-11d3-9a0c-0305e82c3301")
          .ok());
}

TEST(ValidateRequestIdTest, AcceptsEveryPrintableAsciiCharacter) {
  std::string all;
  for (char c = '!'; c <= '~'; ++c) all.push_back(c);
  EXPECT_TRUE(ValidateRequestId("request_id", all).ok());
}

TEST(ValidateRequestIdTest, LengthBoundaryIs128) {
  EXPECT_TRUE(ValidateRequestId("request_id", std::string(128, 'x')).ok());
  absl::Status status = ValidateRequestId("request_id", std::string(129, 'x'));
  ExpectInvalid(status, "request_id");
  EXPECT_THAT(status.message(), HasSubstr("128"));
}

TEST(ValidateRequestIdTest, RejectsSpacesControlAndNonAscii) {
  for (const std::string& bad :
       std::vector<std::string>{"a b", "a\tb", "a\nb", std::string("a\0b", 3),
                                "a\x7F", "a\x1B", "caf\xC3\xA9", "\xFF"}) {
    SCOPED_TRACE(absl::CEscape(bad));
    ExpectInvalid(ValidateRequestId("request_id", bad), "request_id");
  }
}

// --- Ids and versions -----------------------------------------------------

TEST(ValidateUserIdTest, RejectsZeroOnly) {
  EXPECT_TRUE(ValidateUserId("id", 1).ok());
  EXPECT_TRUE(ValidateUserId("id", UINT64_MAX).ok());
  absl::Status status = ValidateUserId("user.id", 0);
  ExpectInvalid(status, "user.id");
  EXPECT_EQ(status.message(), "user.id: must be a non-zero user id");
}

TEST(ValidateExpectedVersionTest, AcceptsZeroAndVersionsRejectsNegatives) {
  EXPECT_TRUE(ValidateExpectedVersion("expected_version", 0).ok());
  EXPECT_TRUE(ValidateExpectedVersion("expected_version", 7).ok());
  absl::Status status = ValidateExpectedVersion("expected_version", -1);
  ExpectInvalid(status, "expected_version");
  EXPECT_EQ(status.message(),
            "expected_version: must be 0 (unconditional) or a version");
}

}  // namespace
}  // namespace userservice
