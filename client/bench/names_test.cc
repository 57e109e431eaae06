#include "client/bench/names.h"

#include <string>

#include "gtest/gtest.h"

namespace userbench {
namespace {

bool ValidUsername(const std::string& name) {
  if (name.size() < 3 || name.size() > 32) return false;
  for (char c : name) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

TEST(NamesTest, DatasetNamesRoundTrip) {
  for (int64_t i : {0, 7, 12345, 99'999'999}) {
    const std::string name = DatasetUsername("bench", i);
    EXPECT_TRUE(ValidUsername(name)) << name;
    EXPECT_EQ(DatasetIndex("bench", name), i);
  }
  EXPECT_EQ(DatasetUsername("bench", 42), "bench-d42");
}

TEST(NamesTest, DatasetIndexRejectsOtherNames) {
  for (const char* other : {"bench-d", "bench-dx", "bench-d07", "bench-d1x",
                            "benchx-d1", "other-d1", "bench-wabc-1"}) {
    EXPECT_FALSE(DatasetIndex("bench", other).has_value()) << other;
  }
}

TEST(NamesTest, WriteNamesAreValidAndDistinct) {
  const WriteNames names("abcdefgh", WriteNames::RandomRunTag());
  const std::string longest = names.Username(9'999'999'999'999);
  EXPECT_TRUE(ValidUsername(longest)) << longest;
  EXPECT_NE(names.Username(1), names.Username(2));
  EXPECT_NE(WriteNames::RandomRunTag(), WriteNames::RandomRunTag());
}

TEST(NamesTest, PrefixRules) {
  EXPECT_TRUE(ValidPrefix("bench"));
  EXPECT_TRUE(ValidPrefix("b2"));
  EXPECT_FALSE(ValidPrefix(""));
  EXPECT_FALSE(ValidPrefix("Bench"));
  EXPECT_FALSE(ValidPrefix("be-nch"));
  EXPECT_FALSE(ValidPrefix("ninechars"));
}

TEST(NamesTest, EmailsAreInTheInvalidDomain) {
  EXPECT_EQ(BenchEmail("bench-d1"), "bench-d1@bench.invalid");
}

}  // namespace
}  // namespace userbench
