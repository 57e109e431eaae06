#include "client/userctl/user_id.h"

#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userctl {
namespace {

using ::testing::HasSubstr;

TEST(ParseUserIdTest, AcceptsPositiveDecimalIntegers) {
  EXPECT_EQ(ParseUserId("1").value(), 1u);
  EXPECT_EQ(ParseUserId("42").value(), 42u);
  EXPECT_EQ(ParseUserId("007").value(), 7u);
  EXPECT_EQ(ParseUserId("18446744073709551615").value(),
            std::numeric_limits<uint64_t>::max());
}

TEST(ParseUserIdTest, RejectsEverythingElse) {
  for (const char* text :
       {"", "0", "00", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "abc",
        "12abc", "18446744073709551616", "99999999999999999999999"}) {
    absl::StatusOr<uint64_t> id = ParseUserId(text);
    ASSERT_FALSE(id.ok()) << '"' << text << '"';
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(id.status().message(), HasSubstr("invalid user ID"));
  }
}

}  // namespace
}  // namespace userctl
