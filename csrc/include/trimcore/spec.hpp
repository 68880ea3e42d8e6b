// TrimCaching Spec in C++ (spec §5.1): the successive greedy over servers with a knapsack DP per
// realisable union of shared blocks, exactly as Python's trimcore.placement.spec runs it (same
// candidates, same combination order, same pruning bound, same knapsack choice, same sums), so
// tc.trimcaching_spec on the cpp tier is this function:
//
//   trimcore::SpecResult r = trimcore::trimcaching_spec(problem, trimcore::SpecOptions{});
//
// With atomic = true every model is one indivisible file (the independent-caching baseline).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "trimcore/coverage.hpp"
#include "trimcore/knapsack.hpp"
#include "trimcore/placement.hpp"

namespace trimcore {

enum class KnapsackMethod { automatic, fptas, grid };

struct SpecOptions {
  double eps = 0.1;                                       // the FPTAS accuracy, in (0, 1)
  KnapsackMethod knapsack = KnapsackMethod::automatic;    // Python's knapsack="auto" | "fptas" | "grid"
  std::int64_t grid_cells = 4096;                         // capacity cells of the "grid" DP, in [1, grid_cell_limit]
  std::int64_t max_combinations = 4096;                   // refuse a server with more shared-block unions
  std::vector<std::int64_t> server_order;                 // a permutation of [0, M); empty = index order
  bool atomic = false;                                    // models as indivisible files (independent caching)
  // trimcore.placement.spec's GRID_CELL_LIMIT, FPTAS_TABLE_LIMIT, FPTAS_HARD_LIMIT
  std::int64_t grid_cell_limit = std::int64_t{1} << 22;
  double fptas_table_limit = 50000000.0;
  double fptas_hard_limit = 4000000000.0;
};

struct SpecResult {
  std::vector<std::uint8_t> placement;  // [M*I]
  double hit_weight = 0.0;
  double hit_ratio = 0.0;
  // Python's options counters: knapsacks solved, pruned by the LP bound, the most unions on a server,
  // and the knapsacks by the method used (knapsack_auto: empty knapsacks under "auto")
  std::int64_t knapsacks = 0, pruned = 0, most_combinations = 0;
  std::int64_t knapsack_grid_exact = 0, knapsack_fptas = 0, knapsack_grid = 0, knapsack_auto = 0;
  bool guaranteed = true;  // no rounded-grid knapsack: the (1 - eps)/2 guarantee holds
};

namespace detail {

constexpr double kPruneRtol = 1e-9;          // trimcore._tolerances.PRUNE_RTOL
constexpr double kGridRoundingRtol = 1e-12;  // trimcore._tolerances.GRID_ROUNDING_RTOL

// Python's / NumPy's float floor division (CPython float_divmod, npy_divmod), for b != 0.
inline double py_floordiv(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0) {
    if ((b < 0) != (mod < 0)) div -= 1.0;
  }
  if (div != 0.0) {
    double floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
    return floordiv;
  }
  return std::copysign(0.0, a / b);
}

// Left-to-right sum (trimcore._numeric.sequential_sum).
inline double sequential(const std::vector<double>& v) {
  double s = 0.0;
  for (const double x : v) s += x;
  return s;
}

// trimcore._numeric.fractional_knapsack for values > 0 and weights > 0 (what Spec passes).
inline double fractional_knapsack(const std::vector<double>& values, const std::vector<double>& weights, double capacity) {
  if (values.empty() || capacity <= 0) return 0.0;
  const std::size_t n = values.size();
  std::vector<double> key(n);
  for (std::size_t t = 0; t < n; ++t) key[t] = -values[t] / weights[t];
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key[a] < key[b]; });
  std::vector<double> filled(n), gained(n);
  double f = 0.0, g = 0.0;
  for (std::size_t t = 0; t < n; ++t) {  // np.cumsum
    f += weights[order[t]];
    g += values[order[t]];
    filled[t] = f;
    gained[t] = g;
  }
  // searchsorted(filled, capacity, side="right")
  const auto whole = static_cast<std::size_t>(std::upper_bound(filled.begin(), filled.end(), capacity) - filled.begin());
  double total = 0.0;
  total += whole ? gained[whole - 1] : 0.0;
  if (whole < n) {
    const double rest = capacity - (whole ? filled[whole - 1] : 0.0);
    total += rest / weights[order[whole]] * values[order[whole]];
  }
  return total;
}

