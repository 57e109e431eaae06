#ifndef USERSERVICE_SERVER_METRICS_METRICS_SERVER_H_
#define USERSERVICE_SERVER_METRICS_METRICS_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace userservice::metrics {

// The HTTP listener that serves GET /metrics in the Prometheus text format,
// separate from the gRPC port so scrapers need no HTTP/2 and metrics can be
// firewalled apart. Collectors are read on each scrape, on the listener's
// own threads.
class MetricsServer {
 public:
  // Listens on `address` ("HOST:PORT"; port 0 picks a free port).
  // UNAVAILABLE if it cannot listen there.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address,
      std::vector<std::shared_ptr<prometheus::Collectable>> collectables);

  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port it listens on.
  int port() const { return port_; }

 private:
  MetricsServer() = default;

  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace userservice::metrics

#endif  // USERSERVICE_SERVER_METRICS_METRICS_SERVER_H_
