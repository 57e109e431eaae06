#ifndef USERSERVICE_TESTS_INTEGRATION_APP_DATABASE_H_
#define USERSERVICE_TESTS_INTEGRATION_APP_DATABASE_H_

// The test cluster as the server sees it: its endpoints and the app user's
// connection settings, and the server's schema applied.

#include <memory>
#include <string>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/mysql/migrations.h"
#include "server/mysql/mysql_connection.h"
#include "server/repository/request_context.h"
#include "tests/support/test_cluster.h"

namespace userservice::mysql {

inline Endpoint EndpointFor(const std::string& name,
                            const std::string& address) {
  const size_t colon = address.rfind(':');
  return Endpoint{name, address.substr(0, colon),
                  std::stoi(address.substr(colon + 1))};
}

inline Endpoint PrimaryEndpoint() {
  return EndpointFor("primary", testing::TestCluster::Get().primary());
}

inline Endpoint ReplicaEndpoint(int i) {
  return EndpointFor(absl::StrCat("replica-", i),
                     testing::TestCluster::Get().replicas().at(i));
}

// The app user's settings; the password file is read on every connect, as
// the server does.
inline ConnectionSettings AppSettings() {
  testing::TestCluster& cluster = testing::TestCluster::Get();
  ConnectionSettings settings;
  settings.database = cluster.db_name();
  settings.user = cluster.db_user();
  const std::string password_file = cluster.password_file();
  settings.password = [password_file]() -> absl::StatusOr<std::string> {
    return testing::ReadFileOrDie(password_file);
  };
  return settings;
}

// Applies the server's migrations to the primary, as user_server would.
inline absl::Status MigrateAppSchema() {
  InitDriver();
  absl::StatusOr<std::unique_ptr<MysqlConnection>> conn = MysqlConnection::Open(
      PrimaryEndpoint(), AppSettings(), absl::Now() + absl::Seconds(10));
  if (!conn.ok()) return conn.status();
  return Migrate(**conn, absl::Now() + absl::Seconds(30)).status();
}

// A name no earlier test or run used.
inline std::string Unique(absl::string_view prefix) {
  static absl::BitGen gen;
  return absl::StrCat(prefix, absl::Uniform<uint32_t>(gen), "_",
                      absl::ToUnixMicros(absl::Now()) % 1000000);
}

inline RequestContext Within(absl::Duration d) {
  RequestContext ctx;
  ctx.deadline = absl::Now() + d;
  return ctx;
}

}  // namespace userservice::mysql

#endif  // USERSERVICE_TESTS_INTEGRATION_APP_DATABASE_H_