inline std::vector<std::int64_t> checked_knapsack_fptas(const std::vector<double>& v, const std::vector<double>& w,
                                                        double capacity, double eps) {
  KnapsackDefect d;
  std::vector<std::int64_t> chosen = knapsack_fptas(v.data(), w.data(), v.size(), capacity, eps, &d);
  if (!d.ok()) throw InstanceDefect(describe(d));
  return chosen;
}

inline std::vector<std::int64_t> checked_knapsack_grid(const std::vector<double>& v, const std::vector<std::int64_t>& w,
                                                       std::int64_t capacity) {
  KnapsackDefect d;
  std::vector<std::int64_t> chosen = knapsack_grid(v.data(), w.data(), v.size(), capacity, &d);
  if (!d.ok()) throw InstanceDefect(describe(d));
  return chosen;
}

// trimcore.placement.spec.solve_knapsack for values > 0: chosen ids (ascending) and the method used.
inline std::vector<std::int64_t> solve_knapsack(const std::vector<double>& values, const std::vector<double>& weights,
                                                double capacity, const SpecOptions& o, std::string* used) {
  const std::size_t n = values.size();
  const char* names[] = {"auto", "fptas", "grid"};
  *used = names[static_cast<int>(o.knapsack)];
  if (n == 0) return {};
  const double v_max = *std::max_element(values.begin(), values.end());
  std::vector<double> rounded(n);
  for (std::size_t t = 0; t < n; ++t) rounded[t] = detail::rounded_value(values[t], v_max, n, o.eps);
  const double fptas_cols = pairwise_sum(rounded.data(), n) + 1.0;  // np.sum's bits
  KnapsackMethod method = o.knapsack;
  if (method == KnapsackMethod::automatic) {
    bool integral = true;
    double w_max = weights[0];
    for (const double w : weights) {
      integral = integral && w == std::floor(w);
      w_max = std::max(w_max, w);
    }
    if (integral && w_max < 9007199254740992.0) {
      std::int64_t unit = 0;
      for (const double w : weights)
        if (w > 0) unit = std::gcd(unit, static_cast<std::int64_t>(w));
      if (unit == 0) unit = 1;
      const double cells = py_floordiv(capacity, static_cast<double>(unit));
      if (cells <= std::min(fptas_cols, static_cast<double>(o.grid_cell_limit))) {
        std::vector<std::int64_t> units(n);
        for (std::size_t t = 0; t < n; ++t) units[t] = static_cast<std::int64_t>(py_floordiv(weights[t], static_cast<double>(unit)));
        *used = "grid-exact";
        return checked_knapsack_grid(values, units, static_cast<std::int64_t>(cells));
      }
    }
    method = static_cast<double>(n) * fptas_cols <= o.fptas_table_limit ? KnapsackMethod::fptas : KnapsackMethod::grid;
  }
  if (method == KnapsackMethod::fptas) {
    *used = "fptas";
    const double footprint = (static_cast<double>(n) + 8.0) * fptas_cols;
    if (!(footprint <= o.fptas_hard_limit)) {
      char buf[320];
      std::snprintf(buf, sizeof buf,
                    "knapsack: expected an FPTAS table of at most %.0e bytes (use knapsack='auto' or 'grid', or a larger "
                    "eps), got %zu items x %.0f value cells = %.3g bytes",
                    o.fptas_hard_limit, n, fptas_cols, footprint);
      throw InstanceDefect(buf);
    }
    return checked_knapsack_fptas(values, weights, capacity, o.eps);
  }
  *used = "grid";
  const double cell = capacity / static_cast<double>(o.grid_cells);
  std::vector<double> kept_values;
  std::vector<std::int64_t> kept_units, index;
  for (std::size_t t = 0; t < n; ++t) {
    const double u = std::ceil(weights[t] / cell * (1.0 + kGridRoundingRtol));
    if (u <= static_cast<double>(o.grid_cells)) {
      kept_values.push_back(values[t]);
      kept_units.push_back(static_cast<std::int64_t>(u));
      index.push_back(static_cast<std::int64_t>(t));
    }
  }
  std::vector<std::int64_t> chosen = checked_knapsack_grid(kept_values, kept_units, o.grid_cells);
  for (auto& c : chosen) c = index[static_cast<std::size_t>(c)];
  return chosen;
}

