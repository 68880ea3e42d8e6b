// 0/1 knapsack dynamic programs.
//
// * knapsack_fptas: value-rounding FPTAS (Ibarra-Kim): values rounded down to multiples of
//   mu = eps * v_max / n, table over rounded value of the least weight; the returned set is
//   feasible and worth at least (1 - eps) of the optimum. The rounded value is computed as
//   floor((v / v_max) * (n / eps)), never as v / mu: mu underflows to 0 for denormal values.
// * knapsack_grid: exact DP over integer weights (weights already rounded up to a grid by the
//   caller, so the set is always feasible; exact when the weights are integers on the grid).
//
// Both scan items in the given order, update a cell only on strict improvement and backtrack
// from the last item, so the chosen set is a deterministic function of the input.
//
// Both check their own preconditions first (check_knapsack_fptas / check_knapsack_grid): no
// input reaches undefined behaviour, whoever the caller. A defect is written to `*defect` (the
// result is then empty) or, with defect == nullptr, thrown as std::invalid_argument.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace trimcore {

// Largest memory (bytes) a knapsack table may take: the 1-byte take[n][width] table plus the
// 8-byte row beside it, counted together before anything is allocated.
constexpr double kKnapsackMaxBytes = 4e9;

enum class KnapsackField { None, Values, Weights, Capacity, Eps, Table };

// First violated precondition of a knapsack call. field == None: none.
struct KnapsackDefect {
  KnapsackField field = KnapsackField::None;
  std::size_t item = 0;  // the offending item (Values, Weights)
  double given = 0.0;    // the offending value (for Table: the bytes the table would take)
  bool ok() const { return field == KnapsackField::None; }
};

// The message of a defect: field, what was expected, what was given.
inline std::string describe(const KnapsackDefect& d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", d.given);  // std::to_string prints 5e-324 as 0.000000
  const std::string given = text;
  const std::string at = " at item " + std::to_string(d.item);
  switch (d.field) {
    case KnapsackField::None: return "no defect";
    case KnapsackField::Values: return "values: expected finite values > 0, got " + given + at;
    case KnapsackField::Weights: return "weights: expected finite values in [0, capacity], got " + given + at;
    case KnapsackField::Capacity: return "capacity: expected a finite value (an integer >= 0 for the grid), got " + given;
    case KnapsackField::Eps: return "eps: expected a value in (0, 1), got " + given;
    case KnapsackField::Table:
      return "knapsack table too large: expected at most 4e9 bytes, got " +
             given + " bytes (use a larger eps or fewer items)";
  }
  return "unknown defect";
}

namespace detail {
inline KnapsackDefect check_values(const double* values, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!(std::isfinite(values[i]) && values[i] > 0.0)) return {KnapsackField::Values, i, values[i]};
  return {};
}

inline std::vector<std::int64_t> refuse(const KnapsackDefect& d, KnapsackDefect* defect) {
  if (defect == nullptr) throw std::invalid_argument(describe(d));
  *defect = d;
  return {};
}

// Rounded value of item i (values already checked: finite, > 0, v_max their maximum).
inline double rounded_value(double value, double v_max, std::size_t n, double eps) {
  return std::floor((value / v_max) * (static_cast<double>(n) / eps));
}
}  // namespace detail

// Preconditions of knapsack_fptas: values finite > 0, weights finite >= 0, capacity finite,
// eps in (0, 1), and the table within `max_bytes` (counted in double: nothing overflows).
inline KnapsackDefect check_knapsack_fptas(const double* values, const double* weights, std::size_t n,
                                           double capacity, double eps, double max_bytes = kKnapsackMaxBytes) {
  if (KnapsackDefect d = detail::check_values(values, n); !d.ok()) return d;
  for (std::size_t i = 0; i < n; ++i)
    if (!(std::isfinite(weights[i]) && weights[i] >= 0.0)) return {KnapsackField::Weights, i, weights[i]};
  if (!std::isfinite(capacity)) return {KnapsackField::Capacity, 0, capacity};
  if (!(eps > 0.0 && eps < 1.0)) return {KnapsackField::Eps, 0, eps};
  double v_max = 0.0;
  for (std::size_t i = 0; i < n; ++i) v_max = values[i] > v_max ? values[i] : v_max;
  double width = 1.0;  // sum of rounded values + 1; may reach inf, never cast before the test
  for (std::size_t i = 0; i < n; ++i) width += detail::rounded_value(values[i], v_max, n, eps);
  const double bytes = (static_cast<double>(n) + 8.0) * width;
  if (!(bytes <= max_bytes)) return {KnapsackField::Table, 0, bytes};
  return {};
}

