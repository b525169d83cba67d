// Status assertions for GoogleTest (Abseil 20220623 ships none).
//   EXPECT_OK(status_or_statusor);
//   ASSERT_OK_AND_ASSIGN(auto value, StatusOrExpression());
//   EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound, HasSubstr("square")));
#ifndef GPOOL_TESTS_SUPPORT_STATUS_MATCHERS_H_
#define GPOOL_TESTS_SUPPORT_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gpool::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER_P2(StatusIs, code, message_matcher,
           absl::StrCat("has status code ", absl::StatusCodeToString(code))) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

}  // namespace gpool::testing

#define EXPECT_OK(expr) EXPECT_TRUE(::gpool::testing::GetStatus(expr).ok()) \
    << ::gpool::testing::GetStatus(expr)
#define ASSERT_OK(expr) ASSERT_TRUE(::gpool::testing::GetStatus(expr).ok()) \
    << ::gpool::testing::GetStatus(expr)

#define GPOOL_TEST_CONCAT_INNER_(a, b) a##b
#define GPOOL_TEST_CONCAT_(a, b) GPOOL_TEST_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  GPOOL_ASSERT_OK_AND_ASSIGN_IMPL_(GPOOL_TEST_CONCAT_(status_or_, __LINE__), lhs, expr)
#define GPOOL_ASSERT_OK_AND_ASSIGN_IMPL_(status_or, lhs, expr) \
  auto status_or = (expr);                                     \
  ASSERT_TRUE(status_or.ok()) << status_or.status();           \
  lhs = std::move(status_or).value()

#endif  // GPOOL_TESTS_SUPPORT_STATUS_MATCHERS_H_
