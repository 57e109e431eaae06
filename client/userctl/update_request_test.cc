#include "client/userctl/update_request.h"

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(BuildUpdateUserRequestTest, UsernameOnly) {
  absl::StatusOr<userservice::v1::UpdateUserRequest> request =
      BuildUpdateUserRequest(7, "alice", std::nullopt, 0);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->user().id(), 7u);
  EXPECT_EQ(request->user().username(), "alice");
  EXPECT_THAT(request->user().email(), IsEmpty());
  EXPECT_THAT(request->update_mask().paths(), ElementsAre("username"));
  EXPECT_EQ(request->expected_version(), 0);
}

TEST(BuildUpdateUserRequestTest, EmailOnly) {
  absl::StatusOr<userservice::v1::UpdateUserRequest> request =
      BuildUpdateUserRequest(7, std::nullopt, "a@example.com", 3);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(request->user().username(), IsEmpty());
  EXPECT_EQ(request->user().email(), "a@example.com");
  EXPECT_THAT(request->update_mask().paths(), ElementsAre("email"));
  EXPECT_EQ(request->expected_version(), 3);
}

TEST(BuildUpdateUserRequestTest, BothFields) {
  absl::StatusOr<userservice::v1::UpdateUserRequest> request =
      BuildUpdateUserRequest(9, "bob", "bob@example.com", 0);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->user().username(), "bob");
  EXPECT_EQ(request->user().email(), "bob@example.com");
  EXPECT_THAT(request->update_mask().paths(), ElementsAre("username", "email"));
}

TEST(BuildUpdateUserRequestTest, AGivenEmptyValueIsStillInTheMask) {
  // The server, not userctl, decides whether an empty username is valid.
  absl::StatusOr<userservice::v1::UpdateUserRequest> request =
      BuildUpdateUserRequest(9, std::string(), std::nullopt, 0);
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_THAT(request->update_mask().paths(), ElementsAre("username"));
}

TEST(BuildUpdateUserRequestTest, NoFieldsIsAnError) {
  absl::StatusOr<userservice::v1::UpdateUserRequest> request =
      BuildUpdateUserRequest(9, std::nullopt, std::nullopt, 1);
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace userctl