using Mask = std::vector<Word>;  // a union of shared blocks, bit p = the p-th shared block

// Masks ordered as Python orders the integers they stand for.
struct MaskLess {
  bool operator()(const Mask& a, const Mask& b) const {
    for (std::size_t w = a.size(); w-- > 0;)
      if (a[w] != b[w]) return a[w] < b[w];
    return false;
  }
};

}  // namespace detail

// TrimCaching Spec (or, with atomic, independent caching) exactly as Python's successive_knapsack.
inline SpecResult trimcaching_spec(const PlacementProblem& problem, const SpecOptions& o = {}) {
  if (!(o.eps > 0.0 && o.eps < 1.0)) detail::defect("eps", "a number in (0, 1)", detail::num(o.eps));
  if (o.grid_cell_limit < 1 || o.grid_cells < 1 || o.grid_cells > o.grid_cell_limit)
    detail::defect("grid_cells", "an integer in [1, " + std::to_string(o.grid_cell_limit) + "]",
                   std::to_string(o.grid_cells));
  if (o.max_combinations < 1) detail::defect("max_combinations", "an integer >= 1", std::to_string(o.max_combinations));
  if (o.knapsack != KnapsackMethod::automatic && o.knapsack != KnapsackMethod::fptas && o.knapsack != KnapsackMethod::grid)
    throw InstanceDefect("knapsack: expected automatic, fptas or grid");
  const auto M = static_cast<std::size_t>(problem.n_servers()), I = static_cast<std::size_t>(problem.n_models()),
             K = static_cast<std::size_t>(problem.n_users()), J = static_cast<std::size_t>(problem.n_blocks());
  std::vector<std::int64_t> order = o.server_order;
  if (order.empty()) {
    order.resize(M);
    std::iota(order.begin(), order.end(), std::int64_t{0});
  } else {
    std::vector<std::uint8_t> seen(M, 0);
    bool ok = order.size() == M;
    for (const std::int64_t m : order) {
      ok = ok && m >= 0 && static_cast<std::size_t>(m) < M && !seen[static_cast<std::size_t>(m)];
      if (ok) seen[static_cast<std::size_t>(m)] = 1;
    }
    if (!ok) detail::defect("server_order", "a permutation of the " + std::to_string(M) + " servers",
                            std::to_string(order.size()) + " entries that are not one");
  }
  // shared blocks (in two models or more, ascending) and each model's shared mask and private size
  const std::vector<Word>& bits = problem.model_bits();
  const std::size_t n_words = problem.n_words();
  std::vector<std::int64_t> position(J, -1);
  std::vector<double> shared_sizes;
  if (!o.atomic)
    for (std::size_t j = 0; j < J; ++j)
      if (problem.block_ptr()[j + 1] - problem.block_ptr()[j] >= 2) {
        position[j] = static_cast<std::int64_t>(shared_sizes.size());
        shared_sizes.push_back(problem.block_sizes()[j]);
      }
  const std::size_t S = shared_sizes.size(), W = (S + 63) / 64;
  std::vector<detail::Mask> mask(I, detail::Mask(W, 0));
  std::vector<double> priv(I, 0.0);
  for (std::size_t i = 0; i < I; ++i) {
    if (o.atomic) {
      priv[i] = problem.model_sizes()[i];
      continue;
    }
    double sum = 0.0;
    for (std::size_t w = 0; w < n_words; ++w) {
      Word b = bits[i * n_words + w];
      while (b) {
        const std::size_t j = w * 64 + static_cast<std::size_t>(ctz64(b));
        b &= b - 1;
        if (position[j] >= 0) {
          const auto p = static_cast<std::size_t>(position[j]);
          mask[i][p / 64] |= Word{1} << (p % 64);
        } else {
          sum += problem.block_sizes()[j];  // ascending block ids, left to right
        }
      }
    }
    priv[i] = sum;
  }
  SpecResult r;
  r.placement.assign(M * I, 0);
  std::vector<std::uint8_t> covered(I * K, 0);
  std::vector<double> gains(I);
  const PairCoverage cov = problem.coverage();
  const DemandView weight = problem.weight_view();
  for (const std::int64_t ms : order) {
    const auto m = static_cast<std::size_t>(ms);
    const double limit = problem.capacity()[m] * (1.0 + kGreedyRtol);
    server_gains(cov, m, weight, covered.data(), gains.data());
    std::vector<std::size_t> cand;
    for (std::size_t i = 0; i < I; ++i)
      if (gains[i] > 0.0 && (o.atomic ? priv[i] : problem.model_sizes()[i]) <= limit) cand.push_back(i);
    std::set<detail::Mask, detail::MaskLess> distinct;
    for (const std::size_t i : cand) distinct.insert(mask[i]);
    std::set<detail::Mask, detail::MaskLess> combos = {detail::Mask(W, 0)};
    for (const detail::Mask& add : distinct) {  // ascending, as Python's sorted()
      std::vector<detail::Mask> grown;
      for (const detail::Mask& c : combos) {
        detail::Mask u = c;
        for (std::size_t w = 0; w < W; ++w) u[w] |= add[w];
        grown.push_back(std::move(u));
      }
      combos.insert(grown.begin(), grown.end());
      if (static_cast<std::int64_t>(combos.size()) > o.max_combinations)
        throw InstanceDefect("server " + std::to_string(m) + ": more than " + std::to_string(o.max_combinations) +
                             " combinations of shared blocks (max_combinations); this library has too much sharing "
                             "for trimcaching_spec, use trimcaching_gen (general case) or raise max_combinations");
    }
    r.most_combinations = std::max(r.most_combinations, static_cast<std::int64_t>(combos.size()));
    // by (size of the union, the union as an integer)
    std::vector<std::pair<double, detail::Mask>> sized;
    for (const detail::Mask& c : combos) {
      double size = 0.0;
      for (std::size_t p = 0; p < S; ++p)
        if (c[p / 64] >> (p % 64) & 1) size += shared_sizes[p];
      sized.emplace_back(size, c);
    }
    std::sort(sized.begin(), sized.end(), [](const auto& a, const auto& b) {
      return a.first < b.first || (a.first == b.first && detail::MaskLess{}(a.second, b.second));
    });
    double best_value = 0.0;
    std::vector<std::size_t> best_set;
    for (const auto& [combo_size, combo] : sized) {
      const double room = limit - combo_size;
      if (room < 0.0) continue;
      std::vector<std::size_t> free, paid;
      for (const std::size_t i : cand) {
        bool inside = true;
        for (std::size_t w = 0; w < W; ++w) inside = inside && (mask[i][w] & ~combo[w]) == 0;
        if (!inside || !(priv[i] <= room)) continue;
        (priv[i] <= 0.0 ? free : paid).push_back(i);
      }
      if (free.empty() && paid.empty()) continue;
      std::vector<double> free_gains, paid_gains, paid_weights;
      for (const std::size_t i : free) free_gains.push_back(gains[i]);
      for (const std::size_t i : paid) {
        paid_gains.push_back(gains[i]);
        paid_weights.push_back(priv[i]);
      }
      // the knapsack can only win with a value above best_value; its LP relaxation bounds it
      const double bound = detail::pairwise_sum(free_gains.data(), free_gains.size()) +
                           detail::fractional_knapsack(paid_gains, paid_weights, room);
      if (bound < best_value * (1.0 - detail::kPruneRtol)) {
        ++r.pruned;
        continue;
      }
      std::string used;
      const std::vector<std::int64_t> chosen = detail::solve_knapsack(paid_gains, paid_weights, room, o, &used);
      ++r.knapsacks;
      if (used == "grid-exact") ++r.knapsack_grid_exact;
      else if (used == "fptas") ++r.knapsack_fptas;
      else if (used == "grid") ++r.knapsack_grid;
      else ++r.knapsack_auto;
      std::vector<std::size_t> selected = free;
      for (const std::int64_t c : chosen) selected.push_back(paid[static_cast<std::size_t>(c)]);
      std::sort(selected.begin(), selected.end());
      double value = 0.0;
      for (const std::size_t i : selected) value += gains[i];
      if (value > best_value) {
        best_value = value;
        best_set = std::move(selected);
      }
    }
    for (const std::size_t i : best_set) {
      r.placement[m * I + i] = 1;
      cover_pair(cov, cov.pair(m, i), covered.data() + i * K);
    }
  }
  r.guaranteed = r.knapsack_grid == 0;
  r.hit_weight = hit_weight(problem, r.placement);
  r.hit_ratio = r.hit_weight / problem.total_popularity();
  return r;
}

}  // namespace trimcore
