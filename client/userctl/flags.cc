#include "client/userctl/flags.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/userctl/usage.h"
#include "server/common/command_line.h"

namespace userctl {
namespace {

// Abseil keeps only the last value of a flag given twice; --token keeps
// every value given, so that `--token A --token B` sends both. Filled by the
// flag's update callback, emptied before each parse.
class TokenValues {
 public:
  void Add(std::string value) {
    // The callback also runs when the flag is registered or restored to its
    // default; an empty value names no token either way.
    if (value.empty()) return;
    absl::MutexLock lock(&mu_);
    values_.push_back(std::move(value));
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    values_.clear();
  }
  std::vector<std::string> Get() {
    absl::MutexLock lock(&mu_);
    return values_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> values_ ABSL_GUARDED_BY(mu_);
};

TokenValues& GivenTokens() {
  static TokenValues* const values = new TokenValues;
  return *values;
}

}  // namespace
}  // namespace userctl

// These help strings are the flags' part of `userctl help`: each line fits
// in 80 columns once HelpText indents it by 6. Command flags default to
// "not given" (see flag_values.h).

ABSL_FLAG(std::optional<std::string>, addr, std::nullopt,
          "Server address HOST:PORT (default: $USERCTL_ADDR if set, else\n"
          "localhost:50051).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5),
          "Deadline of each RPC, e.g. 500ms, 10s.");
ABSL_FLAG(std::string, format, "json", "Output format: json or table.");
ABSL_FLAG(std::string, consistency, "unspecified",
          "For reads: unspecified (the server's default), eventual,\n"
          "bounded_staleness (or bounded), session, strong; CONSISTENCY_*\n"
          "names work too; any case.");
ABSL_FLAG(std::string, token, "",
          "For reads: a consistency_token from an earlier call (a write or a\n"
          "read); the read sees at least what that call wrote or saw. Several\n"
          "(from different calls): repeat the flag or separate them with\n"
          "commas; the read reflects all of them.")
    .OnUpdate([] { userctl::GivenTokens().Add(absl::GetFlag(FLAGS_token)); });
ABSL_FLAG(std::optional<absl::Duration>, max_staleness, std::nullopt,
          "For reads: maximum data age with --consistency=bounded_staleness\n"
          "(sent only when given).");
ABSL_FLAG(bool, verbose, false,
          "Print \"request-id: ID\" (the server's id for the call, in its\n"
          "log), \"served-by: ENDPOINT\" (reads) and \"duration: D\" of each\n"
          "RPC to stderr.");
ABSL_FLAG(std::string, x_request_id, "",
          "Sent as the x-request-id of each RPC, to find the calls in the\n"
          "server's log (empty: the server makes one; --verbose prints it).");
ABSL_FLAG(std::string, tls_ca, "",
          "TLS: verify the server with this PEM CA bundle (any --tls-* flag\n"
          "turns TLS on; without --tls-ca the system's roots are used).");
ABSL_FLAG(std::string, tls_cert, "",
          "Mutual TLS: PEM client certificate (with --tls-key).");
ABSL_FLAG(std::string, tls_key, "",
          "Mutual TLS: PEM private key of --tls-cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name the server certificate must carry, when it is not the host\n"
          "in --addr; turns TLS on.");

ABSL_FLAG(std::optional<std::string>, username, std::nullopt,
          "Username (create, get, update).");
ABSL_FLAG(std::optional<std::string>, email, std::nullopt,
          "Email (create, get, update).");
ABSL_FLAG(std::optional<std::string>, request_id, std::nullopt,
          "Idempotency key (create).");
ABSL_FLAG(std::optional<int32_t>, page_size, std::nullopt,
          "Users per page (list).");
ABSL_FLAG(std::optional<std::string>, page_token, std::nullopt,
          "Fetch only the page starting at this token (list).");
ABSL_FLAG(bool, all, true, "Fetch every page (list).");
ABSL_FLAG(std::optional<int64_t>, expected_version, std::nullopt,
          "Only change the user if its version matches; 0 means no check\n"
          "(update, delete).");

namespace userctl {

const userservice::cli::CommandLineSpec& UserctlCommandLine() {
  namespace cli = userservice::cli;
  using cli::Flag;
  static const cli::CommandLineSpec* const spec = new cli::CommandLineSpec{
      "userctl",
      UsageIntro(),
      /*env_prefix=*/"",
      {Flag(FLAGS_addr), Flag(FLAGS_timeout), Flag(FLAGS_format),
       Flag(FLAGS_consistency), Flag(FLAGS_token), Flag(FLAGS_max_staleness),
       Flag(FLAGS_verbose), Flag(FLAGS_x_request_id), Flag(FLAGS_tls_ca),
       Flag(FLAGS_tls_cert), Flag(FLAGS_tls_key), Flag(FLAGS_tls_server_name),
       Flag(FLAGS_username), Flag(FLAGS_email), Flag(FLAGS_request_id),
       Flag(FLAGS_page_size), Flag(FLAGS_page_token), Flag(FLAGS_all),
       Flag(FLAGS_expected_version)},
      /*positional_allowed=*/true,
      /*help_command=*/"userctl help",
      UsageEpilogue()};
  return *spec;
}

absl::StatusOr<userservice::cli::ParsedCommandLine> ParseUserctlCommandLine(
    absl::Span<const std::string> args) {
  GivenTokens().Clear();
  return userservice::cli::ParseCommandLine(UserctlCommandLine(), args);
}

FlagValues ReadFlagValues() {
  FlagValues values;
  values.addr = absl::GetFlag(FLAGS_addr);
  values.timeout = absl::GetFlag(FLAGS_timeout);
  values.format = absl::GetFlag(FLAGS_format);
  values.consistency = absl::GetFlag(FLAGS_consistency);
  values.tokens = GivenTokens().Get();
  values.max_staleness = absl::GetFlag(FLAGS_max_staleness);
  values.verbose = absl::GetFlag(FLAGS_verbose);
  values.x_request_id = absl::GetFlag(FLAGS_x_request_id);
  values.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  values.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  values.tls_key = absl::GetFlag(FLAGS_tls_key);
  values.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  values.username = absl::GetFlag(FLAGS_username);
  values.email = absl::GetFlag(FLAGS_email);
  values.request_id = absl::GetFlag(FLAGS_request_id);
  values.page_size = absl::GetFlag(FLAGS_page_size);
  values.page_token = absl::GetFlag(FLAGS_page_token);
  values.all = absl::GetFlag(FLAGS_all);
  values.expected_version = absl::GetFlag(FLAGS_expected_version);
  return values;
}

}  // namespace userctl
