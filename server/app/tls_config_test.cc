#include "server/app/tls_config.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace userservice {
namespace {

using ::testing::HasSubstr;

// Certificates made fresh by tests/support/make_test_certs.sh, once for the
// whole binary.
class TlsConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(
        absl::StrCat(::testing::TempDir(), "/tls_config_test-", getpid()));
    const std::string command =
        absl::StrCat("bash '", USERSERVICE_SOURCE_DIR,
                     "/tests/support/make_test_certs.sh' '", *dir_, "'");
    // Checked in SetUp: a fatal failure here would make the tests count as
    // skipped, not failed.
    made_ = std::system(command.c_str()) == 0;
  }

  void SetUp() override {
    ASSERT_TRUE(made_) << "make_test_certs.sh failed into " << *dir_;
  }
  static void TearDownTestSuite() {
    std::system(absl::StrCat("rm -rf '", *dir_, "'").c_str());
    delete dir_;
  }

  static std::string Path(const std::string& name) {
    return absl::StrCat(*dir_, "/", name);
  }

  static ServerTlsFiles Files(const std::string& cert, const std::string& key,
                              const std::string& client_ca = "") {
    ServerTlsFiles files;
    files.cert = cert.empty() ? "" : Path(cert);
    files.key = key.empty() ? "" : Path(key);
    files.client_ca = client_ca.empty() ? "" : Path(client_ca);
    return files;
  }

  static inline std::string* dir_ = nullptr;
  static inline bool made_ = false;
};

TEST_F(TlsConfigTest, NoFilesMeansPlaintext) {
  ServerTlsFiles files;
  EXPECT_FALSE(files.enabled());
  EXPECT_TRUE(ValidateServerTlsFlags(files).ok());
}

TEST_F(TlsConfigTest, CertAndKeyComeTogether) {
  absl::Status status = ValidateServerTlsFlags(Files("server.pem", ""));
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.message(), HasSubstr("--tls-cert and --tls-key"));
  EXPECT_FALSE(ValidateServerTlsFlags(Files("", "server.key")).ok());
}

TEST_F(TlsConfigTest, ClientCaNeedsServerTls) {
  absl::Status status = ValidateServerTlsFlags(Files("", "", "ca.pem"));
  EXPECT_THAT(status.message(), HasSubstr("--tls-client-ca"));
}

TEST_F(TlsConfigTest, RefreshIntervalIsAtLeastOneSecond) {
  ServerTlsFiles files = Files("server.pem", "server.key");
  files.refresh_interval = absl::Milliseconds(500);
  EXPECT_THAT(ValidateServerTlsFlags(files).message(),
              HasSubstr("--tls-refresh-interval"));
}

TEST_F(TlsConfigTest, GoodFilesGiveTheLeafsSummary) {
  absl::StatusOr<CertificateSummary> summary =
      CheckServerTlsFiles(Files("server.pem", "server.key", "ca.pem"));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->subject, "CN=localhost");
  EXPECT_FALSE(summary->serial.empty());
  EXPECT_FALSE(summary->not_after.empty());

  absl::StatusOr<CertificateSummary> rotated =
      CheckServerTlsFiles(Files("server-rotated.pem", "server-rotated.key"));
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_NE(rotated->serial, summary->serial);
}

TEST_F(TlsConfigTest, MissingFileIsNamed) {
  absl::Status status =
      CheckServerTlsFiles(Files("nope.pem", "server.key")).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.message(), HasSubstr("--tls-cert: cannot read"));
  EXPECT_THAT(status.message(), HasSubstr("nope.pem"));
}

TEST_F(TlsConfigTest, KeyOfAnotherCertificateIsRejected) {
  absl::Status status =
      CheckServerTlsFiles(Files("server.pem", "client.key")).status();
  EXPECT_THAT(status.message(), HasSubstr("--tls-key"));
  EXPECT_THAT(status.message(), HasSubstr("does not belong"));
}

TEST_F(TlsConfigTest, NonPemFilesAreRejected) {
  std::ofstream(Path("garbage.pem")) << "not a certificate\n";
  EXPECT_THAT(
      CheckServerTlsFiles(Files("garbage.pem", "server.key")).status().message(),
      HasSubstr("no PEM certificate"));
  EXPECT_THAT(
      CheckServerTlsFiles(Files("server.pem", "garbage.pem")).status().message(),
      HasSubstr("no unencrypted PEM private key"));
  EXPECT_THAT(CheckServerTlsFiles(Files("server.pem", "server.key",
                                        "garbage.pem"))
                  .status()
                  .message(),
              HasSubstr("--tls-client-ca"));
}

TEST_F(TlsConfigTest, ClientFilesAreCheckedLikeTheServers) {
  EXPECT_TRUE(CheckClientTlsFiles({Path("ca.pem"), "", ""}, "--db-tls-").ok());
  EXPECT_TRUE(CheckClientTlsFiles(
                  {Path("ca.pem"), Path("client.pem"), Path("client.key")},
                  "--db-tls-")
                  .ok());
  EXPECT_THAT(
      CheckClientTlsFiles({"", Path("client.pem"), ""}, "--db-tls-").message(),
      HasSubstr("--db-tls-cert and --db-tls-key"));
  EXPECT_THAT(CheckClientTlsFiles({Path("missing.pem"), "", ""}, "--db-tls-")
                  .message(),
              HasSubstr("--db-tls-ca: cannot read"));
  EXPECT_THAT(CheckClientTlsFiles(
                  {"", Path("client.pem"), Path("server.key")}, "--db-tls-")
                  .message(),
              HasSubstr("does not belong"));
}

}  // namespace
}  // namespace userservice
