#include "client/userctl/command_parser.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/userctl/consistency.h"
#include "client/userctl/flag_values.h"
#include "client/userctl/invocation.h"
#include "client/userctl/update_request.h"
#include "client/userctl/usage.h"
#include "client/userctl/user_id.h"
#include "userservice/v1/user_service.pb.h"

namespace userctl {
namespace {

constexpr absl::string_view kDefaultAddr = "localhost:50051";
// ReadOptions takes consistency_token and up to 64 consistency_tokens.
constexpr size_t kMaxTokens = 1 + 64;
// BatchGetUsersRequest takes up to 1000 ids.
constexpr size_t kMaxBatchIds = 1000;

absl::Status CommandError(absl::string_view command,
                          absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(command, ": ", problem, " (usage: userctl ",
                   CommandSynopsis(command), ")"));
}

// Command flags are global absl flags, so nothing stops `get 5
// --page-size 3`; reject what a command does not use instead of silently
// ignoring it. (--all is not checked: it is on by default.)
absl::Status CheckCommandFlags(absl::string_view command,
                               const FlagValues& flags,
                               std::initializer_list<absl::string_view> used) {
  const std::pair<absl::string_view, bool> given[] = {
      {"username", flags.username.has_value()},
      {"email", flags.email.has_value()},
      {"request-id", flags.request_id.has_value()},
      {"page-size", flags.page_size.has_value()},
      {"page-token", flags.page_token.has_value()},
      {"expected-version", flags.expected_version.has_value()},
  };
  for (const auto& [name, is_given] : given) {
    if (!is_given) continue;
    bool is_used = false;
    for (absl::string_view used_name : used) is_used |= used_name == name;
    if (!is_used) {
      return CommandError(command,
                          absl::StrCat("flag --", name, " does not apply"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckArgCount(absl::string_view command,
                           absl::Span<const std::string> args, size_t max) {
  if (args.size() > max) {
    return CommandError(
        command, absl::StrCat("unexpected argument \"", args[max], "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ParseIdArg(absl::string_view command,
                                    absl::Span<const std::string> args) {
  if (args.empty()) return CommandError(command, "missing user ID");
  if (absl::Status status = CheckArgCount(command, args, 1); !status.ok()) {
    return status;
  }
  absl::StatusOr<uint64_t> id = ParseUserId(args[0]);
  if (!id.ok()) return CommandError(command, id.status().message());
  return id;
}

// `get`'s IDs: any number up to what one BatchGetUsers call takes.
absl::StatusOr<std::vector<uint64_t>> ParseIdArgs(
    absl::string_view command, absl::Span<const std::string> args) {
  if (args.size() > kMaxBatchIds) {
    return CommandError(
        command, absl::StrCat(args.size(), " IDs given, at most ", kMaxBatchIds,
                              " are accepted"));
  }
  std::vector<uint64_t> ids;
  for (const std::string& arg : args) {
    absl::StatusOr<uint64_t> id = ParseUserId(arg);
    if (!id.ok()) return CommandError(command, id.status().message());
    ids.push_back(*id);
  }
  return ids;
}

absl::StatusOr<GlobalOptions> ParseGlobalOptions(
    const FlagValues& flags, const std::optional<std::string>& env_addr) {
  GlobalOptions options;
  if (flags.addr.has_value() && !flags.addr->empty()) {
    options.addr = *flags.addr;
  } else if (env_addr.has_value() && !env_addr->empty()) {
    options.addr = *env_addr;
  } else {
    options.addr = std::string(kDefaultAddr);
  }

  if (flags.timeout <= absl::ZeroDuration() ||
      flags.timeout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --timeout \"", absl::FormatDuration(flags.timeout),
        "\": want a positive duration such as 5s"));
  }
  options.timeout = flags.timeout;

  const std::string format = absl::AsciiStrToLower(flags.format);
  if (format == "json") {
    options.format = OutputFormat::kJson;
  } else if (format == "table") {
    options.format = OutputFormat::kTable;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --format \"", flags.format, "\": want json or table"));
  }
  options.verbose = flags.verbose;
  options.x_request_id = flags.x_request_id;
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key: give both (mutual TLS) or neither");
  }
  options.tls_ca = flags.tls_ca;
  options.tls_cert = flags.tls_cert;
  options.tls_key = flags.tls_key;
  options.tls_server_name = flags.tls_server_name;
  return options;
}

// The tokens of every --token value: a consistency token is base64url
// after a version prefix, so it never holds a comma.
absl::StatusOr<std::vector<std::string>> SplitTokens(
    const std::vector<std::string>& values) {
  std::vector<std::string> tokens;
  for (const std::string& value : values) {
    for (absl::string_view token :
         absl::StrSplit(value, ',', absl::SkipWhitespace())) {
      tokens.emplace_back(absl::StripAsciiWhitespace(token));
    }
  }
  if (tokens.size() > kMaxTokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token: ", tokens.size(), " tokens given, at most ",
                     kMaxTokens, " are accepted"));
  }
  return tokens;
}

// Returns nullopt when every read flag is at its default, so requests then
// carry no read_options at all and the server applies its own default.
absl::StatusOr<std::optional<userservice::v1::ReadOptions>> ParseReadOptions(
    const FlagValues& flags) {
  absl::StatusOr<userservice::v1::Consistency> consistency =
      ParseConsistency(flags.consistency);
  if (!consistency.ok()) return consistency.status();

  userservice::v1::ReadOptions read_options;
  read_options.set_consistency(*consistency);
  absl::StatusOr<std::vector<std::string>> tokens = SplitTokens(flags.tokens);
  if (!tokens.ok()) return tokens.status();
  for (std::string& token : *tokens) {
    if (read_options.consistency_token().empty()) {
      read_options.set_consistency_token(std::move(token));
    } else {
      read_options.add_consistency_tokens(std::move(token));
    }
  }
  if (flags.max_staleness.has_value()) {
    const absl::Duration staleness = *flags.max_staleness;
    if (staleness < absl::ZeroDuration() ||
        staleness == absl::InfiniteDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid --max-staleness \"", absl::FormatDuration(staleness),
          "\": want a non-negative duration such as 10s"));
    }
    const int64_t seconds = absl::ToInt64Seconds(staleness);
    read_options.mutable_max_staleness()->set_seconds(seconds);
    read_options.mutable_max_staleness()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(staleness - absl::Seconds(seconds))));
  }
  if (read_options.ByteSizeLong() == 0) return std::nullopt;
  return read_options;
}

