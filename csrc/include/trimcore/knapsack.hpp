// 0/1 knapsack dynamic programs.
//
// * knapsack_fptas: value-rounding FPTAS (Ibarra-Kim): values rounded down to multiples of
//   mu = eps * v_max / n, table over rounded value of the least weight; the returned set is
//   feasible and worth at least (1 - eps) of the optimum.
// * knapsack_grid: exact DP over integer weights (weights already rounded up to a grid by the
//   caller, so the set is always feasible; exact when the weights are integers on the grid).
//
// Both scan items in the given order, update a cell only on strict improvement and backtrack
// from the last item, so the chosen set is a deterministic function of the input.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace trimcore {

// values > 0, weights >= 0 (all items already fit alone). Returns chosen item indices (ascending).
inline std::vector<std::int64_t> knapsack_fptas(const double* values, const double* weights, std::size_t n,
                                                double capacity, double eps) {
  std::vector<std::int64_t> chosen;
  if (n == 0) return chosen;
  double v_max = 0.0;
  for (std::size_t i = 0; i < n; ++i) v_max = values[i] > v_max ? values[i] : v_max;
  const double mu = eps * v_max / static_cast<double>(n);
  std::vector<std::int64_t> scaled(n);
  std::int64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = static_cast<std::int64_t>(std::floor(values[i] / mu));
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

// values > 0, integer weights in [0, capacity]. Returns chosen item indices (ascending).
inline std::vector<std::int64_t> knapsack_grid(const double* values, const std::int64_t* weights, std::size_t n,
                                               std::int64_t capacity) {
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
