#include "client/userctl/flags.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"

// Help strings are short: the usage text in usage.cc is the documentation.
// Command flags default to "not given" (see flag_values.h).

ABSL_FLAG(std::optional<std::string>, addr, std::nullopt,
          "Server address host:port (default: $USERCTL_ADDR, else "
          "localhost:50051).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Deadline of each RPC.");
ABSL_FLAG(std::string, format, "json", "Output format: json or table.");
ABSL_FLAG(std::string, consistency, "unspecified",
          "Read consistency: unspecified, eventual, bounded_staleness "
          "(bounded), session or strong.");
ABSL_FLAG(std::string, token, "",
          "consistency_token of an earlier write, for session reads.");
ABSL_FLAG(std::optional<absl::Duration>, max_staleness, std::nullopt,
          "Maximum data age for bounded_staleness reads.");
ABSL_FLAG(bool, verbose, false,
          "Print request-id, served-by and call duration of each RPC to "
          "stderr.");
ABSL_FLAG(std::string, x_request_id, "",
          "Sent as the x-request-id metadata of each RPC, so the calls can "
          "be found in the server's log; empty: the server makes one.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle to verify the server; turns TLS on.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate for mutual TLS (with --tls_key).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to expect in the server certificate; turns TLS on.");

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
          "Only change the user if its version matches (update, delete).");

namespace userctl {

FlagValues ReadFlagValues() {
  FlagValues values;
  values.addr = absl::GetFlag(FLAGS_addr);
  values.timeout = absl::GetFlag(FLAGS_timeout);
  values.format = absl::GetFlag(FLAGS_format);
  values.consistency = absl::GetFlag(FLAGS_consistency);
  values.token = absl::GetFlag(FLAGS_token);
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
