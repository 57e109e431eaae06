// The flags, their defaults and the config they make.

#include "server/app/config.h"

#include <stdlib.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/app/flags.h"
#include "server/common/command_line.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  ServerConfig Load(const std::vector<std::string>& args) {
    absl::StatusOr<cli::ParsedCommandLine> parsed =
        cli::ParseCommandLine(ServerCommandLine(), args);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    absl::StatusOr<ServerConfig> config = ConfigFromFlags();
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? *config : ServerConfig();
  }

  absl::FlagSaver saver_;  // every test starts from the defaults
};

// The binary's defaults and the options structs' (which unit tests use)
// are one and the same: the flags take theirs from a default ServerConfig.

TEST_F(ConfigTest, DefaultsOfEndpointsConnectionsAndPoolsAreTheFlagDefaults) {
  const ServerConfig config = Load({"--primary=db:3306"});
  const ServerConfig want;
  EXPECT_EQ(config.listen, want.listen);
  EXPECT_EQ(config.metrics_listen, want.metrics_listen);
  EXPECT_EQ(config.connection.database, want.connection.database);
  EXPECT_EQ(config.connection.user, want.connection.user);
  EXPECT_EQ(config.connection.connect_timeout, want.connection.connect_timeout);
  EXPECT_EQ(config.connection.socket_timeout, want.connection.socket_timeout);
  EXPECT_EQ(config.connection.tls.verify_server_identity,
            want.connection.tls.verify_server_identity);
  EXPECT_EQ(config.pool.max_size, want.pool.max_size);
  EXPECT_EQ(config.pool.acquire_timeout, want.pool.acquire_timeout);
  EXPECT_EQ(config.pool.max_lifetime, want.pool.max_lifetime);
  EXPECT_EQ(config.pool.idle_timeout, want.pool.idle_timeout);
  EXPECT_EQ(config.pool.validate_after_idle, want.pool.validate_after_idle);
  EXPECT_EQ(config.pool.max_opening, want.pool.max_opening);
}

TEST_F(ConfigTest, DefaultsOfHealthAndRoutingAreTheFlagDefaults) {
  const ServerConfig config = Load({"--primary=db:3306"});
  const ServerConfig want;
  EXPECT_EQ(config.checker.check_interval, want.checker.check_interval);
  EXPECT_EQ(config.checker.heartbeat_interval, want.checker.heartbeat_interval);
  EXPECT_EQ(config.check_timeout, want.check_timeout);
  EXPECT_EQ(config.health.eject_after_failures,
            want.health.eject_after_failures);
  EXPECT_EQ(config.health.readmit_after_successes,
            want.health.readmit_after_successes);
  EXPECT_EQ(config.health.max_eventual_lag, want.health.max_eventual_lag);
  EXPECT_EQ(config.health.lag_valid_for, want.health.lag_valid_for);
  EXPECT_EQ(config.health.heartbeat_interval, want.health.heartbeat_interval);
  EXPECT_EQ(config.router.session_wait, want.router.session_wait);
  EXPECT_EQ(config.router.max_fallback_reads, want.router.max_fallback_reads);
}

TEST_F(ConfigTest, DefaultsOfServiceAndThreadsAreTheFlagDefaults) {
  const ServerConfig config = Load({"--primary=db:3306"});
  const ServerConfig want;
  EXPECT_EQ(config.service.default_consistency,
            want.service.default_consistency);
  EXPECT_EQ(config.service.default_deadline, want.service.default_deadline);
  EXPECT_EQ(config.service.max_deadline, want.service.max_deadline);
  EXPECT_EQ(config.service.creates.write_workers,
            want.service.creates.write_workers);
  EXPECT_EQ(config.service.creates.write_batch_max,
            want.service.creates.write_batch_max);
  EXPECT_EQ(config.service.reads.lookup_workers,
            want.service.reads.lookup_workers);
  EXPECT_EQ(config.service.failure_warnings_per_second,
            want.service.failure_warnings_per_second);
  EXPECT_EQ(config.dispatcher.threads, want.dispatcher.threads);
  EXPECT_EQ(config.dispatcher.max_calls_per_wake,
            want.dispatcher.max_calls_per_wake);
  EXPECT_EQ(config.rpc_pollers, want.rpc_pollers);
  EXPECT_EQ(config.admin_service, want.admin_service);
}

