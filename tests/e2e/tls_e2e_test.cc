// The real user_server over TLS and mutual TLS: handshakes that must work,
// clients that must be refused, certificate rotation without a restart, and
// bad certificate files stopping startup.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/process.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_cluster.h"

namespace userservice::testing {
namespace {

using ::testing::HasSubstr;

// What a client presents and trusts.
struct ClientTls {
  std::string ca;    // file; empty: plaintext
  std::string cert;  // files; empty: no client certificate
  std::string key;
};

class TlsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TestCluster::Get();
    dir_ = new std::string(
        absl::StrCat(::testing::TempDir(), "/tls_e2e-", getpid()));
    // Checked in SetUp: a fatal failure here would make the tests count as
    // skipped, not failed.
    made_ = new absl::Status(MakeTestCertificates(*dir_ + "/certs"));
  }

  void SetUp() override { ASSERT_TRUE(made_->ok()) << *made_; }

  static void TearDownTestSuite() {
    RunCommand({"/bin/rm", "-rf", *dir_});
    delete dir_;
    dir_ = nullptr;
  }

  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- user_server log ----\n" << server_->process().Log();
    }
  }

  static std::string Cert(const std::string& name) {
    return absl::StrCat(*dir_, "/certs/", name);
  }

  // TLS without a client certificate, trusting the CA in file `ca`.
  static ClientTls Trusting(const std::string& ca) {
    return {Cert(ca), "", ""};
  }

  void StartServer(const std::vector<std::string>& flags) {
    absl::StatusOr<std::unique_ptr<E2eServer>> server = E2eServer::Start(flags);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // A channel with its own connection: channels with equal arguments share
  // connections otherwise, and a rotation test needs a new handshake.
  std::shared_ptr<grpc::Channel> Channel(const ClientTls& tls) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (tls.ca.empty()) {
      credentials = grpc::InsecureChannelCredentials();
    } else {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = ReadWholeFile(tls.ca);
      if (!tls.cert.empty()) {
        ssl.pem_cert_chain = ReadWholeFile(tls.cert);
        ssl.pem_private_key = ReadWholeFile(tls.key);
      }
      credentials = grpc::SslCredentials(ssl);
    }
    return grpc::CreateCustomChannel(server_->process().address(), credentials,
                                     args);
  }

  // A CreateUser over a new connection; `peer_cert` gets the PEM
  // certificate the server presented (empty without TLS).
  grpc::Status Create(const ClientTls& tls, std::string* peer_cert = nullptr) {
    auto stub = v1::UserService::NewStub(Channel(tls));
    const std::string name = UniqueUsername("tls");
    v1::CreateUserRequest request;
    request.set_username(name);
    request.set_email(name + "@example.com");
    v1::CreateUserResponse response;
    auto context = ContextWithDeadline(absl::Seconds(10));
    grpc::Status status = stub->CreateUser(context.get(), request, &response);
    if (peer_cert != nullptr) {
      peer_cert->clear();
      std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
      if (auth != nullptr) {
        for (const grpc::string_ref& value :
             auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME)) {
          peer_cert->assign(value.data(), value.size());
        }
      }
    }
    return status;
  }

  static inline std::string* dir_ = nullptr;
  static inline absl::Status* made_ = nullptr;
  std::unique_ptr<E2eServer> server_;
};

TEST_F(TlsE2eTest, TlsClientsConnectAndPlaintextOrUntrustingClientsDoNot) {
  StartServer({"--tls-cert=" + Cert("server.pem"),
               "--tls-key=" + Cert("server.key")});
  std::string peer;
  grpc::Status status = Create(Trusting("ca.pem"), &peer);
  ASSERT_TRUE(status.ok()) << CodeName(status.error_code()) << " "
                           << status.error_message();
  EXPECT_EQ(peer, ReadWholeFile(Cert("server.pem")));
  // The port takes connections a moment before the "serving" line is out.
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] {
    return absl::StrContains(server_->process().Log(), "\"transport\":\"tls\"");
  })) << server_->process().Log();

  // A plaintext client cannot talk HTTP/2 to a TLS port.
  grpc::Status plaintext = Create(ClientTls{"", "", ""});
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE)
      << CodeName(plaintext.error_code());
  // A client that trusts another CA refuses the server's certificate.
  grpc::Status untrusting = Create(Trusting("other-ca.pem"));
  EXPECT_EQ(untrusting.error_code(), grpc::StatusCode::UNAVAILABLE)
      << CodeName(untrusting.error_code());
}

