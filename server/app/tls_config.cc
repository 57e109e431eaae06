#include "server/app/tls_config.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "server/common/log.h"

namespace userservice {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

absl::StatusOr<std::string> ReadFile(absl::string_view flag,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  if (contents.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path,
                                                   " is empty"));
  }
  return contents.str();
}

// Every PEM certificate of `pem`, in order; an error if there is none.
absl::StatusOr<std::vector<Cert>> ParseCertificates(absl::string_view flag,
                                                    const std::string& path,
                                                    const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<Cert> certs;
  while (true) {
    Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    certs.push_back(std::move(cert));
  }
  // The loop ends on "no start line" at the end of the input; anything
  // else left in the queue was a malformed certificate.
  ERR_clear_error();
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", path, " holds no PEM certificate (BEGIN CERTIFICATE)"));
  }
  return certs;
}

absl::StatusOr<Key> ParseKey(absl::string_view flag, const std::string& path,
                             const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", path,
        " holds no unencrypted PEM private key (encrypted keys are not "
        "supported)"));
  }
  return key;
}

std::string NameText(X509_NAME* name) {
  Bio bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string TimeText(const ASN1_TIME* time) {
  Bio bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), time);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string SerialText(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string text = hex == nullptr ? "" : hex;
  OPENSSL_free(hex);
  BN_free(bn);
  return text;
}

// The certificate chain of `cert_path` and the key of `key_path`, checked
// to belong together; the leaf's summary.
absl::StatusOr<CertificateSummary> CheckKeyPair(absl::string_view cert_flag,
                                                const std::string& cert_path,
                                                absl::string_view key_flag,
                                                const std::string& key_path) {
  absl::StatusOr<std::string> cert_pem = ReadFile(cert_flag, cert_path);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFile(key_flag, key_path);
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::vector<Cert>> chain =
      ParseCertificates(cert_flag, cert_path, *cert_pem);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<Key> key = ParseKey(key_flag, key_path, *key_pem);
  if (!key.ok()) return key.status();
  X509* leaf = chain->front().get();
  if (X509_check_private_key(leaf, key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        key_flag, ": the key in ", key_path,
        " does not belong to the first certificate in ", cert_path));
  }
  CertificateSummary summary;
  summary.subject = NameText(X509_get_subject_name(leaf));
  summary.serial = SerialText(leaf);
  summary.not_after = TimeText(X509_get0_notAfter(leaf));
  return summary;
}

absl::Status CheckCaBundle(absl::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(flag, path);
  if (!pem.ok()) return pem.status();
  return ParseCertificates(flag, path, *pem).status();
}

}  // namespace

absl::Status ValidateServerTlsFlags(const ServerTlsFiles& files) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key: give both (TLS) or neither (plaintext)");
  }
  if (files.mutual() && !files.enabled()) {
    return absl::InvalidArgumentError(
        "--tls-client-ca: needs --tls-cert and --tls-key (mutual TLS is TLS "
        "with client certificates)");
  }
  if (files.refresh_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        "--tls-refresh-interval: must be at least 1s");
  }
  return absl::OkStatus();
}

absl::StatusOr<CertificateSummary> CheckServerTlsFiles(
    const ServerTlsFiles& files) {
  absl::StatusOr<CertificateSummary> summary =
      CheckKeyPair("--tls-cert", files.cert, "--tls-key", files.key);
  if (!summary.ok()) return summary.status();
  if (files.mutual()) {
    absl::Status ca = CheckCaBundle("--tls-client-ca", files.client_ca);
    if (!ca.ok()) return ca;
  }
  return summary;
}

void LogServerTlsRecheck(const ServerTlsFiles& files) {
  if (!files.enabled()) {
    log::Info("SIGHUP: TLS is off, nothing to re-read");
    return;
  }
  absl::StatusOr<CertificateSummary> certificate = CheckServerTlsFiles(files);
  if (certificate.ok()) {
    log::Info("SIGHUP: TLS files are valid; new connections use them "
              "within the refresh interval",
              {{"certificate_serial", certificate->serial},
               {"certificate_not_after", certificate->not_after},
               {"refresh_interval",
                absl::FormatDuration(files.refresh_interval)}});
  } else {
    log::Error("SIGHUP: TLS files are invalid; new connections keep the "
               "last set gRPC could read",
               {{"error", std::string(certificate.status().message())}});
  }
}

std::shared_ptr<grpc::ServerCredentials> BuildServerCredentials(
    const ServerTlsFiles& files) {
  if (!files.enabled()) return grpc::InsecureServerCredentials();
  const auto refresh_seconds = static_cast<unsigned int>(
      absl::ToInt64Seconds(files.refresh_interval));
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          files.key, files.cert, files.client_ca, refresh_seconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (files.mutual()) {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::Status CheckClientTlsFiles(const ClientTlsFiles& files,
                                 absl::string_view flag_prefix) {
  const std::string ca_flag = absl::StrCat(flag_prefix, "ca");
  const std::string cert_flag = absl::StrCat(flag_prefix, "cert");
  const std::string key_flag = absl::StrCat(flag_prefix, "key");
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_flag, " and ", key_flag, ": give both or neither"));
  }
  if (!files.ca.empty()) {
    absl::Status ca = CheckCaBundle(ca_flag, files.ca);
    if (!ca.ok()) return ca;
  }
  if (!files.cert.empty()) {
    absl::StatusOr<CertificateSummary> pair =
        CheckKeyPair(cert_flag, files.cert, key_flag, files.key);
    if (!pair.ok()) return pair.status();
  }
  return absl::OkStatus();
}

}  // namespace userservice