// Preconditions of knapsack_grid: values finite > 0, capacity >= 0, weights in [0, capacity], and
// the table within `max_bytes`.
inline KnapsackDefect check_knapsack_grid(const double* values, const std::int64_t* weights, std::size_t n,
                                          std::int64_t capacity, double max_bytes = kKnapsackMaxBytes) {
  if (KnapsackDefect d = detail::check_values(values, n); !d.ok()) return d;
  if (capacity < 0) return {KnapsackField::Capacity, 0, static_cast<double>(capacity)};
  for (std::size_t i = 0; i < n; ++i)
    if (weights[i] < 0 || weights[i] > capacity) return {KnapsackField::Weights, i, static_cast<double>(weights[i])};
  const double bytes = (static_cast<double>(n) + 8.0) * (static_cast<double>(capacity) + 1.0);
  if (!(bytes <= max_bytes)) return {KnapsackField::Table, 0, bytes};
  return {};
}

// Returns chosen item indices (ascending); see the preconditions above.
inline std::vector<std::int64_t> knapsack_fptas(const double* values, const double* weights, std::size_t n,
                                                double capacity, double eps, KnapsackDefect* defect = nullptr,
                                                double max_bytes = kKnapsackMaxBytes) {
  if (KnapsackDefect d = check_knapsack_fptas(values, weights, n, capacity, eps, max_bytes); !d.ok())
    return detail::refuse(d, defect);
  std::vector<std::int64_t> chosen;
  if (n == 0) return chosen;
  double v_max = 0.0;
  for (std::size_t i = 0; i < n; ++i) v_max = values[i] > v_max ? values[i] : v_max;
  std::vector<std::int64_t> scaled(n);
  std::int64_t total = 0;  // <= max_bytes, checked above
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = static_cast<std::int64_t>(detail::rounded_value(values[i], v_max, n, eps));
    total += scaled[i];
  }
  const auto width = static_cast<std::size_t>(total) + 1;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> least(width, inf);
  least[0] = 0.0;
  std::vector<std::uint8_t> take(n * width, 0);
  std::int64_t reach = 0;  // largest rounded value reached so far
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t vi = scaled[i];
    std::uint8_t* row = take.data() + i * width;
    for (std::int64_t t = reach + vi; t >= vi; --t) {
      const double candidate = least[static_cast<std::size_t>(t - vi)] + weights[i];
      if (candidate < least[static_cast<std::size_t>(t)]) {
        least[static_cast<std::size_t>(t)] = candidate;
        row[t] = 1;
      }
    }
    reach += vi;
  }
  std::int64_t best = 0;
  for (std::int64_t t = reach; t >= 0; --t)
    if (least[static_cast<std::size_t>(t)] <= capacity) {
      best = t;
      break;
    }
  for (std::size_t i = n; i-- > 0;) {
    if (take[i * width + static_cast<std::size_t>(best)]) {
      chosen.push_back(static_cast<std::int64_t>(i));
      best -= scaled[i];
    }
  }
  return {chosen.rbegin(), chosen.rend()};
}

// Returns chosen item indices (ascending); see the preconditions above.
inline std::vector<std::int64_t> knapsack_grid(const double* values, const std::int64_t* weights, std::size_t n,
                                               std::int64_t capacity, KnapsackDefect* defect = nullptr,
                                               double max_bytes = kKnapsackMaxBytes) {
  if (KnapsackDefect d = check_knapsack_grid(values, weights, n, capacity, max_bytes); !d.ok())
    return detail::refuse(d, defect);
  const auto width = static_cast<std::size_t>(capacity) + 1;
  std::vector<double> best(width, 0.0);
  std::vector<std::uint8_t> take(n * width, 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t* row = take.data() + i * width;
    for (std::int64_t c = capacity; c >= weights[i]; --c) {
      const double candidate = best[static_cast<std::size_t>(c - weights[i])] + values[i];
      if (candidate > best[static_cast<std::size_t>(c)]) {
        best[static_cast<std::size_t>(c)] = candidate;
        row[c] = 1;
      }
    }
  }
  std::vector<std::int64_t> chosen;
  std::int64_t c = capacity;
  for (std::size_t i = n; i-- > 0;) {
    if (take[i * width + static_cast<std::size_t>(c)]) {
      chosen.push_back(static_cast<std::int64_t>(i));
      c -= weights[i];
    }
  }
  return {chosen.rbegin(), chosen.rend()};
}

}  // namespace trimcore