absl::StatusOr<Command> ParseCreate(absl::Span<const std::string> args,
                                    const FlagValues& flags) {
  constexpr absl::string_view kName = "create";
  if (absl::Status status =
          CheckCommandFlags(kName, flags, {"username", "email", "request-id"});
      !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckArgCount(kName, args, 0); !status.ok()) {
    return status;
  }
  if (!flags.username.has_value())
    return CommandError(kName, "missing --username");
  if (!flags.email.has_value()) return CommandError(kName, "missing --email");
  CreateCommand command;
  command.request.set_username(*flags.username);
  command.request.set_email(*flags.email);
  command.request.set_request_id(flags.request_id.value_or(""));
  return command;
}

absl::StatusOr<Command> ParseGet(
    absl::Span<const std::string> args, const FlagValues& flags,
    const std::optional<userservice::v1::ReadOptions>& read_options) {
  constexpr absl::string_view kName = "get";
  if (absl::Status status =
          CheckCommandFlags(kName, flags, {"username", "email"});
      !status.ok()) {
    return status;
  }
  const int key_kinds = static_cast<int>(!args.empty()) +
                        static_cast<int>(flags.username.has_value()) +
                        static_cast<int>(flags.email.has_value());
  if (key_kinds != 1) {
    // BatchGetUsers reads by id only, so names and emails go one at a time.
    return CommandError(kName,
                        "give one or more IDs, or exactly one of --username "
                        "or --email");
  }
  absl::StatusOr<std::vector<uint64_t>> ids = ParseIdArgs(kName, args);
  if (!ids.ok()) return ids.status();
  if (ids->size() > 1) {
    BatchGetCommand command;
    command.request.mutable_ids()->Add(ids->begin(), ids->end());
    if (read_options.has_value()) {
      *command.request.mutable_read_options() = *read_options;
    }
    return command;
  }
  GetCommand command;
  if (!ids->empty()) {
    command.request.set_id(ids->front());
  } else if (flags.username.has_value()) {
    command.request.set_username(*flags.username);
  } else {
    command.request.set_email(*flags.email);
  }
  if (read_options.has_value()) {
    *command.request.mutable_read_options() = *read_options;
  }
  return command;
}

