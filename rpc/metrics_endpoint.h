// Serves GET /metrics in the Prometheus text format over plain HTTP (prometheus-cpp's
// civetweb server), from one Collectable read at each scrape. Both daemons use it for
// --metrics_listen (docs/metrics.md). There is no authentication: metrics carry no secret
// (ids, host names, counts), and the endpoint is off unless the operator names an address;
// one off this machine is the operator's explicit choice (docs/security.md).
//
// Thread-safety: the server's threads call the collectable concurrently with everything
// else; it must be thread-safe. Destroying the endpoint stops the server and waits for
// its threads.
#ifndef GPOOL_RPC_METRICS_ENDPOINT_H_
#define GPOOL_RPC_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "prometheus/collectable.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace gpool {

// What --metrics_listen may be: HOST:PORT with a valid host (ValidateHost; a wildcard
// 0.0.0.0 serves every interface) and a port of 0 (a free one) to 65535. INVALID_ARGUMENT
// naming the flag otherwise.
absl::Status ValidateMetricsListen(const std::string& listen);

// Logs where the metrics are served: a warning when `listen` is not a loopback address (plain
// HTTP that other machines reach), else a line of information.
void LogMetricsEndpoint(const std::string& listen, int port);

class MetricsEndpoint {
 public:
  // Listens on `listen` (ValidateMetricsListen) and serves `collectable` at /metrics; then
  // writes the port bound (one line) to `port_file` unless it is empty.
  // INVALID_ARGUMENT for a bad address; UNAVAILABLE naming the address when it cannot be
  // bound (in use, not an address of this machine); the error of writing `port_file`.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& listen, std::shared_ptr<prometheus::Collectable> collectable,
      const std::string& port_file = "");
  ~MetricsEndpoint();

  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // The port bound (the one picked for port 0).
  int port() const { return port_; }

 private:
  MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer,
                  std::shared_ptr<prometheus::Collectable> collectable, int port);

  std::unique_ptr<prometheus::Exposer> exposer_;
  // Kept alive here: the exposer holds it only weakly.
  std::shared_ptr<prometheus::Collectable> collectable_;
  int port_;
};

}  // namespace gpool

#endif  // GPOOL_RPC_METRICS_ENDPOINT_H_