TEST_F(TlsE2eTest, MutualTlsNeedsAClientCertificateFromTheTrustedCa) {
  StartServer({"--tls-cert=" + Cert("server.pem"),
               "--tls-key=" + Cert("server.key"),
               "--tls-client-ca=" + Cert("ca.pem")});
  grpc::Status with_cert =
      Create({Cert("ca.pem"), Cert("client.pem"), Cert("client.key")});
  EXPECT_TRUE(with_cert.ok()) << CodeName(with_cert.error_code()) << " "
                              << with_cert.error_message();

  grpc::Status without_cert = Create(Trusting("ca.pem"));
  EXPECT_EQ(without_cert.error_code(), grpc::StatusCode::UNAVAILABLE)
      << CodeName(without_cert.error_code());

  grpc::Status untrusted_cert = Create(
      {Cert("ca.pem"), Cert("other-client.pem"), Cert("other-client.key")});
  EXPECT_EQ(untrusted_cert.error_code(), grpc::StatusCode::UNAVAILABLE)
      << CodeName(untrusted_cert.error_code());
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&] {
    return absl::StrContains(server_->process().Log(),
                             "\"transport\":\"mutual-tls\"");
  })) << server_->process().Log();
}

// The layout of a Kubernetes secret volume: each file is a symlink through
// ..data, which the kubelet points at a new timestamped directory in one
// rename when the secret changes.
class SecretVolume {
 public:
  explicit SecretVolume(std::string dir) : dir_(std::move(dir)) {}

  // Publishes version `version` with these contents as tls.crt / tls.key.
  void Publish(int version, const std::string& cert_pem,
               const std::string& key_pem) {
    const std::string data = absl::StrCat("..v", version);
    mkdir(dir_.c_str(), 0700);
    mkdir(absl::StrCat(dir_, "/", data).c_str(), 0700);
    ASSERT_TRUE(
        WriteFileAtomically(absl::StrCat(dir_, "/", data, "/tls.crt"), cert_pem)
            .ok());
    ASSERT_TRUE(
        WriteFileAtomically(absl::StrCat(dir_, "/", data, "/tls.key"), key_pem)
            .ok());
    const std::string link = dir_ + "/..data_tmp";
    unlink(link.c_str());
    ASSERT_EQ(symlink(data.c_str(), link.c_str()), 0);
    ASSERT_EQ(std::rename(link.c_str(), (dir_ + "/..data").c_str()), 0);
    // The file links never change; only ..data moves.
    if (version > 1) return;
    for (const char* file : {"tls.crt", "tls.key"}) {
      const std::string path = absl::StrCat(dir_, "/", file);
      ASSERT_EQ(symlink(absl::StrCat("..data/", file).c_str(), path.c_str()),
                0);
    }
  }

  std::string cert() const { return dir_ + "/tls.crt"; }
  std::string key() const { return dir_ + "/tls.key"; }

 private:
  std::string dir_;
};