absl::StatusOr<Command> ParseList(
    absl::Span<const std::string> args, const FlagValues& flags,
    const std::optional<userservice::v1::ReadOptions>& read_options) {
  constexpr absl::string_view kName = "list";
  if (absl::Status status =
          CheckCommandFlags(kName, flags, {"page-size", "page-token"});
      !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckArgCount(kName, args, 0); !status.ok()) {
    return status;
  }
  ListCommand command;
  command.request.set_page_size(flags.page_size.value_or(0));
  command.request.set_page_token(flags.page_token.value_or(""));
  if (read_options.has_value()) {
    *command.request.mutable_read_options() = *read_options;
  }
  // A given page token means "this page": looping from it would silently
  // turn a page request into "everything after here".
  command.all_pages = flags.all && !flags.page_token.has_value();
  return command;
}

absl::StatusOr<Command> ParseUpdate(absl::Span<const std::string> args,
                                    const FlagValues& flags) {
  constexpr absl::string_view kName = "update";
  if (absl::Status status = CheckCommandFlags(
          kName, flags, {"username", "email", "expected-version"});
      !status.ok()) {
    return status;
  }
  absl::StatusOr<uint64_t> id = ParseIdArg(kName, args);
  if (!id.ok()) return id.status();
  absl::StatusOr<userservice::v1::UpdateUserRequest> request =
      BuildUpdateUserRequest(*id, flags.username, flags.email,
                             flags.expected_version.value_or(0));
  if (!request.ok()) return CommandError(kName, request.status().message());
  return UpdateCommand{*std::move(request)};
}

absl::StatusOr<Command> ParseDelete(absl::Span<const std::string> args,
                                    const FlagValues& flags) {
  constexpr absl::string_view kName = "delete";
  if (absl::Status status =
          CheckCommandFlags(kName, flags, {"expected-version"});
      !status.ok()) {
    return status;
  }
  absl::StatusOr<uint64_t> id = ParseIdArg(kName, args);
  if (!id.ok()) return id.status();
  DeleteCommand command;
  command.request.set_id(*id);
  command.request.set_expected_version(flags.expected_version.value_or(0));
  return command;
}

absl::StatusOr<Command> ParseCommand(
    absl::Span<const std::string> args, const FlagValues& flags,
    const std::optional<userservice::v1::ReadOptions>& read_options) {
  if (args.empty()) return absl::InvalidArgumentError("missing command");
  const std::string& name = args[0];
  const absl::Span<const std::string> rest = args.subspan(1);
  if (name == "help") return HelpCommand{};
  if (name == "create") return ParseCreate(rest, flags);
  if (name == "get") return ParseGet(rest, flags, read_options);
  if (name == "list") return ParseList(rest, flags, read_options);
  if (name == "update") return ParseUpdate(rest, flags);
  if (name == "delete") return ParseDelete(rest, flags);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown command \"", name,
                   "\": want create, get, list, update, delete or help"));
}

}  // namespace

absl::StatusOr<Invocation> ParseInvocation(
    absl::Span<const std::string> args, const FlagValues& flags,
    const std::optional<std::string>& env_addr) {
  absl::StatusOr<GlobalOptions> options = ParseGlobalOptions(flags, env_addr);
  if (!options.ok()) return options.status();
  absl::StatusOr<std::optional<userservice::v1::ReadOptions>> read_options =
      ParseReadOptions(flags);
  if (!read_options.ok()) return read_options.status();
  absl::StatusOr<Command> command = ParseCommand(args, flags, *read_options);
  if (!command.ok()) return command.status();
  return Invocation{*std::move(options), *std::move(command)};
}

}  // namespace userctl
