// TLS to the database, against a private single-node MariaDB that serves
// TLS (deploy/local/cluster.sh --tls-dir) and users that require it.

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cppconn/connection.h"
#include "cppconn/resultset.h"
#include "cppconn/statement.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/mysql/mysql_connection.h"
#include "server/mysql/sql_status.h"
#include "tests/support/process.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_cluster.h"
#include "userservice/v1/user_service.grpc.pb.h"

namespace userservice::testing {
namespace {

constexpr char kTlsUser[] = "tls_user";    // REQUIRE SSL
constexpr char kX509User[] = "x509_user";  // REQUIRE X509: a client cert
constexpr char kPassword[] = "tls-Pw-1";
// tests/run.sh exports the shared cluster's CLUSTER_* settings, which would
// otherwise apply to this private one.
constexpr char kClusterEnv[] =
    "env -u CLUSTER_DIR -u CLUSTER_BASE_PORT -u CLUSTER_REPLICAS -u "
    "CLUSTER_TLS_DIR";

class DbTlsTest : public ::testing::Test {
 protected:
  // Setup errors are kept and reported by SetUp: a fatal failure in
  // SetUpTestSuite would make gtest (and so CTest) report the tests as
  // skipped instead of failed.
  static void SetUpTestSuite() {
    mysql::InitDriver();
    dir_ = new std::string(
        absl::StrCat(::testing::TempDir(), "/db_tls-", getpid()));
    password_file_ = new std::string(*dir_ + "/password");
    setup_ = new absl::Status(StartDatabase());
  }

  void SetUp() override { ASSERT_TRUE(setup_->ok()) << *setup_; }

  static absl::Status StartDatabase() {
    absl::Status made = MakeTestCertificates(*dir_ + "/certs");
    if (!made.ok()) return made;
    port_ = FreePort();
    // With system(), not RunCommand: the mariadbd that start leaves running
    // would inherit RunCommand's output pipes and hold them open until its
    // timeout.
    const std::string log = *dir_ + "/cluster-start.log";
    const int started = std::system(
        absl::StrCat(kClusterEnv, " CLUSTER_START_TIMEOUT=120 '", SourceDir(),
                     "/deploy/local/cluster.sh' --dir '", *dir_,
                     "/cluster' --base-port ", port_,
                     " --replicas 0 --tls-dir '", *dir_, "/certs' start >'",
                     log, "' 2>&1")
            .c_str());
    if (started != 0) {
      return absl::InternalError("cluster.sh start failed:\n" +
                                 ReadWholeFile(log));
    }
    for (const char* user : {kTlsUser, kX509User}) {
      const std::string account = absl::StrCat("'", user, "'@'127.0.0.1'");
      const std::string require =
          std::string(user) == kTlsUser ? "SSL" : "X509";
      for (const std::string& sql :
           {absl::StrCat("CREATE USER ", account, " IDENTIFIED BY '",
                         kPassword, "' REQUIRE ", require),
            absl::StrCat("GRANT ALL ON userservice.* TO ", account)}) {
        CommandResult done = Cluster({"sql", "primary", sql});
        if (done.exit_code != 0) {
          return absl::InternalError(absl::StrCat(sql, ": ", done.err));
        }
      }
    }
    return WriteFileAtomically(*password_file_, kPassword);
  }

  static void TearDownTestSuite() {
    if (dir_ == nullptr) return;
    Cluster({"stop", "--purge"});
    RunCommand({"/bin/rm", "-rf", *dir_});
    delete dir_;
    delete password_file_;
    delete setup_;
    dir_ = nullptr;
  }

  static CommandResult Cluster(std::vector<std::string> args,
                               absl::Duration timeout = absl::Seconds(60)) {
    std::vector<std::string> argv = {
        "/usr/bin/env",   "-u", "CLUSTER_DIR", "-u", "CLUSTER_BASE_PORT",
        "-u", "CLUSTER_REPLICAS", "-u", "CLUSTER_TLS_DIR", "/bin/bash",
        SourceDir() + "/deploy/local/cluster.sh", "--dir", *dir_ + "/cluster"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, timeout);
  }

  static std::string Cert(const std::string& name) {
    return absl::StrCat(*dir_, "/certs/", name);
  }

  static mysql::ConnectionSettings Settings(const std::string& user,
                                            mysql::DatabaseTls tls) {
    mysql::ConnectionSettings settings;
    settings.database = "userservice";
    settings.user = user;
    settings.password = []() -> absl::StatusOr<std::string> {
      return std::string(kPassword);
    };
    settings.tls = std::move(tls);
    return settings;
  }