TEST_F(ConfigTest, DefaultsOfLoggingAndLifecycleAreTheFlagDefaults) {
  const ServerConfig config = Load({"--primary=db:3306"});
  const ServerConfig want;
  EXPECT_EQ(config.log_level, want.log_level);
  EXPECT_EQ(config.call_log.enabled, want.call_log.enabled);
  EXPECT_EQ(config.call_log.level, want.call_log.level);
  EXPECT_EQ(config.call_log.sample_ok_every, want.call_log.sample_ok_every);
  EXPECT_EQ(config.call_log.failure_lines_per_second,
            want.call_log.failure_lines_per_second);
  EXPECT_EQ(config.call_log.endpoint_metadata_key,
            want.call_log.endpoint_metadata_key);
  EXPECT_EQ(config.shutdown_grace, want.shutdown_grace);
  EXPECT_EQ(config.request_id_retention, want.request_id_retention);
  EXPECT_EQ(config.migration.migrate, want.migration.migrate);
  EXPECT_EQ(config.migration.only, want.migration.only);
  EXPECT_EQ(config.migration.timeout, want.migration.timeout);
}

TEST_F(ConfigTest, DefaultsOfTheTopologyAreTheFlagDefaults) {
  const ServerConfig config = Load({"--primary=db:3306"});
  const ServerConfig want;
  EXPECT_EQ(config.topology.write_hold, want.topology.write_hold);
  EXPECT_EQ(config.topology.max_held_calls, want.topology.max_held_calls);
  EXPECT_EQ(config.hung_endpoint_timeout, want.hung_endpoint_timeout);
}

TEST_F(ConfigTest, PrimaryAndReplicasAreTheEndpointsInOrder) {
  const ServerConfig config =
      Load({"--primary=p:1", "--replicas=r:2,named=s:3"});
  ASSERT_EQ(config.databases.size(), 3u);
  EXPECT_EQ(config.databases[0].name, "primary");
  EXPECT_EQ(config.databases[1].name, "replica-0");
  EXPECT_EQ(config.databases[2].name, "named");
  EXPECT_EQ(config.databases[2].port, 3);
}

TEST_F(ConfigTest, DatabasesNeedNoRoles) {
  const ServerConfig config =
      Load({"--databases=db-a.svc:3306, db-b.svc:3306,x=10.0.0.9:3307"});
  ASSERT_EQ(config.databases.size(), 3u);
  EXPECT_EQ(config.databases[0].name, "db-0");
  EXPECT_EQ(config.databases[0].host, "db-a.svc");
  EXPECT_EQ(config.databases[1].name, "db-1");
  EXPECT_EQ(config.databases[2].name, "x");
}

TEST_F(ConfigTest, DefaultsOfTransportAreTheFlagDefaults) {
  const ServerConfig config = Load({"--primary=db:3306"});
  const ServerConfig want;
  EXPECT_EQ(config.tls.refresh_interval, want.tls.refresh_interval);
  EXPECT_EQ(config.limits.max_receive_message_bytes,
            want.limits.max_receive_message_bytes);
  EXPECT_EQ(config.limits.max_concurrent_streams,
            want.limits.max_concurrent_streams);
  EXPECT_EQ(config.limits.min_ping_interval, want.limits.min_ping_interval);
  EXPECT_EQ(config.limits.max_ping_strikes, want.limits.max_ping_strikes);
  EXPECT_EQ(config.limits.keepalive_time, want.limits.keepalive_time);
  EXPECT_EQ(config.limits.keepalive_timeout, want.limits.keepalive_timeout);
  EXPECT_EQ(config.limits.max_connection_age, want.limits.max_connection_age);
  EXPECT_EQ(config.limits.max_connection_age_grace,
            want.limits.max_connection_age_grace);
  EXPECT_EQ(config.limits.handshake_timeout, want.limits.handshake_timeout);
}

// A flag defined anywhere in the server but missing from the command line
// would be neither settable nor documented: every one must be listed.
TEST_F(ConfigTest, EveryServerFlagIsOnTheCommandLine) {
  const std::vector<const absl::CommandLineFlag*>& listed =
      ServerCommandLine().flags;
  int server_flags = 0;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::StrContains(flag->Filename(), "server/")) continue;
    ++server_flags;
    EXPECT_NE(std::find(listed.begin(), listed.end(), flag), listed.end())
        << "--" << cli::DashedFlagName(name) << " (defined in "
        << flag->Filename() << ") is missing from ServerCommandLine()";
  }
  EXPECT_EQ(server_flags, static_cast<int>(listed.size()));
}

