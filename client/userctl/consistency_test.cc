#include "client/userctl/consistency.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {
namespace {

using ::testing::HasSubstr;
using ::userservice::v1::Consistency;

struct NameCase {
  const char* name;
  Consistency want;
};

class ParseConsistencyTest : public ::testing::TestWithParam<NameCase> {};

TEST_P(ParseConsistencyTest, Accepts) {
  absl::StatusOr<Consistency> got = ParseConsistency(GetParam().name);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Names, ParseConsistencyTest,
    ::testing::Values(
        NameCase{"unspecified", userservice::v1::CONSISTENCY_UNSPECIFIED},
        NameCase{"eventual", userservice::v1::CONSISTENCY_EVENTUAL},
        NameCase{"bounded_staleness",
                 userservice::v1::CONSISTENCY_BOUNDED_STALENESS},
        NameCase{"bounded", userservice::v1::CONSISTENCY_BOUNDED_STALENESS},
        NameCase{"bounded-staleness",
                 userservice::v1::CONSISTENCY_BOUNDED_STALENESS},
        NameCase{"session", userservice::v1::CONSISTENCY_SESSION},
        NameCase{"strong", userservice::v1::CONSISTENCY_STRONG},
        NameCase{"STRONG", userservice::v1::CONSISTENCY_STRONG},
        NameCase{"Session", userservice::v1::CONSISTENCY_SESSION},
        NameCase{"CONSISTENCY_STRONG", userservice::v1::CONSISTENCY_STRONG},
        NameCase{"CONSISTENCY_UNSPECIFIED",
                 userservice::v1::CONSISTENCY_UNSPECIFIED},
        NameCase{"CONSISTENCY_BOUNDED_STALENESS",
                 userservice::v1::CONSISTENCY_BOUNDED_STALENESS},
        NameCase{"consistency_eventual",
                 userservice::v1::CONSISTENCY_EVENTUAL}));

TEST(ParseConsistencyErrorTest, RejectsUnknownNamesAndListsValidOnes) {
  for (const char* name :
       {"", "strongest", "CONSISTENCY_", "4", "linearizable", "bound"}) {
    absl::StatusOr<Consistency> got = ParseConsistency(name);
    ASSERT_FALSE(got.ok()) << name;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(), HasSubstr("--consistency"));
    EXPECT_THAT(got.status().message(),
                HasSubstr("eventual, bounded_staleness (or bounded), session"));
  }
}

}  // namespace
}  // namespace userctl
