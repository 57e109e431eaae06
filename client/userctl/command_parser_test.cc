#include "client/userctl/command_parser.h"

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/userctl/flag_values.h"
#include "client/userctl/invocation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Invocation> Parse(
    std::vector<std::string> args, const FlagValues& flags = {},
    const std::optional<std::string>& env_addr = std::nullopt) {
  return ParseInvocation(args, flags, env_addr);
}

// The message of a parse that must fail.
std::string Error(std::vector<std::string> args, const FlagValues& flags = {}) {
  absl::StatusOr<Invocation> invocation = Parse(std::move(args), flags);
  if (invocation.ok()) return "(parsed fine)";
  EXPECT_EQ(invocation.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(invocation.status().message());
}

template <typename T>
T CommandOf(const absl::StatusOr<Invocation>& invocation) {
  EXPECT_TRUE(invocation.ok()) << invocation.status();
  if (!invocation.ok()) return T();
  const T* command = std::get_if<T>(&invocation->command);
  EXPECT_NE(command, nullptr);
  return command == nullptr ? T() : *command;
}

TEST(GlobalOptionsTest, Defaults) {
  absl::StatusOr<Invocation> invocation = Parse({"list"});
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  EXPECT_EQ(invocation->options.addr, "localhost:50051");
  EXPECT_EQ(invocation->options.timeout, absl::Seconds(5));
  EXPECT_EQ(invocation->options.format, OutputFormat::kJson);
  EXPECT_FALSE(invocation->options.verbose);
}

TEST(GlobalOptionsTest, TlsFlagsArePassedOnAndCertNeedsKey) {
  FlagValues flags;
  flags.tls_ca = "ca.pem";
  flags.tls_server_name = "localhost";
  absl::StatusOr<Invocation> invocation = Parse({"list"}, flags);
  ASSERT_TRUE(invocation.ok()) << invocation.status();
  EXPECT_EQ(invocation->options.tls_ca, "ca.pem");
  EXPECT_EQ(invocation->options.tls_server_name, "localhost");
  flags.tls_cert = "client.pem";
  absl::StatusOr<Invocation> no_key = Parse({"list"}, flags);
  EXPECT_TRUE(absl::IsInvalidArgument(no_key.status()));
  EXPECT_THAT(std::string(no_key.status().message()),
              ::testing::HasSubstr("--tls-key"));
}

TEST(GlobalOptionsTest, AddrFlagBeatsEnvironmentBeatsDefault) {
  FlagValues flags;
  EXPECT_EQ(Parse({"list"}, flags, "env:1")->options.addr, "env:1");
  EXPECT_EQ(Parse({"list"}, flags, "")->options.addr, "localhost:50051");
  flags.addr.emplace("flag:2");
  EXPECT_EQ(Parse({"list"}, flags, "env:1")->options.addr, "flag:2");
}

TEST(GlobalOptionsTest, FormatIsCaseInsensitive) {
  FlagValues flags;
  flags.format = "TABLE";
  EXPECT_EQ(Parse({"list"}, flags)->options.format, OutputFormat::kTable);
  flags.format = "yaml";
  EXPECT_THAT(Error({"list"}, flags),
              HasSubstr("invalid --format \"yaml\": want json or table"));
}

TEST(GlobalOptionsTest, TimeoutMustBePositive) {
  FlagValues flags;
  flags.timeout = absl::ZeroDuration();
  EXPECT_THAT(Error({"list"}, flags), HasSubstr("invalid --timeout"));
  flags.timeout = absl::InfiniteDuration();
  EXPECT_THAT(Error({"list"}, flags), HasSubstr("invalid --timeout"));
  flags.timeout = absl::Milliseconds(250);
  EXPECT_EQ(Parse({"list"}, flags)->options.timeout, absl::Milliseconds(250));
}

TEST(CommandTest, MissingAndUnknownCommands) {
  EXPECT_EQ(Error({}), "missing command");
  EXPECT_THAT(Error({"frob"}), HasSubstr("unknown command \"frob\""));
  EXPECT_TRUE(std::holds_alternative<HelpCommand>(Parse({"help"})->command));
}

TEST(CreateTest, BuildsRequest) {
  FlagValues flags;
  flags.username.emplace("alice");
  flags.email.emplace("alice@example.com");
  flags.request_id.emplace("r-1");
  const CreateCommand command =
      CommandOf<CreateCommand>(Parse({"create"}, flags));
  EXPECT_EQ(command.request.username(), "alice");
  EXPECT_EQ(command.request.email(), "alice@example.com");
  EXPECT_EQ(command.request.request_id(), "r-1");
}

TEST(CreateTest, RequiresUsernameAndEmail) {
  FlagValues flags;
  flags.username.emplace("alice");
  EXPECT_EQ(Error({"create"}, flags),
            "create: missing --email (usage: userctl create --username U "
            "--email E [--request-id R])");
  flags.username.reset();
  flags.email.emplace("a@b");
  EXPECT_THAT(Error({"create"}, flags), HasSubstr("missing --username"));
  flags.username.emplace("alice");
  EXPECT_THAT(Error({"create", "5"}, flags),
              HasSubstr("unexpected argument \"5\""));
}

TEST(GetTest, ByIdWithoutReadOptions) {
  const GetCommand command = CommandOf<GetCommand>(Parse({"get", "42"}));
  EXPECT_EQ(command.request.id(), 42u);
  EXPECT_FALSE(command.request.has_read_options());
}

TEST(GetTest, ByUsernameOrEmail) {
  FlagValues flags;
  flags.username.emplace("Alice");
  EXPECT_EQ(CommandOf<GetCommand>(Parse({"get"}, flags)).request.username(),
            "Alice");
  flags.username.reset();
  flags.email.emplace("a@b");
  EXPECT_EQ(CommandOf<GetCommand>(Parse({"get"}, flags)).request.email(),
            "a@b");
}

TEST(GetTest, NeedsIdsOrExactlyOneOtherKey) {
  FlagValues flags;
  EXPECT_EQ(Error({"get"}, flags),
            "get: give one or more IDs, or exactly one of --username or "
            "--email (usage: userctl get ID [ID...] | get --username U | get "
            "--email E)");
  flags.username.emplace("alice");
  EXPECT_THAT(Error({"get", "1"}, flags), HasSubstr("one or more IDs"));
  EXPECT_THAT(Error({"get", "1", "2"}, flags), HasSubstr("one or more IDs"));
  flags.email.emplace("a@b");
  EXPECT_THAT(Error({"get"}, flags), HasSubstr("one or more IDs"));
}

TEST(GetTest, ValidatesEveryId) {
  EXPECT_THAT(Error({"get", "abc"}), HasSubstr("invalid user ID \"abc\""));
  EXPECT_THAT(Error({"get", "0"}), HasSubstr("invalid user ID \"0\""));
  EXPECT_THAT(Error({"get", "-3"}), HasSubstr("invalid user ID \"-3\""));
  EXPECT_THAT(Error({"get", "1", "2", "x"}),
              HasSubstr("invalid user ID \"x\""));
}

TEST(GetTest, SeveralIdsAreOneBatchInTheOrderGiven) {
  FlagValues flags;
  flags.consistency = "strong";
  const BatchGetCommand command =
      CommandOf<BatchGetCommand>(Parse({"get", "7", "3", "7"}, flags));
  EXPECT_THAT(command.request.ids(), ElementsAre(7u, 3u, 7u));
  EXPECT_EQ(command.request.read_options().consistency(),
            userservice::v1::CONSISTENCY_STRONG);
  EXPECT_FALSE(CommandOf<BatchGetCommand>(Parse({"get", "1", "2"}))
                   .request.has_read_options());
}

TEST(GetTest, AtMostAThousandIds) {
  std::vector<std::string> args = {"get"};
  for (int i = 1; i <= 1000; ++i) args.push_back(std::to_string(i));
  EXPECT_EQ(CommandOf<BatchGetCommand>(Parse(args)).request.ids_size(), 1000);
  args.push_back("1001");
  EXPECT_THAT(Error(args), HasSubstr("1001 IDs given, at most 1000"));
}

TEST(GetTest, CarriesReadOptions) {
  FlagValues flags;
  flags.consistency = "session";
  flags.tokens = {"tok"};
  flags.max_staleness = absl::Milliseconds(1500);
  const GetCommand command = CommandOf<GetCommand>(Parse({"get", "1"}, flags));
  const userservice::v1::ReadOptions& read = command.request.read_options();
  EXPECT_EQ(read.consistency(), userservice::v1::CONSISTENCY_SESSION);
  EXPECT_EQ(read.consistency_token(), "tok");
  EXPECT_THAT(read.consistency_tokens(), ElementsAre());
  EXPECT_EQ(read.max_staleness().seconds(), 1);
  EXPECT_EQ(read.max_staleness().nanos(), 500000000);
}

TEST(GetTest, FirstTokenAndTheRestGoToTheTwoFields) {
  FlagValues flags;
  flags.tokens = {"v1.a", " v1.b , v1.c,", "v1.d"};
  const userservice::v1::ReadOptions read =
      CommandOf<BatchGetCommand>(Parse({"get", "1", "2"}, flags))
          .request.read_options();
  EXPECT_EQ(read.consistency(), userservice::v1::CONSISTENCY_UNSPECIFIED);
  EXPECT_EQ(read.consistency_token(), "v1.a");
  EXPECT_THAT(read.consistency_tokens(), ElementsAre("v1.b", "v1.c", "v1.d"));
}

TEST(GetTest, AtMostSixtyFiveTokens) {
  FlagValues flags;
  for (int i = 0; i < 65; ++i) flags.tokens.push_back(absl::StrCat("v1.", i));
  EXPECT_EQ(CommandOf<GetCommand>(Parse({"get", "1"}, flags))
                .request.read_options()
                .consistency_tokens_size(),
            64);
  flags.tokens.push_back("v1.x");
  EXPECT_EQ(Error({"get", "1"}, flags),
            "--token: 66 tokens given, at most 65 are accepted");
}

TEST(GetTest, ZeroMaxStalenessIsStillSent) {
  FlagValues flags;
  flags.max_staleness = absl::ZeroDuration();
  const GetCommand command = CommandOf<GetCommand>(Parse({"get", "1"}, flags));
  EXPECT_TRUE(command.request.read_options().has_max_staleness());
}

TEST(GetTest, RejectsBadReadFlags) {
  FlagValues flags;
  flags.consistency = "linearizable";
  EXPECT_THAT(Error({"get", "1"}, flags), HasSubstr("invalid --consistency"));
  flags.consistency = "bounded";
  flags.max_staleness = absl::Seconds(-1);
  EXPECT_THAT(Error({"get", "1"}, flags), HasSubstr("invalid --max-staleness"));
}

TEST(GetTest, RejectsFlagsOfOtherCommands) {
  FlagValues flags;
  flags.page_size = 3;
  EXPECT_THAT(Error({"get", "1"}, flags),
              HasSubstr("get: flag --page-size does not apply"));
  flags = FlagValues();
  flags.expected_version = 3;
  EXPECT_THAT(Error({"get", "1"}, flags),
              HasSubstr("flag --expected-version does not apply"));
}

TEST(ListTest, AllPagesByDefault) {
  FlagValues flags;
  flags.consistency = "CONSISTENCY_STRONG";
  const ListCommand command = CommandOf<ListCommand>(Parse({"list"}, flags));
  EXPECT_TRUE(command.all_pages);
  EXPECT_EQ(command.request.page_size(), 0);
  EXPECT_EQ(command.request.page_token(), "");
  EXPECT_EQ(command.request.read_options().consistency(),
            userservice::v1::CONSISTENCY_STRONG);
}

TEST(ListTest, CarriesTokens) {
  FlagValues flags;
  flags.tokens = {"v1.a,v1.b"};
  const ListCommand command = CommandOf<ListCommand>(Parse({"list"}, flags));
  EXPECT_EQ(command.request.read_options().consistency_token(), "v1.a");
  EXPECT_THAT(command.request.read_options().consistency_tokens(),
              ElementsAre("v1.b"));
}

TEST(ListTest, OnePageWithPageTokenOrAllFalse) {
  FlagValues flags;
  flags.page_size = 10;
  flags.page_token.emplace("abc");
  ListCommand command = CommandOf<ListCommand>(Parse({"list"}, flags));
  EXPECT_FALSE(command.all_pages);
  EXPECT_EQ(command.request.page_size(), 10);
  EXPECT_EQ(command.request.page_token(), "abc");

  flags = FlagValues();
  flags.all = false;
  command = CommandOf<ListCommand>(Parse({"list"}, flags));
  EXPECT_FALSE(command.all_pages);
  EXPECT_EQ(command.request.page_token(), "");
}

TEST(ListTest, RejectsArgumentsAndForeignFlags) {
  EXPECT_THAT(Error({"list", "5"}), HasSubstr("unexpected argument \"5\""));
  FlagValues flags;
  flags.username.emplace("alice");
  EXPECT_THAT(Error({"list"}, flags),
              HasSubstr("list: flag --username does not apply"));
}

TEST(UpdateTest, MaskHoldsExactlyTheGivenFields) {
  FlagValues flags;
  flags.email.emplace("new@example.com");
  flags.expected_version = 4;
  const UpdateCommand command =
      CommandOf<UpdateCommand>(Parse({"update", "9"}, flags));
  EXPECT_EQ(command.request.user().id(), 9u);
  EXPECT_EQ(command.request.user().email(), "new@example.com");
  EXPECT_THAT(command.request.update_mask().paths(), ElementsAre("email"));
  EXPECT_EQ(command.request.expected_version(), 4);
}

TEST(UpdateTest, Errors) {
  FlagValues flags;
  EXPECT_EQ(Error({"update", "9"}, flags),
            "update: nothing to update: give --username and/or --email "
            "(usage: userctl update ID [--username U] [--email E] "
            "[--expected-version V])");
  flags.username.emplace("bob");
  EXPECT_THAT(Error({"update"}, flags), HasSubstr("update: missing user ID"));
  EXPECT_THAT(Error({"update", "x"}, flags), HasSubstr("invalid user ID"));
  EXPECT_THAT(Error({"update", "1", "2"}, flags),
              HasSubstr("unexpected argument"));
  flags.request_id.emplace("r");
  EXPECT_THAT(Error({"update", "1"}, flags),
              HasSubstr("flag --request-id does not apply"));
}

TEST(DeleteTest, BuildsRequest) {
  FlagValues flags;
  flags.expected_version = 2;
  const DeleteCommand command = CommandOf<DeleteCommand>(
      Parse({"delete", "18446744073709551615"}, flags));
  EXPECT_EQ(command.request.id(), 18446744073709551615u);
  EXPECT_EQ(command.request.expected_version(), 2);
  EXPECT_EQ(CommandOf<DeleteCommand>(Parse({"delete", "3"}))
                .request.expected_version(),
            0);
}

TEST(DeleteTest, Errors) {
  EXPECT_EQ(Error({"delete"}),
            "delete: missing user ID (usage: userctl delete ID "
            "[--expected-version V])");
  FlagValues flags;
  flags.email.emplace("a@b");
  EXPECT_THAT(Error({"delete", "3"}, flags),
              HasSubstr("flag --email does not apply"));
}

}  // namespace
}  // namespace userctl
