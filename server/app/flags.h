#ifndef USERSERVICE_SERVER_APP_FLAGS_H_
#define USERSERVICE_SERVER_APP_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"
#include "absl/time/time.h"
#include "server/common/command_line.h"

// user_server's flags. Every one is listed in ServerCommandLine(), which is
// what --help, the USER_SERVICE_* environment variables and the parser use:
// a flag defined anywhere but not listed there is not accepted (and
// config_test.cc fails).

ABSL_DECLARE_FLAG(std::string, listen);
ABSL_DECLARE_FLAG(std::string, primary);
ABSL_DECLARE_FLAG(std::string, replicas);
ABSL_DECLARE_FLAG(std::string, databases);
ABSL_DECLARE_FLAG(absl::Duration, write_hold);
ABSL_DECLARE_FLAG(int, max_held_writes);
ABSL_DECLARE_FLAG(absl::Duration, hung_endpoint_timeout);
ABSL_DECLARE_FLAG(std::string, db_name);
ABSL_DECLARE_FLAG(std::string, db_user);
ABSL_DECLARE_FLAG(std::string, db_password_file);
ABSL_DECLARE_FLAG(int, pool_size);
ABSL_DECLARE_FLAG(absl::Duration, pool_acquire_timeout);
ABSL_DECLARE_FLAG(absl::Duration, connect_timeout);
ABSL_DECLARE_FLAG(absl::Duration, db_socket_timeout);
ABSL_DECLARE_FLAG(std::string, default_consistency);
ABSL_DECLARE_FLAG(absl::Duration, session_wait);
ABSL_DECLARE_FLAG(absl::Duration, default_deadline);
ABSL_DECLARE_FLAG(absl::Duration, shutdown_grace);
ABSL_DECLARE_FLAG(bool, migrate);
ABSL_DECLARE_FLAG(bool, migrate_only);
ABSL_DECLARE_FLAG(absl::Duration, migrate_timeout);
ABSL_DECLARE_FLAG(absl::Duration, pool_max_lifetime);
ABSL_DECLARE_FLAG(absl::Duration, pool_idle_timeout);
ABSL_DECLARE_FLAG(absl::Duration, pool_validate_after);
ABSL_DECLARE_FLAG(int, pool_max_opening);
ABSL_DECLARE_FLAG(absl::Duration, health_check_interval);
ABSL_DECLARE_FLAG(absl::Duration, health_check_timeout);
ABSL_DECLARE_FLAG(absl::Duration, heartbeat_interval);
ABSL_DECLARE_FLAG(int, eject_after);
ABSL_DECLARE_FLAG(int, readmit_after);
ABSL_DECLARE_FLAG(absl::Duration, max_eventual_lag);
ABSL_DECLARE_FLAG(int, max_fallback_reads);
ABSL_DECLARE_FLAG(int, read_workers);
ABSL_DECLARE_FLAG(int, read_batch_max);
ABSL_DECLARE_FLAG(int, write_workers);
ABSL_DECLARE_FLAG(int, write_batch_max);
ABSL_DECLARE_FLAG(int, lookup_workers);
ABSL_DECLARE_FLAG(absl::Duration, request_id_retention);
ABSL_DECLARE_FLAG(int, rpc_pollers);
ABSL_DECLARE_FLAG(bool, admin_service);
ABSL_DECLARE_FLAG(std::string, metrics_listen);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_client_ca);
ABSL_DECLARE_FLAG(absl::Duration, tls_refresh_interval);
ABSL_DECLARE_FLAG(std::string, db_tls_ca);
ABSL_DECLARE_FLAG(std::string, db_tls_cert);
ABSL_DECLARE_FLAG(std::string, db_tls_key);
ABSL_DECLARE_FLAG(bool, db_tls_verify_server_identity);
ABSL_DECLARE_FLAG(int, max_receive_message_size);
ABSL_DECLARE_FLAG(int, max_concurrent_streams);
ABSL_DECLARE_FLAG(absl::Duration, keepalive_min_ping_interval);
ABSL_DECLARE_FLAG(int, keepalive_max_ping_strikes);
ABSL_DECLARE_FLAG(absl::Duration, keepalive_time);
ABSL_DECLARE_FLAG(absl::Duration, keepalive_timeout);
ABSL_DECLARE_FLAG(absl::Duration, max_connection_age);
ABSL_DECLARE_FLAG(absl::Duration, max_connection_age_grace);
ABSL_DECLARE_FLAG(absl::Duration, handshake_timeout);
ABSL_DECLARE_FLAG(absl::Duration, max_deadline);
ABSL_DECLARE_FLAG(std::string, log_level);
ABSL_DECLARE_FLAG(std::string, access_log_level);
ABSL_DECLARE_FLAG(int, access_log_sample);
ABSL_DECLARE_FLAG(int, failure_log_limit);

namespace userservice {

// user_server's command line: its usage text, USER_SERVICE_ environment
// prefix and every flag above.
const cli::CommandLineSpec& ServerCommandLine();

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_FLAGS_H_
