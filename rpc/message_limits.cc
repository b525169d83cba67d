#include "rpc/message_limits.h"

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"

namespace gpool {

absl::Status CheckMapRequestSize(const v1::MapRequest& request, absl::StatusCode code) {
  const size_t bytes = request.ByteSizeLong();
  if (bytes <= static_cast<size_t>(kMaxMapRequestBytes)) return absl::OkStatus();
  const std::string what =
      request.input().has_list()
          ? absl::StrCat(" (a list of ", request.input().list().values_size(), " values)")
          : "";
  return absl::Status(
      code, absl::StrCat("the Map request is ", bytes, " bytes", what, ", over the limit of ",
                         kMaxMapRequestBytes, " bytes (4 MiB messages, less 64 KiB): split "
                         "the input into several jobs, or map a range (a range travels as two "
                         "numbers, whatever its length)"));
}

}  // namespace gpool
