#include "client/userctl/usage.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/userctl/flags.h"
#include "server/common/command_line.h"

namespace userctl {
namespace {

struct CommandDoc {
  absl::string_view name;
  absl::string_view synopsis;
  absl::string_view description;  // Pre-indented, one or more lines.
};

constexpr CommandDoc kCommands[] = {
    {"create", "create --username U --email E [--request-id R]",
     "      Create a user. With --request-id a retry returns the user created\n"
     "      by the first call instead of failing with ALREADY_EXISTS.\n"},
    {"get", "get ID [ID...] | get --username U | get --email E",
     "      Read users by ID, or one user by username or email (matched\n"
     "      case-insensitively). Several IDs (at most 1000) are one\n"
     "      BatchGetUsers call: the users in the order given, a repeated ID\n"
     "      twice, and NOT_FOUND naming the missing IDs if any is missing.\n"
     "      --username and --email read one user per command.\n"},
    {"list", "list [--page-size N] [--page-token T] [--all=false]",
     "      List users by ascending ID. Fetches every page, each with its own\n"
     "      --timeout, unless --page-token is given or --all=false: then it\n"
     "      fetches one page and shows its next_page_token.\n"},
    {"update", "update ID [--username U] [--email E] [--expected-version V]",
     "      Change the given fields (at least one) of user ID.\n"},
    {"delete", "delete ID [--expected-version V]", "      Delete user ID.\n"},
    {"help", "help", "      Print this text (also -h, --help).\n"},
};

// Raw strings keep the text readable here exactly as users will see it.
constexpr absl::string_view kIntro =
    R"txt(userctl: command-line client for the userservice.v1.UserService API.

Usage: userctl [flags] COMMAND [args] [flags]
Flags may come before or after the command; "--" ends the flags.
Flags are spelled with dashes; underscores work too (--page_size).

Commands:
)txt";

constexpr absl::string_view kDetails =
    R"txt(
ID is a positive integer. With --expected-version V (update, delete) the
write fails with ABORTED unless the stored version is V; 0 means no check.

Every command but help prints the consistency_token of its response. A read
given it with --token (and --consistency unspecified or session) sees at
least what that call wrote or saw, on any server or replica. Tokens from
several calls: --token T1 --token T2, or --token T1,T2; the read reflects
all of them, and its own token covers them. list over all pages sends each
page's token with the next page's request, so later pages never show older
data, and prints the last one; it does not when neither --consistency nor
--token is given, so that every page keeps the server's default level.
)txt";

constexpr absl::string_view kEpilogue =
    R"txt(Output on stdout (--format=json|table):
  json   One JSON document indented by 2 spaces: the RPC response, i.e.
           create, update,
           get             {"user": {...}, "consistency_token": "..."}
           get ID ID...    {"users": [...], "consistency_token": "..."}
           delete          {"consistency_token": "..."}
           list, one page  {"users": [...], "next_page_token": "...",
                            "consistency_token": "..."}
         except that list over all pages prints
         {"users": [...], "consistency_token": "..."}.
         Proto3 JSON mapping with proto field names and default values
         included: a user has "id", "username", "email", "version",
         "create_time", "update_time"; id and version (64-bit) are strings,
         times are RFC 3339 UTC strings.
  table  Aligned columns ID USERNAME EMAIL VERSION CREATED UPDATED (UTC,
         whole seconds), then a line "consistency_token: T"; delete
         prints only that line; a list page with more to come adds
         "next_page_token: T" before it; an empty list prints the header
         and "(no users)".

Exit codes:
  0        success
  1        client-side failure (e.g. stdout could not be written)
  2        usage error, including no command; the problem is on stderr
  10+CODE  the RPC failed with gRPC status CODE; stderr shows
           "error: CODE_NAME: message". For example:
           13 INVALID_ARGUMENT    14 DEADLINE_EXCEEDED  15 NOT_FOUND
           16 ALREADY_EXISTS      18 RESOURCE_EXHAUSTED
           19 FAILED_PRECONDITION 20 ABORTED            24 UNAVAILABLE

Examples:
  userctl --format=table list
  userctl create --username alice --email alice@example.com
  userctl get --email alice@example.com --consistency=strong
  userctl get 42 43 44 --token "$TOKEN_A" --token "$TOKEN_B"
  userctl update 42 --email alice@example.org --expected-version 1
)txt";

}  // namespace

absl::string_view CommandSynopsis(absl::string_view command) {
  for (const CommandDoc& doc : kCommands) {
    if (doc.name == command) return doc.synopsis;
  }
  return "";
}

std::string UsageIntro() {
  std::string text(kIntro);
  for (const CommandDoc& doc : kCommands) {
    absl::StrAppend(&text, "  ", doc.synopsis, "\n", doc.description);
  }
  absl::StrAppend(&text, kDetails);
  return text;
}

std::string UsageEpilogue() { return std::string(kEpilogue); }

std::string UsageText() {
  return userservice::cli::HelpText(UserctlCommandLine());
}

}  // namespace userctl