// Where a flag is defined does not matter: each listed flag is set from its
// environment variable.
TEST_F(ConfigTest, EveryListedFlagIsSetFromTheEnvironment) {
  std::vector<std::string> set;
  for (const absl::CommandLineFlag* flag : ServerCommandLine().flags) {
    const std::string var = cli::EnvVarForFlag("USER_SERVICE_", flag->Name());
    setenv(var.c_str(), flag->DefaultValue().c_str(), 1);
    set.push_back(var);
  }
  setenv("USER_SERVICE_PRIMARY", "db:3306", 1);
  setenv("USER_SERVICE_POOL_SIZE", "7", 1);
  setenv("USER_SERVICE_MAX_EVENTUAL_LAG", "12s", 1);
  const ServerConfig config = Load({});
  for (const std::string& var : set) unsetenv(var.c_str());
  ASSERT_EQ(config.databases.size(), 1u);
  EXPECT_EQ(config.databases[0].host, "db");
  EXPECT_EQ(config.pool.max_size, 7);
  EXPECT_EQ(config.health.max_eventual_lag, absl::Seconds(12));
}

TEST_F(ConfigTest, CommandLineWinsOverEnvironment) {
  setenv("USER_SERVICE_POOL_SIZE", "7", 1);
  const ServerConfig config = Load({"--primary=db:1", "--pool-size=9"});
  unsetenv("USER_SERVICE_POOL_SIZE");
  EXPECT_EQ(config.pool.max_size, 9);
}

TEST_F(ConfigTest, HelpNamesTheReadinessServiceAndEveryFlag) {
  const std::string help = cli::HelpText(ServerCommandLine());
  EXPECT_THAT(help, HasSubstr("readiness as service \"" +
                              std::string(kReadinessServiceName) + "\""));
  for (const absl::CommandLineFlag* flag : ServerCommandLine().flags) {
    EXPECT_THAT(help,
                HasSubstr("--" + cli::DashedFlagName(flag->Name()) + "\n"));
  }
}

TEST_F(ConfigTest, MistakesNameTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "--primary"},
           {{"--primary=db:1", "--replicas=nohostport"}, "expected HOST:PORT"},
           {{"--primary=db:1", "--pool-size=0"}, "--pool-size"},
           {{"--primary=db:1", "--read-workers=0"}, "--read-workers"},
           {{"--primary=db:1", "--health-check-interval=0s"},
            "--health-check-interval"},
           {{"--primary=db:1", "--default-deadline=10m"}, "--max-deadline"},
           {{"--primary=db:1", "--default-consistency=fast"},
            "--default-consistency"},
           {{"--primary=db:1", "--log-level=loud"}, "--log-level"},
           {{"--primary=db:1", "--access-log-sample=0"}, "--access-log-sample"},
           {{"--primary=db:1", "--databases=a:1,b:2"}, "--databases"},
           {{"--databases=x=a:1,x=b:2"}, "\"x\""},
           {{"--databases=a:1", "--write-hold=-1s"}, "--write-hold"},
           {{"--databases=a:1", "--max-held-writes=-1"}, "--max-held-writes"},
           {{"--databases=a:1", "--hung-endpoint-timeout=600ms"},
            "--hung-endpoint-timeout"},
           {{"--databases=a:1", "--handshake-timeout=0s"},
            "--handshake-timeout"}}) {
    absl::FlagSaver saver;
    ASSERT_TRUE(cli::ParseCommandLine(ServerCommandLine(), c.args).ok());
    absl::StatusOr<ServerConfig> config = ConfigFromFlags();
    ASSERT_FALSE(config.ok()) << c.message;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(config.status().message(), HasSubstr(c.message));
  }
}

TEST_F(ConfigTest, ConsistencyNamesRoundTrip) {
  for (ReadConsistency c :
       {ReadConsistency::kEventual, ReadConsistency::kSession,
        ReadConsistency::kStrong}) {
    absl::StatusOr<ReadConsistency> parsed =
        ParseConsistency(ConsistencyName(c));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, c);
  }
  EXPECT_FALSE(ParseConsistency("bounded_staleness").ok());
}

}  // namespace
}  // namespace userservice
