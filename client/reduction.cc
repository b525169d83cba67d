#include "client/reduction.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/elements.h"
#include "common/int128.h"

namespace gpool {
namespace {

absl::uint128 Gcd(absl::uint128 a, absl::uint128 b) {
  while (b != 0) {
    const absl::uint128 r = a % b;
    a = b;
    b = r;
  }
  return a;
}

std::string FormatUint128(absl::uint128 value) {
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  } while (value != 0);
  std::reverse(digits.begin(), digits.end());
  return digits;
}

// How many decimal places p/q needs when q has only the prime factors 2 and 5; -1 if it
// has another factor (the decimal does not terminate).
int TerminatingPlaces(absl::uint128 q) {
  int twos = 0, fives = 0;
  while (q % 2 == 0) {
    q /= 2;
    ++twos;
  }
  while (q % 5 == 0) {
    q /= 5;
    ++fives;
  }
  return q == 1 ? std::max(twos, fives) : -1;
}

}  // namespace

absl::StatusOr<Reduction> ParseReduction(absl::string_view name) {
  if (name == "sum") return Reduction::kSum;
  if (name == "min") return Reduction::kMin;
  if (name == "max") return Reduction::kMax;
  if (name == "count") return Reduction::kCount;
  if (name == "mean") return Reduction::kMean;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown reduction '", name, "'; use sum, min, max, count or mean"));
}

std::string ReductionName(Reduction reduction) {
  switch (reduction) {
    case Reduction::kSum: return "sum";
    case Reduction::kMin: return "min";
    case Reduction::kMax: return "max";
    case Reduction::kCount: return "count";
    case Reduction::kMean: return "mean";
  }
  return "sum";
}

std::string ReductionWord(Reduction reduction) {
  switch (reduction) {
    case Reduction::kMin: return "minimum";
    case Reduction::kMax: return "maximum";
    default: return ReductionName(reduction);
  }
}

ExactMean ComputeMean(absl::int128 sum, uint64_t count) {
  if (count == 0) return ExactMean{"undefined", "undefined", false};  // no job is empty
  const bool negative = sum < 0;
  // The magnitude as unsigned, so that the smallest int128 does not overflow on negation.
  const absl::uint128 magnitude =
      negative ? -static_cast<absl::uint128>(sum) : static_cast<absl::uint128>(sum);
  const absl::uint128 divisor = Gcd(magnitude, count);
  const absl::uint128 p = divisor == 0 ? 0 : magnitude / divisor;
  const absl::uint128 q = divisor == 0 ? 1 : absl::uint128(count) / divisor;
  const std::string sign = negative && p != 0 ? "-" : "";

  ExactMean mean;
  mean.fraction =
      absl::StrCat(sign, FormatUint128(p), q == 1 ? "" : absl::StrCat("/", FormatUint128(q)));
  const absl::uint128 whole = p / q;
  absl::uint128 remainder = p % q;
  // Long division. The remainder stays below q <= 2^64, so remainder * 10 cannot overflow.
  auto next_digit = [&]() {
    remainder *= 10;
    const int digit = static_cast<int>(remainder / q);
    remainder %= q;
    return static_cast<char>('0' + digit);
  };

  const int places = TerminatingPlaces(q);
  if (places >= 0) {
    std::string fraction_digits;
    for (int i = 0; i < places; ++i) fraction_digits.push_back(next_digit());
    mean.decimal = absl::StrCat(sign, FormatUint128(whole),
                                fraction_digits.empty() ? "" : ".", fraction_digits);
    mean.decimal_is_exact = true;
    return mean;
  }

  // Non-terminating: 6 decimal places, or 6 significant digits when the mean is below 1 so
  // that a small mean does not round to 0. p/q >= 2^-64, so the first significant digit
  // comes within 20 places.
  std::string fraction_digits;
  size_t wanted = 6;
  if (whole == 0) {
    while (true) {
      fraction_digits.push_back(next_digit());
      if (fraction_digits.back() != '0') break;
    }
    wanted = fraction_digits.size() + 5;
  }
  while (fraction_digits.size() < wanted) fraction_digits.push_back(next_digit());
  // Round half up on the magnitude. The expansion never ends, so a next digit of 5 is always
  // followed by something non-zero: strictly above the half.
  absl::uint128 rounded_whole = whole;
  if (next_digit() >= '5') {
    size_t i = fraction_digits.size();
    while (i > 0 && fraction_digits[i - 1] == '9') fraction_digits[--i] = '0';
    if (i > 0) {
      ++fraction_digits[i - 1];
    } else {
      ++rounded_whole;
    }
  }
  mean.decimal = absl::StrCat(sign, FormatUint128(rounded_whole), ".", fraction_digits);
  mean.decimal_is_exact = false;
  return mean;
}

std::string ReductionValue(Reduction reduction, const MapSummary& summary) {
  if (summary.job.output_type == ElementType::kDouble) {
    switch (reduction) {
      case Reduction::kSum:
        return FormatDouble(summary.doubles.sum.Round());
      case Reduction::kMin:
        return FormatDouble(summary.doubles.min);
      case Reduction::kMax:
        return FormatDouble(summary.doubles.max);
      case Reduction::kCount:
        return absl::StrCat(summary.count);
      case Reduction::kMean:
        // statistics.fmean's: the correctly rounded sum over the count.
        return FormatDouble(summary.doubles.sum.Round() / static_cast<double>(summary.count));
    }
  }
  if (!IsNumeric(summary.job.output_type)) return absl::StrCat(summary.count);
  switch (reduction) {
    case Reduction::kSum: return FormatInt128(summary.sum);
    case Reduction::kMin: return absl::StrCat(summary.min);
    case Reduction::kMax: return absl::StrCat(summary.max);
    case Reduction::kCount: return absl::StrCat(summary.count);
    case Reduction::kMean: {
      const ExactMean mean = ComputeMean(summary.sum, summary.count);
      return mean.decimal_is_exact ? mean.decimal : mean.fraction;
    }
  }
  return FormatInt128(summary.sum);
}

bool ReductionApplies(Reduction reduction, ElementType type) {
  return IsNumeric(type) || reduction == Reduction::kCount;
}

}  // namespace gpool
