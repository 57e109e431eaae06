#ifndef USERSERVICE_SERVER_APP_ENDPOINTS_H_
#define USERSERVICE_SERVER_APP_ENDPOINTS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/mysql/mysql_connection.h"

namespace userservice {

// "HOST:PORT" ("[v6addr]:PORT" for IPv6) as an endpoint called `name`.
absl::StatusOr<mysql::Endpoint> ParseEndpoint(absl::string_view name,
                                              absl::string_view text);

// A comma-separated --replicas value. Each entry is "HOST:PORT" or
// "NAME=HOST:PORT"; unnamed replicas are called replica-<index> after
// their position in the list. Names must be unique and not "primary".
absl::StatusOr<std::vector<mysql::Endpoint>> ParseReplicas(
    absl::string_view text);

// A comma-separated --databases value: every endpoint of the replication
// cluster, with no role (the server elects the writer). Entries as for
// --replicas; unnamed ones are called db-<index>.
absl::StatusOr<std::vector<mysql::Endpoint>> ParseDatabases(
    absl::string_view text);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_ENDPOINTS_H_