  static absl::StatusOr<std::unique_ptr<mysql::MysqlConnection>> Open(
      const std::string& user, mysql::DatabaseTls tls) {
    return mysql::MysqlConnection::Open({"primary", "127.0.0.1", port_},
                                        Settings(user, std::move(tls)),
                                        absl::Now() + absl::Seconds(10));
  }

  // The session's TLS cipher ("" on a plaintext session).
  static std::string Cipher(mysql::MysqlConnection& conn) {
    std::string cipher;
    absl::Status status =
        mysql::RunSql("primary", absl::Now() + absl::Seconds(5), [&]() {
          std::unique_ptr<sql::Statement> statement(
              conn.raw().createStatement());
          std::unique_ptr<sql::ResultSet> rs(statement->executeQuery(
              "SHOW SESSION STATUS LIKE 'Ssl_cipher'"));
          if (rs->next()) cipher = rs->getString(2);
          return absl::OkStatus();
        });
    EXPECT_TRUE(status.ok()) << status;
    return cipher;
  }

  static inline std::string* dir_ = nullptr;
  static inline std::string* password_file_ = nullptr;
  static inline int port_ = 0;
  static inline absl::Status* setup_ = nullptr;
};

TEST_F(DbTlsTest, CaOnlyConnectsOverVerifiedTls) {
  absl::StatusOr<std::unique_ptr<mysql::MysqlConnection>> conn =
      Open(kTlsUser, {Cert("ca.pem"), "", "", true});
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_FALSE(Cipher(**conn).empty());
}

TEST_F(DbTlsTest, WithoutTlsTheServerRefusesTheUser) {
  absl::StatusOr<std::unique_ptr<mysql::MysqlConnection>> conn =
      Open(kTlsUser, {});
  EXPECT_FALSE(conn.ok());
  EXPECT_TRUE(absl::IsUnavailable(conn.status())) << conn.status();
}

TEST_F(DbTlsTest, ServerCertificateFromAnotherCaIsRefused) {
  absl::StatusOr<std::unique_ptr<mysql::MysqlConnection>> conn =
      Open(kTlsUser, {Cert("other-ca.pem"), "", "", true});
  EXPECT_FALSE(conn.ok());
}

TEST_F(DbTlsTest, ClientCertificateSatisfiesRequireX509) {
  absl::StatusOr<std::unique_ptr<mysql::MysqlConnection>> with_cert = Open(
      kX509User, {Cert("ca.pem"), Cert("client.pem"), Cert("client.key"), true});
  ASSERT_TRUE(with_cert.ok()) << with_cert.status();
  EXPECT_FALSE(Cipher(**with_cert).empty());
  absl::StatusOr<std::unique_ptr<mysql::MysqlConnection>> without_cert =
      Open(kX509User, {Cert("ca.pem"), "", "", true});
  EXPECT_FALSE(without_cert.ok());
}

TEST_F(DbTlsTest, UserServerServesOverADatabaseThatRequiresTls) {
  const std::vector<std::string> base = {
      absl::StrCat("--primary=127.0.0.1:", port_), "--db-user=" + std::string(kTlsUser),
      "--db-password-file=" + *password_file_, "--migrate-timeout=10s"};
  std::vector<std::string> with_tls = base;
  with_tls.push_back("--db-tls-ca=" + Cert("ca.pem"));
  absl::StatusOr<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start(with_tls);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::UserService::NewStub(grpc::CreateChannel(
      (*server)->address(), grpc::InsecureChannelCredentials()));
  v1::CreateUserRequest request;
  request.set_username("tls_user_row");
  request.set_email("tls_user_row@example.com");
  v1::CreateUserResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::Status status = stub->CreateUser(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message() << "\n"
                           << (*server)->Log();
  EXPECT_THAT((*server)->Log(),
              ::testing::HasSubstr("\"database_tls\":\"required\""));
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);

  // Without --db-tls-* the database refuses the user: startup gives up.
  std::vector<std::string> argv = {UserServerPath(), "--listen=127.0.0.1:0"};
  argv.insert(argv.end(), base.begin(), base.end());
  argv.push_back("--migrate-timeout=2s");
  CommandResult plaintext = RunCommand(argv, absl::Seconds(60));
  EXPECT_EQ(plaintext.exit_code, 1) << plaintext.err;
  EXPECT_THAT(plaintext.err, ::testing::HasSubstr("credentials"));
}

}  // namespace
}  // namespace userservice::testing
