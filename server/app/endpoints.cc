#include "server/app/endpoints.h"

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace userservice {

absl::StatusOr<mysql::Endpoint> ParseEndpoint(absl::string_view name,
                                              absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "database endpoint ", name, " \"", text, "\": ", why,
        " (expected HOST:PORT, e.g. 127.0.0.1:3306 or db-0.db:3306)"));
  };
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return invalid("no port");
  absl::string_view host = text.substr(0, colon);
  absl::string_view port_text = text.substr(colon + 1);
  const bool bracketed = absl::ConsumePrefix(&host, "[");
  if (bracketed && !absl::ConsumeSuffix(&host, "]")) {
    return invalid("unbalanced brackets");
  }
  if (!bracketed && absl::StrContains(host, ':')) {
    return invalid("IPv6 addresses must be written as [addr]:port");
  }
  if (host.empty()) return invalid("no host");
  int port;
  if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
    return invalid("port must be a number from 1 to 65535");
  }
  return mysql::Endpoint{std::string(name), std::string(host), port};
}

namespace {

bool ValidName(absl::string_view name) {
  return !name.empty() && name.size() <= 63 && absl::c_all_of(name, [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == '_' || c == '.';
  });
}

// Entries "HOST:PORT" or "NAME=HOST:PORT" of a comma-separated list named
// by `flag`; unnamed ones are called `prefix`<index>.
absl::StatusOr<std::vector<mysql::Endpoint>> ParseEndpointList(
    absl::string_view flag, absl::string_view text, absl::string_view prefix,
    absl::flat_hash_set<std::string> names) {
  std::vector<mysql::Endpoint> endpoints;
  for (absl::string_view entry :
       absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    std::string name = absl::StrCat(prefix, endpoints.size());
    const size_t equals = entry.find('=');
    if (equals != absl::string_view::npos) {
      name = std::string(absl::StripAsciiWhitespace(entry.substr(0, equals)));
      entry = entry.substr(equals + 1);
      if (!ValidName(name)) {
        return absl::InvalidArgumentError(absl::StrCat(
            flag, ": endpoint name \"", name,
            "\" must be 1-63 characters of letters, digits, '-', '_', '.'"));
      }
    }
    if (!names.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, ": endpoint name \"", name, "\" is used twice"));
    }
    absl::StatusOr<mysql::Endpoint> endpoint = ParseEndpoint(name, entry);
    if (!endpoint.ok()) return endpoint.status();
    endpoints.push_back(*std::move(endpoint));
  }
  return endpoints;
}

}  // namespace

absl::StatusOr<std::vector<mysql::Endpoint>> ParseReplicas(
    absl::string_view text) {
  return ParseEndpointList("--replicas", text, "replica-", {"primary"});
}

absl::StatusOr<std::vector<mysql::Endpoint>> ParseDatabases(
    absl::string_view text) {
  return ParseEndpointList("--databases", text, "db-", {});
}

}  // namespace userservice
