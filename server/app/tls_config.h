#ifndef USERSERVICE_SERVER_APP_TLS_CONFIG_H_
#define USERSERVICE_SERVER_APP_TLS_CONFIG_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"

namespace userservice {

// The server's TLS files (--tls-cert, --tls-key, --tls-client-ca). All
// empty: plaintext. cert and key: TLS. client_ca as well: mutual TLS, a
// client must present a certificate signed by one of those CAs.
struct ServerTlsFiles {
  std::string cert;       // PEM chain, leaf first
  std::string key;        // PEM private key of the leaf
  std::string client_ca;  // PEM CA bundle for client certificates
  // How often gRPC re-reads the files. A Kubernetes secret update swaps the
  // ..data symlink, so a re-read sees every file of the new version at once.
  absl::Duration refresh_interval = absl::Seconds(10);

  bool enabled() const { return !cert.empty(); }
  bool mutual() const { return !client_ca.empty(); }
};

// What the server presents, for the log line at startup and on SIGHUP.
struct CertificateSummary {
  std::string subject;
  std::string serial;  // hex
  std::string not_after;
};

// The flags make sense together: cert and key both or neither; a client CA
// only with them; a refresh interval of at least one second (the file
// watcher counts whole seconds). Names the flag at fault.
absl::Status ValidateServerTlsFlags(const ServerTlsFiles& files);

// Reads and parses the files as the file watcher will: the chain and key
// must be readable PEM and belong together, the client CA bundle readable
// PEM certificates. A bad file stops startup here with a message naming it,
// instead of a server that listens but fails every handshake.
absl::StatusOr<CertificateSummary> CheckServerTlsFiles(
    const ServerTlsFiles& files);

// For SIGHUP: checks the files again and logs whether the next refresh
// will pick up a valid set (with its serial) or what is wrong.
void LogServerTlsRecheck(const ServerTlsFiles& files);

// Credentials for ServerBuilder::AddListeningPort: insecure when TLS is off,
// else gRPC's TLS credentials over a FileWatcherCertificateProvider, so new
// handshakes use rotated files without a restart (established connections
// keep the certificate they negotiated).
std::shared_ptr<grpc::ServerCredentials> BuildServerCredentials(
    const ServerTlsFiles& files);

// Client-side TLS files of a database connection (--db-tls-*). Checked
// like the server's: each given file must be readable PEM, and a client
// certificate needs its key.
struct ClientTlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
};
absl::Status CheckClientTlsFiles(const ClientTlsFiles& files,
                                 absl::string_view flag_prefix);

}  // namespace userservice

#endif  // USERSERVICE_SERVER_APP_TLS_CONFIG_H_
