// Small status helpers. Abseil 20220623 ships no status macros, so these are ours.
#ifndef GPOOL_COMMON_STATUS_MACROS_H_
#define GPOOL_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GPOOL_CONCAT_INNER_(a, b) a##b
#define GPOOL_CONCAT_(a, b) GPOOL_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status gpool_status_ = (expr);         \
    if (!gpool_status_.ok()) return gpool_status_; \
  } while (false)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error returns its
// status, otherwise moves the value into `lhs` (which may be a declaration).
#define ASSIGN_OR_RETURN(lhs, expr) \
  GPOOL_ASSIGN_OR_RETURN_IMPL_(GPOOL_CONCAT_(gpool_statusor_, __LINE__), lhs, expr)
#define GPOOL_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // GPOOL_COMMON_STATUS_MACROS_H_
