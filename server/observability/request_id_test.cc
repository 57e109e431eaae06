#include "server/observability/request_id.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace userservice::observability {
namespace {

TEST(RequestIdTest, AcceptsCommonIdFormats) {
  EXPECT_TRUE(IsValidRequestId("0f8fad5b-d9cb-469f-a165-70867728950e"));
  EXPECT_TRUE(IsValidRequestId("00-4bf92f3577b34da6a3ce929d0e0e4736-01"));
  EXPECT_TRUE(IsValidRequestId("req_1.2:3"));
  EXPECT_TRUE(IsValidRequestId(std::string(kMaxRequestIdLength, 'a')));
}

TEST(RequestIdTest, RejectsWhatMustNotReachALogLine) {
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId(std::string(kMaxRequestIdLength + 1, 'a')));
  EXPECT_FALSE(IsValidRequestId("alice@example.com"));
  EXPECT_FALSE(IsValidRequestId("has space"));
  EXPECT_FALSE(IsValidRequestId("quote\"brace}"));
  EXPECT_FALSE(IsValidRequestId("line\nbreak"));
  EXPECT_FALSE(IsValidRequestId("caf\xc3\xa9"));
}

TEST(RequestIdTest, GeneratedIdsAre32HexDigitsAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_TRUE(IsValidRequestId(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace userservice::observability