TEST_F(TlsE2eTest, RotatedCertificateIsServedWithoutARestart) {
  SecretVolume secret(*dir_ + "/secret");
  const std::string first = ReadWholeFile(Cert("server.pem"));
  const std::string rotated = ReadWholeFile(Cert("server-rotated.pem"));
  ASSERT_NE(first, rotated);
  secret.Publish(1, first, ReadWholeFile(Cert("server.key")));
  StartServer({"--tls-cert=" + secret.cert(), "--tls-key=" + secret.key(),
               "--tls-refresh-interval=1s"});
  const pid_t pid = server_->process().pid();
  std::string peer;
  grpc::Status before = Create(Trusting("ca.pem"), &peer);
  ASSERT_TRUE(before.ok()) << before.error_message();
  EXPECT_EQ(peer, first);

  // An established connection keeps working across the rotation.
  auto kept = v1::UserService::NewStub(Channel(Trusting("ca.pem")));
  {
    v1::ListUsersRequest request;
    request.set_page_size(1);
    v1::ListUsersResponse response;
    auto context = ContextWithDeadline(absl::Seconds(5));
    ASSERT_TRUE(kept->ListUsers(context.get(), request, &response).ok());
  }

  secret.Publish(2, rotated, ReadWholeFile(Cert("server-rotated.key")));
  const absl::Time rotated_at = absl::Now();
  std::string last_status;
  const bool served = WaitFor(absl::Seconds(15), [&]() {
    grpc::Status status = Create(Trusting("ca.pem"), &peer);
    last_status = CodeName(status.error_code()) + " " + status.error_message();
    return status.ok() && peer == rotated;
  }, absl::Milliseconds(200));
  EXPECT_TRUE(served) << "last call: " << last_status;
  std::cerr << "rotated certificate served after "
            << absl::FormatDuration(absl::Now() - rotated_at) << "\n";
  EXPECT_EQ(server_->process().pid(), pid);
  EXPECT_TRUE(server_->process().Running());

  v1::ListUsersRequest request;
  request.set_page_size(1);
  v1::ListUsersResponse response;
  auto context = ContextWithDeadline(absl::Seconds(5));
  grpc::Status on_old_connection =
      kept->ListUsers(context.get(), request, &response);
  EXPECT_TRUE(on_old_connection.ok()) << on_old_connection.error_message();

  // SIGHUP re-checks the files and leaves the server running.
  ASSERT_EQ(kill(pid, SIGHUP), 0);
  EXPECT_TRUE(WaitFor(absl::Seconds(5), [&]() {
    return server_->process().Log().find("SIGHUP: TLS files are valid") !=
           std::string::npos;
  }));
  EXPECT_TRUE(server_->process().Running());
  EXPECT_TRUE(Create(Trusting("ca.pem")).ok());
}

TEST_F(TlsE2eTest, BadCertificateFilesStopStartupWithExitCode2) {
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--tls-cert=" + Cert("server.pem"), "--tls-key=" + Cert("client.key")},
       "does not belong"},
      {{"--tls-cert=" + Cert("missing.pem"), "--tls-key=" + Cert("server.key")},
       "--tls-cert: cannot read"},
      {{"--tls-cert=" + Cert("server.pem")}, "--tls-cert and --tls-key"},
      {{"--tls-cert=" + Cert("server.pem"), "--tls-key=" + Cert("server.key"),
        "--tls-client-ca=" + Cert("server.key")},
       "--tls-client-ca"},
      {{"--db-tls-ca=" + Cert("missing-ca.pem")}, "--db-tls-ca: cannot read"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<std::string> argv = {UserServerPath(), "--listen=127.0.0.1:0"};
    for (const std::string& arg : ClusterServerArgs()) argv.push_back(arg);
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    CommandResult result = RunCommand(argv, absl::Seconds(30));
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_THAT(result.err, HasSubstr(c.message));
  }
}

TEST_F(TlsE2eTest, UserctlSpeaksTlsAndMutualTls) {
  StartServer({"--tls-cert=" + Cert("server.pem"),
               "--tls-key=" + Cert("server.key"),
               "--tls-client-ca=" + Cert("ca.pem")});
  const std::string name = UniqueUsername("ctl_tls");
  const std::vector<std::string> base = {
      UserctlPath(), "--addr=" + server_->process().address(),
      "--tls-ca=" + Cert("ca.pem")};
  std::vector<std::string> create = base;
  create.insert(create.end(),
                {"--tls-cert=" + Cert("client.pem"),
                 "--tls-key=" + Cert("client.key"), "create",
                 "--username=" + name, "--email=" + name + "@example.com"});
  CommandResult created = RunCommand(create);
  EXPECT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr(name));

  // Connecting by IP to a certificate checked under another name.
  std::vector<std::string> get = base;
  get.insert(get.end(),
             {"--tls-cert=" + Cert("client.pem"),
              "--tls-key=" + Cert("client.key"),
              "--tls-server-name=localhost", "--consistency=strong", "get",
              "--username=" + name});
  CommandResult got = RunCommand(get);
  EXPECT_EQ(got.exit_code, 0) << got.err;
  EXPECT_THAT(got.out, HasSubstr(name));

  // Without a client certificate the server refuses: 10 + UNAVAILABLE.
  std::vector<std::string> refused = base;
  refused.insert(refused.end(), {"get", "--username=" + name});
  EXPECT_EQ(RunCommand(refused).exit_code, 24);
  std::vector<std::string> half = base;
  half.insert(half.end(),
              {"--tls-cert=" + Cert("client.pem"), "get", "--username=x"});
  EXPECT_EQ(RunCommand(half).exit_code, 2);
}

}  // namespace
}  // namespace userservice::testing
