#include "common/worker_registration.h"

#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/address.h"

namespace gpool {

absl::Status ValidateFunctionName(absl::string_view name, absl::string_view field) {
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is empty; name a function"));
  }
  if (name.size() > kMaxFunctionNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is ", name.size(),
                                                   " bytes, over the limit of ",
                                                   kMaxFunctionNameBytes));
  }
  for (char c : name) {
    if (c < '!' || c > '~') {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " \"", absl::CHexEscape(name), "\" holds a character that is not printable "
          "ASCII or is a space; function names are printable ASCII without spaces"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRegistration(const WorkerRegistration& registration) {
  if (registration.address.empty()) {
    return absl::InvalidArgumentError(
        "RegisterWorkerRequest.address is empty; a worker must give the HOST:PORT it serves on");
  }
  if (absl::Status status =
          ValidateDialAddress(registration.address, "RegisterWorkerRequest.address");
      !status.ok()) {
    return status;
  }
  if (registration.pid < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("RegisterWorkerRequest.pid must be >= 1, got ", registration.pid));
  }
  if (absl::Status status = ValidateHost(registration.host, "RegisterWorkerRequest.host");
      !status.ok()) {
    return status;
  }
  if (registration.slots < 1 || registration.slots > kMaxSlots) {
    return absl::InvalidArgumentError(absl::StrCat("RegisterWorkerRequest.slots must be 1 to ",
                                                   kMaxSlots, ", got ", registration.slots));
  }
  if (registration.max_chunks_per_call < 1 ||
      registration.max_chunks_per_call > kMaxChunksPerCall) {
    return absl::InvalidArgumentError(
        absl::StrCat("RegisterWorkerRequest.max_chunks_per_call must be 1 to ",
                     kMaxChunksPerCall, ", got ", registration.max_chunks_per_call));
  }
  if (registration.functions.empty()) {
    return absl::InvalidArgumentError(
        "RegisterWorkerRequest.functions is empty; a worker must offer at least one function");
  }
  if (registration.functions.size() > static_cast<size_t>(kMaxFunctionsPerWorker)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RegisterWorkerRequest.functions holds ", registration.functions.size(),
        " names, over the limit of ", kMaxFunctionsPerWorker));
  }
  std::set<absl::string_view> seen;
  for (const FunctionSignature& function : registration.functions) {
    if (absl::Status status =
            ValidateFunctionName(function.name, "RegisterWorkerRequest.functions");
        !status.ok()) {
      return status;
    }
    if (!seen.insert(function.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "RegisterWorkerRequest.functions names \"", function.name, "\" twice"));
    }
  }
  return absl::OkStatus();
}

}  // namespace gpool
