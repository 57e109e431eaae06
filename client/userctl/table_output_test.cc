#include "client/userctl/table_output.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "gtest/gtest.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {
namespace {

using ::userservice::v1::User;

User MakeUser(uint64_t id, const std::string& username,
              const std::string& email, int64_t version, int64_t created,
              int64_t updated) {
  User user;
  user.set_id(id);
  user.set_username(username);
  user.set_email(email);
  user.set_version(version);
  user.mutable_create_time()->set_seconds(created);
  user.mutable_create_time()->set_nanos(123456000);
  user.mutable_update_time()->set_seconds(updated);
  return user;
}

TEST(FormatTimestampTest, Rfc3339UtcToTheSecond) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(1700000000);
  timestamp.set_nanos(999999000);
  EXPECT_EQ(FormatTimestamp(timestamp), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatTimestamp(google::protobuf::Timestamp()),
            "1970-01-01T00:00:00Z");
}

TEST(FormatUserTableTest, AlignsColumnsUnderTheHeader) {
  google::protobuf::RepeatedPtrField<User> users;
  *users.Add() =
      MakeUser(1, "alice", "alice@example.com", 1, 1700000000, 1700000000);
  *users.Add() = MakeUser(12345, "bo", "b@x.io", 10, 1700000001, 1700086400);
  EXPECT_EQ(FormatUserTable(users),
            "ID     USERNAME  EMAIL              VERSION  CREATED          "
            "     UPDATED\n"
            "1      alice     alice@example.com  1        "
            "2023-11-14T22:13:20Z  2023-11-14T22:13:20Z\n"
            "12345  bo        b@x.io             10       "
            "2023-11-14T22:13:21Z  2023-11-15T22:13:20Z\n");
}

TEST(FormatUserTableTest, EmptyListPrintsHeaderAndNoUsers) {
  EXPECT_EQ(FormatUserTable({}),
            "ID  USERNAME  EMAIL  VERSION  CREATED  UPDATED\n"
            "(no users)\n");
}

TEST(FormatUserTableTest, UnsetTimesShowAsDash) {
  google::protobuf::RepeatedPtrField<User> users;
  User* user = users.Add();
  user->set_id(3);
  user->set_username("carol");
  user->set_email("c@example.com");
  user->set_version(2);
  EXPECT_EQ(FormatUserTable(users),
            "ID  USERNAME  EMAIL          VERSION  CREATED  UPDATED\n"
            "3   carol     c@example.com  2        -        -\n");
}

TEST(FormatUserTableTest, CountsUtf8CharactersNotBytes) {
  google::protobuf::RepeatedPtrField<User> users;
  *users.Add() = MakeUser(1, "jose", "jos\xC3\xA9@example.com", 1, 0, 0);
  *users.Add() = MakeUser(2, "ann", "ann@example.com", 1, 0, 0);
  const std::string table = FormatUserTable(users);
  // Both VERSION cells start at the same character column.
  EXPECT_THAT(table, ::testing::HasSubstr("jos\xC3\xA9@example.com  1"));
  EXPECT_THAT(table, ::testing::HasSubstr("ann@example.com   1"));
}

TEST(FormatUserTableTest, NoTrailingSpaces) {
  google::protobuf::RepeatedPtrField<User> users;
  *users.Add() = MakeUser(1, "a", "a@b", 1, 0, 0);
  for (const auto& line : {FormatUserTable(users), FormatUserTable({})}) {
    EXPECT_THAT(line, ::testing::Not(::testing::HasSubstr(" \n")));
  }
}

}  // namespace
}  // namespace userctl
