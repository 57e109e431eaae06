#include "client/userctl/json_output.h"

#include <string>

#include "client/userctl/json_indent.h"
#include "gmock/gmock.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(IndentJsonTest, IndentsNestedContainers) {
  EXPECT_EQ(IndentJson(R"({"a":1,"b":[true,{"c":null}]})"),
            "{\n"
            "  \"a\": 1,\n"
            "  \"b\": [\n"
            "    true,\n"
            "    {\n"
            "      \"c\": null\n"
            "    }\n"
            "  ]\n"
            "}");
}

TEST(IndentJsonTest, KeepsEmptyContainersOnOneLine) {
  EXPECT_EQ(IndentJson(R"({"users":[],"o":{ }})"),
            "{\n  \"users\": [],\n  \"o\": {}\n}");
  EXPECT_EQ(IndentJson("{}"), "{}");
}

TEST(IndentJsonTest, LeavesStringsAlone) {
  EXPECT_EQ(IndentJson(R"({"k":"a,b:{c}[d] \"q\" \\"})"),
            "{\n  \"k\": \"a,b:{c}[d] \\\"q\\\" \\\\\"\n}");
}

TEST(IndentJsonTest, IgnoresExistingWhitespace) {
  EXPECT_EQ(IndentJson("{\n \"a\" : [ 1 , 2 ]\n}"),
            "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
}

userservice::v1::User SampleUser() {
  userservice::v1::User user;
  user.set_id(42);
  user.set_username("alice");
  user.set_email("alice@example.com");
  user.set_version(1);
  user.mutable_create_time()->set_seconds(1700000000);
  user.mutable_create_time()->set_nanos(123456000);
  *user.mutable_update_time() = user.create_time();
  return user;
}

TEST(MessageToJsonTest, ProtoFieldNamesAllFieldsAndTrailingNewline) {
  userservice::v1::CreateUserResponse response;
  *response.mutable_user() = SampleUser();
  absl::StatusOr<std::string> json = MessageToJson(response);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json,
            "{\n"
            "  \"user\": {\n"
            "    \"id\": \"42\",\n"
            "    \"username\": \"alice\",\n"
            "    \"email\": \"alice@example.com\",\n"
            "    \"version\": \"1\",\n"
            "    \"create_time\": \"2023-11-14T22:13:20.123456Z\",\n"
            "    \"update_time\": \"2023-11-14T22:13:20.123456Z\"\n"
            "  },\n"
            "  \"consistency_token\": \"\"\n"
            "}\n");
}

TEST(MessageToJsonTest, OnePageKeepsNextPageToken) {
  userservice::v1::ListUsersResponse response;
  absl::StatusOr<std::string> json = MessageToJson(response);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json,
            "{\n  \"users\": [],\n  \"next_page_token\": \"\",\n"
            "  \"consistency_token\": \"\"\n}\n");
}

TEST(UsersToJsonTest, EmptyList) {
  absl::StatusOr<std::string> json = UsersToJson({}, "v1.tok");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json,
            "{\n  \"users\": [],\n  \"consistency_token\": \"v1.tok\"\n}\n");
}

TEST(UsersToJsonTest, EscapesTheToken) {
  absl::StatusOr<std::string> json = UsersToJson({}, "a\"b\\c");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"consistency_token\": \"a\\\"b\\\\c\"\n"));
}

TEST(UsersToJsonTest, ParsesBackAsAListWithoutPageToken) {
  google::protobuf::RepeatedPtrField<userservice::v1::User> users;
  *users.Add() = SampleUser();
  *users.Add() = SampleUser();
  users.Mutable(1)->set_id(43);
  absl::StatusOr<std::string> json = UsersToJson(users, "v1.tok");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, Not(HasSubstr("next_page_token")));
  EXPECT_THAT(*json, HasSubstr("\n    {\n      \"id\": \"43\",\n"));

  userservice::v1::ListUsersResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &parsed).ok());
  ASSERT_EQ(parsed.users_size(), 2);
  EXPECT_EQ(parsed.users(0).id(), 42u);
  EXPECT_EQ(parsed.users(1).id(), 43u);
  EXPECT_EQ(parsed.users(1).create_time().nanos(), 123456000);
  EXPECT_EQ(parsed.consistency_token(), "v1.tok");
}

}  // namespace
}  // namespace userctl
