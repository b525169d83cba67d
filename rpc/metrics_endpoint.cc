#include "rpc/metrics_endpoint.h"

#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/address.h"
#include "common/log.h"
#include "common/subprocess.h"
#include "prometheus/exposer.h"

namespace gpool {

absl::Status ValidateMetricsListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_listen '", listen, "' is not HOST:PORT with a port of 0 to 65535 (e.g. "
        "127.0.0.1:9464)"));
  }
  return ValidateHost(listen.substr(0, colon), "--metrics_listen");
}

void LogMetricsEndpoint(const std::string& listen, int port) {
  const std::string host = listen.substr(0, listen.rfind(':'));
  const std::string url = absl::StrCat("http://", host, ":", port, "/metrics");
  if (IsLoopbackHost(host)) {
    LogInfo(absl::StrCat("serving metrics at ", url));
  } else {
    LogWarning(absl::StrCat("serving metrics at ", url, " in plain HTTP without "
                            "authentication, to whoever reaches it (see docs/security.md)"));
  }
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer,
                                 std::shared_ptr<prometheus::Collectable> collectable, int port)
    : exposer_(std::move(exposer)), collectable_(std::move(collectable)), port_(port) {}

MetricsEndpoint::~MetricsEndpoint() = default;

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& listen, std::shared_ptr<prometheus::Collectable> collectable,
    const std::string& port_file) {
  if (absl::Status valid = ValidateMetricsListen(listen); !valid.ok()) return valid;
  std::unique_ptr<prometheus::Exposer> exposer;
  // prometheus-cpp reports a port it cannot bind by throwing (civetweb's CivetException, a
  // std::runtime_error): the one place gpool catches an exception, turned into a status here.
  try {
    exposer = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/2);
  } catch (const std::exception& error) {
    return absl::UnavailableError(absl::StrCat(
        "--metrics_listen ", listen, ": cannot listen (in use, or not an address of this "
        "machine): ", error.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("--metrics_listen ", listen, ": not listening"));
  }
  exposer->RegisterCollectable(collectable);
  if (!port_file.empty()) {
    absl::Status written = WriteFileAtomically(port_file, absl::StrCat(ports.front(), "\n"));
    if (!written.ok()) return written;
  }
  return std::unique_ptr<MetricsEndpoint>(
      new MetricsEndpoint(std::move(exposer), std::move(collectable), ports.front()));
}

}  // namespace gpool
