// The TrimCaching placement problem as an owned, validated C++ object, its evaluators and the
// complete TrimCaching Gen algorithm (candidate filtering, warm start, both greedy rules and
// best-of-both), so a C++ program (a simulator) calls the same implementation as Python:
//
//   auto problem = trimcore::PlacementProblem::from_max_size(block_sizes, model_blocks, capacity,
//                                                            popularity, max_size);
//   trimcore::GenResult r = trimcore::trimcaching_gen(problem);
//
// Only the static factories build a PlacementProblem and they validate everything (throwing
// InstanceDefect naming the field), so the algorithms never see unchecked data.
//
// Bit-exactness with Python: model sizes and the total popularity are summed in NumPy's order
// (np.add.reduceat / ndarray.sum, i.e. pairwise summation), the pair CSR is built as
// trimcore.PlacementProblem builds it, and the greedy engine is the one of greedy.hpp.
//
// 64-bit ids: pair offsets and counts are int64 / size_t; user ids are int32 (pair_users) and
// model ids int32 (block_models), so n_users and n_models must stay below 2^31 (refused otherwise).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "trimcore/array_view.hpp"
#include "trimcore/bitset.hpp"
#include "trimcore/coverage.hpp"
#include "trimcore/greedy.hpp"

namespace trimcore {

// Thrown by every validating constructor/entry point; what() names the field, e.g.
// "capacity: expected finite values >= 0, got -1 at server 3".
struct InstanceDefect : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Storage tolerance of the algorithms (= trimcore._tolerances.ALGORITHM_RTOL, Python's GREEDY_RTOL).
constexpr double kGreedyRtol = 1e-12;
// Largest count that fits the int32 ids of pair_users / block_models.
constexpr std::int64_t kMaxInt32Ids = std::int64_t{1} << 31;

namespace detail {

inline std::string num(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

[[noreturn]] inline void defect(const std::string& field, const std::string& expected, const std::string& given) {
  throw InstanceDefect(field + ": expected " + expected + ", got " + given);
}

// NumPy's pairwise summation of a contiguous float64 run (numpy/_core/src/umath/loops_utils.h),
// so that sums here carry the same bits as NumPy's.
inline double pairwise_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double res = 0.0;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (std::size_t j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

// np.add.reduceat over one non-empty segment: the first element, then the pairwise sum of the rest.
inline double reduceat_sum(const double* a, std::size_t n) { return a[0] + pairwise_sum(a + 1, n - 1); }

// Finite (or +inf when allow_inf) values >= minimum (> 0 when strictly_positive); `what` names an entry.
inline void check_reals(const std::vector<double>& v, const char* field, bool strictly_positive, bool allow_inf,
                        const char* what) {
  const std::string expected = strictly_positive ? "finite values > 0" : allow_inf ? "values >= 0 (inf allowed)"
                                                                                   : "finite values >= 0";
  for (std::size_t t = 0; t < v.size(); ++t) {
    const double x = v[t];
    const bool ok = std::isnan(x) ? false
                    : std::isinf(x) ? (allow_inf && x > 0)
                                    : (strictly_positive ? x > 0.0 : x >= 0.0);
    if (!ok) defect(field, expected, num(x) + " at " + what + " " + std::to_string(t));
  }
}

inline void check_flags(const std::vector<std::uint8_t>& v, const char* field) {
  for (std::size_t t = 0; t < v.size(); ++t)
    if (v[t] > 1) defect(field, "0/1 values", std::to_string(v[t]) + " at index " + std::to_string(t));
}

}  // namespace detail

// Compact demand (trimcore.placement.demand): p(k, i) = rate[k] * by_model[i * n_groups + group[k]].
struct FactoredDemand {
  std::vector<double> by_model;     // [I * G], G = n_groups popularity vectors stored by model
  std::size_t n_groups = 0;
  std::vector<std::int32_t> group;  // [K] ids in [0, G)
  std::vector<double> rate;         // [K] request rates >= 0, or empty: 1 for every user
};

// What a factory takes as demand: dense popularity [K * I] (the API's (K, I) layout, as before)
// or a FactoredDemand (user groups, or G = 1 for a global ranking with per-user rates).
struct Popularity {
  Popularity(std::vector<double> dense_) : dense(std::move(dense_)) {}  // NOLINT: implicit, as before
  Popularity(std::initializer_list<double> dense_) : dense(dense_) {}
  Popularity(FactoredDemand demand_) : factored(true), demand(std::move(demand_)) {}  // NOLINT
  bool factored = false;
  std::vector<double> dense;
  FactoredDemand demand;
};

// An owned, validated placement problem (exactly trimcore.PlacementProblem's data). Only the
// static factories below build one, so a caller can never reach an algorithm with unchecked data.
class PlacementProblem {
 public:
  // eligible[m,k,i] = model_size[i] <= max_size[m*K + k]  (Python: PlacementProblem.from_library)
  static PlacementProblem from_max_size(std::vector<double> block_sizes,
                                        std::vector<std::vector<std::int64_t>> model_blocks,
                                        std::vector<double> capacity, Popularity popularity,
                                        std::vector<double> max_size) {
    PlacementProblem p;
    p.set_library(std::move(block_sizes), model_blocks);
    p.set_capacity(std::move(capacity));
    const std::size_t M = p.n_servers_;
    detail::check_reals(max_size, "max_size", false, true, "index");
    std::size_t K = 0;
    if (M > 0) {
      if (max_size.size() % M != 0)
        detail::defect("max_size", "M*K entries with M = " + std::to_string(M) + " servers",
                       std::to_string(max_size.size()) + " entries");
      K = max_size.size() / M;
      p.set_popularity(std::move(popularity), K);
    } else {  // no server: K comes from the popularity
      if (!max_size.empty()) detail::defect("max_size", "no entries for 0 servers", std::to_string(max_size.size()));
      if (popularity.factored) {
        K = popularity.demand.group.size();
      } else {
        if (popularity.dense.size() % p.n_models_ != 0)
          detail::defect("popularity", "K*I entries with I = " + std::to_string(p.n_models_) + " models",
                         std::to_string(popularity.dense.size()) + " entries");
        K = popularity.dense.size() / p.n_models_;
      }
      p.set_popularity(std::move(popularity), K);
    }
    const std::size_t I = p.n_models_;
    p.pair_ptr_.assign(M * I, 0);
    p.pair_len_.assign(M * I, 0);
    // Only users some model reaches (max_size >= the smallest model) can be in a pair, and in the
    // decreasing order they come first: sorting just them gives the same prefixes (at city scale most
    // users reach few servers). (max_size, user) pairs sort faster than ids through the values.
    const double smallest = *std::min_element(p.model_sizes_.begin(), p.model_sizes_.end());
    std::vector<std::pair<double, std::int32_t>> order;
    order.reserve(K);
    std::int64_t start = 0;
    for (std::size_t m = 0; m < M; ++m) {
      const double* smax = max_size.data() + m * K;
      order.clear();
      for (std::size_t k = 0; k < K; ++k)
        if (smax[k] >= smallest) order.emplace_back(smax[k], static_cast<std::int32_t>(k));
      // decreasing max_size, ties by user id (Python: argsort(-smax, kind="stable"); ids are distinct,
      // so the order is total and std::sort gives exactly that permutation)
      std::sort(order.begin(), order.end(), [](const std::pair<double, std::int32_t>& a, const std::pair<double, std::int32_t>& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      std::int64_t longest = 0;
      for (std::size_t i = 0; i < I; ++i) {
        // users with max_size >= size_i are a prefix of `order`
        const double size = p.model_sizes_[i];
        const auto end = std::partition_point(order.begin(), order.end(),
                                              [size](const std::pair<double, std::int32_t>& u) { return u.first >= size; });
        const auto len = static_cast<std::int64_t>(end - order.begin());
        p.pair_ptr_[m * I + i] = start;
        p.pair_len_[m * I + i] = len;
        longest = std::max(longest, len);
      }
      for (std::int64_t t = 0; t < longest; ++t) p.pair_users_.push_back(order[static_cast<std::size_t>(t)].second);
      start += longest;
    }
    p.max_size_ = std::move(max_size);
    p.compact_ = true;
    return p;
  }

 private:
  // The library, capacities and demand of the factories that are given the user count.
  static PlacementProblem with_users(std::vector<double> block_sizes,
                                     const std::vector<std::vector<std::int64_t>>& model_blocks,
                                     std::vector<double> capacity, Popularity popularity, std::int64_t n_users) {
    PlacementProblem p;
    p.set_library(std::move(block_sizes), model_blocks);
    p.set_capacity(std::move(capacity));
    if (n_users < 0 || n_users >= kMaxInt32Ids)
      detail::defect("n_users", "a count in [0, 2^31) (user ids are int32)", std::to_string(n_users));
    p.set_popularity(std::move(popularity), static_cast<std::size_t>(n_users));
    return p;
  }

 public:
  // eligible[(m*K + k)*I + i] in {0,1}  (Python: PlacementProblem.from_arrays)
  static PlacementProblem from_dense(std::vector<double> block_sizes, std::vector<std::vector<std::int64_t>> model_blocks,
                                     std::vector<double> capacity, Popularity popularity,
                                     std::vector<std::uint8_t> eligible, std::int64_t n_users) {
    PlacementProblem p = with_users(std::move(block_sizes), model_blocks, std::move(capacity),
                                    std::move(popularity), n_users);
    const auto K = static_cast<std::size_t>(n_users);
    const std::size_t M = p.n_servers_, I = p.n_models_;
    // M*K*I without overflow: compare against the real vector length step by step
    const bool size_ok = M == 0 ? eligible.empty()
                                : (eligible.size() % (M * I) == 0 && eligible.size() / (M * I) == K);
    if (!size_ok)
      detail::defect("eligible", "M*K*I = " + std::to_string(M) + "*" + std::to_string(K) + "*" + std::to_string(I) +
                                     " entries", std::to_string(eligible.size()) + " entries");
    detail::check_flags(eligible, "eligible");
    p.pair_ptr_.assign(M * I, 0);
    p.pair_len_.assign(M * I, 0);
    std::int64_t start = 0;
    for (std::size_t m = 0; m < M; ++m)
      for (std::size_t i = 0; i < I; ++i) {
        p.pair_ptr_[m * I + i] = start;
        for (std::size_t k = 0; k < K; ++k)
          if (eligible[(m * K + k) * I + i]) p.pair_users_.push_back(static_cast<std::int32_t>(k));
        const auto end = static_cast<std::int64_t>(p.pair_users_.size());
        p.pair_len_[m * I + i] = end - start;
        start = end;
      }
    return p;
  }

  // Additive: explicit pair lists, as trimcore.PlacementProblem stores a dense problem (and its
  // files): the users of pair p = m*I + i are pair_users[pair_ptr[p] ..][.. pair_len[p]], strictly
  // increasing. Every extent and id is checked.
  static PlacementProblem from_pairs(std::vector<double> block_sizes, std::vector<std::vector<std::int64_t>> model_blocks,
                                     std::vector<double> capacity, Popularity popularity,
                                     std::vector<std::int64_t> pair_ptr, std::vector<std::int64_t> pair_len,
                                     std::vector<std::int32_t> pair_users, std::int64_t n_users) {
    PlacementProblem p = with_users(std::move(block_sizes), model_blocks, std::move(capacity),
                                    std::move(popularity), n_users);
    const auto K = static_cast<std::size_t>(n_users);
    const std::size_t n_pairs = p.n_servers_ * p.n_models_;
    if (pair_ptr.size() != n_pairs)
      detail::defect("pair_ptr", std::to_string(n_pairs) + " entries (M*I)", std::to_string(pair_ptr.size()));
    if (pair_len.size() != n_pairs)
      detail::defect("pair_len", std::to_string(n_pairs) + " entries (M*I)", std::to_string(pair_len.size()));
    p.pair_ptr_ = std::move(pair_ptr);
    p.pair_len_ = std::move(pair_len);
    p.pair_users_ = std::move(pair_users);
    const CoverageDefect d = check_pair_coverage(p.coverage());
    if (d.field == CoverageDefect::Field::Extent)
      detail::defect("pair_ptr/pair_len", "extents inside pair_users (size " + std::to_string(p.pair_users_.size()) + ")",
                     "pair " + std::to_string(d.index));
    if (d.field == CoverageDefect::Field::User)
      detail::defect("pair_users", "user ids in [0, " + std::to_string(K) + ")",
                     std::to_string(d.value) + " at position " + std::to_string(d.index));
    for (std::size_t q = 0; q < n_pairs; ++q) {
      const std::int32_t* u = p.pair_users_.data() + p.pair_ptr_[q];
      for (std::int64_t t = 1; t < p.pair_len_[q]; ++t)
        if (u[t] <= u[t - 1])
          detail::defect("pair_users", "strictly increasing user ids within each pair",
                         "a repeated or unsorted user in pair " + std::to_string(q));
    }
    return p;
  }

  // Per-server user lists shared by that server's pairs (Python: PlacementProblem.from_reach and the
  // compact form): the users of pair (m, i) are the first pair_len[m*I + i] entries of server m's list
  // server_users[server_ptr[m] .. server_ptr[m+1]). Checked: CSR offsets, ids in [0, n_users),
  // distinct ids within a server's list (so within every pair), pair lengths within their list.
  // O(M I + entries + K), never the M x K sizes.
  static PlacementProblem from_prefixes(std::vector<double> block_sizes,
                                        std::vector<std::vector<std::int64_t>> model_blocks,
                                        std::vector<double> capacity, Popularity popularity,
                                        const std::vector<std::int64_t>& server_ptr,
                                        std::vector<std::int32_t> server_users, std::vector<std::int64_t> pair_len,
                                        std::int64_t n_users) {
    PlacementProblem p = with_users(std::move(block_sizes), model_blocks, std::move(capacity),
                                    std::move(popularity), n_users);
    const auto K = static_cast<std::size_t>(n_users);
    const std::size_t M = p.n_servers_, I = p.n_models_;
    const auto n_entries = static_cast<std::int64_t>(server_users.size());
    if (server_ptr.size() != M + 1 || server_ptr[0] != 0 || server_ptr[M] != n_entries)
      detail::defect("server_ptr", std::to_string(M + 1) + " offsets from 0 to " + std::to_string(n_entries),
                     std::to_string(server_ptr.size()) + " offsets");
    for (std::size_t m = 0; m < M; ++m)
      if (server_ptr[m + 1] < server_ptr[m]) detail::defect("server_ptr", "non-decreasing offsets", "server " + std::to_string(m));
    if (pair_len.size() != M * I)
      detail::defect("pair_len", std::to_string(M * I) + " entries (M*I)", std::to_string(pair_len.size()));
    std::vector<std::int64_t> stamp(K, -1);
    for (std::size_t m = 0; m < M; ++m) {
      for (std::int64_t t = server_ptr[m]; t < server_ptr[m + 1]; ++t) {
        const std::int32_t u = server_users[static_cast<std::size_t>(t)];
        if (u < 0 || static_cast<std::size_t>(u) >= K)
          detail::defect("server_users", "user ids in [0, " + std::to_string(K) + ")",
                         std::to_string(u) + " at position " + std::to_string(t));
        if (stamp[static_cast<std::size_t>(u)] == static_cast<std::int64_t>(m))
          detail::defect("server_users", "distinct user ids within each server's list",
                         "user " + std::to_string(u) + " twice for server " + std::to_string(m));
        stamp[static_cast<std::size_t>(u)] = static_cast<std::int64_t>(m);
      }
      const std::int64_t len = server_ptr[m + 1] - server_ptr[m];
      for (std::size_t i = 0; i < I; ++i) {
        const std::int64_t l = pair_len[m * I + i];
        if (l < 0 || l > len)
          detail::defect("pair_len", "lengths in [0, " + std::to_string(len) + "] (server " + std::to_string(m) + "'s list)",
                         std::to_string(l) + " at pair " + std::to_string(m * I + i));
      }
    }
    p.pair_ptr_.resize(M * I);
    for (std::size_t m = 0; m < M; ++m)
      for (std::size_t i = 0; i < I; ++i) p.pair_ptr_[m * I + i] = server_ptr[m];
    p.pair_len_ = std::move(pair_len);
    p.pair_users_ = std::move(server_users);
    return p;
  }

  std::int64_t n_servers() const { return static_cast<std::int64_t>(n_servers_); }
  std::int64_t n_users() const { return static_cast<std::int64_t>(n_users_); }
  std::int64_t n_models() const { return static_cast<std::int64_t>(n_models_); }
  std::int64_t n_blocks() const { return static_cast<std::int64_t>(block_sizes_.size()); }
  // same float value as Python's library.model_sizes[i]
  double model_size(std::int64_t i) const {
    if (i < 0 || i >= n_models())
      detail::defect("model", "an index in [0, " + std::to_string(n_models_) + ")", std::to_string(i));
    return model_sizes_[static_cast<std::size_t>(i)];
  }
  // Sum of all request probabilities, as Python's problem.total_popularity.
  double total_popularity() const { return total_popularity_; }
  // Built by from_max_size (eligibility from max_size) rather than explicit user lists.
  bool is_compact() const { return compact_; }
  const std::vector<double>& max_size() const { return max_size_; }  // [M*K], empty unless compact

  // Read-only data (additive accessors for bindings and tests).
  const std::vector<double>& block_sizes() const { return block_sizes_; }
  const std::vector<double>& model_sizes() const { return model_sizes_; }
  const std::vector<double>& capacity() const { return capacity_; }
  // [I*G] (dense demand: G = K, the popularity by model [I*K])
  const std::vector<double>& popularity_by_model() const { return pop_by_model_; }
  std::int64_t n_groups() const { return static_cast<std::int64_t>(n_groups_); }
  bool is_factored() const { return factored_; }
  const std::vector<std::int32_t>& group() const { return group_; }  // [K], empty for dense demand
  const std::vector<double>& rate() const { return rate_; }          // [K], empty: rate 1
  const std::vector<std::int64_t>& pair_ptr() const { return pair_ptr_; }
  const std::vector<std::int64_t>& pair_len() const { return pair_len_; }
  const std::vector<std::int32_t>& pair_users() const { return pair_users_; }
  const std::vector<Word>& model_bits() const { return bits_; }  // [I * n_words]
  std::size_t n_words() const { return n_words_; }
  const std::vector<std::int64_t>& block_ptr() const { return block_ptr_; }
  const std::vector<std::int32_t>& block_models() const { return block_models_; }

  PairCoverage coverage() const {
    return PairCoverage::of(n_servers_, n_users_, n_models_, pair_ptr_, pair_len_, pair_users_);
  }
  DemandView weight_view() const {
    if (!factored_) return View2<const double>{pop_by_model_.data(), n_models_, n_users_};
    return {pop_by_model_.data(), n_groups_, group_.data(), rate_.empty() ? nullptr : rate_.data()};
  }
  View2<const Word> bits_view() const { return {bits_.data(), n_models_, n_words_}; }

  // A placement [M*I] of 0/1 flags, or InstanceDefect naming `field`.
  void check_placement(const std::vector<std::uint8_t>& placement, const char* field = "placement") const {
    if (placement.size() != n_servers_ * n_models_)
      detail::defect(field, "M*I = " + std::to_string(n_servers_ * n_models_) + " entries",
                     std::to_string(placement.size()) + " entries");
    detail::check_flags(placement, field);
  }

 private:
  PlacementProblem() = default;

  // ModelLibrary.from_lists: sizes finite > 0, at least one model, each non-empty with distinct ids
  // in [0, J) (stored sorted, as Python's CSR).
  void set_library(std::vector<double> block_sizes, const std::vector<std::vector<std::int64_t>>& model_blocks) {
    detail::check_reals(block_sizes, "block_sizes", true, false, "block");
    const auto J = static_cast<std::int64_t>(block_sizes.size());
    if (model_blocks.empty()) detail::defect("model_blocks", "at least one model", "an empty list");
    if (static_cast<std::int64_t>(model_blocks.size()) >= kMaxInt32Ids)
      detail::defect("model_blocks", "fewer than 2^31 models (model ids are int32)", std::to_string(model_blocks.size()));
    block_sizes_ = std::move(block_sizes);
    n_models_ = model_blocks.size();
    n_words_ = (block_sizes_.size() + 63) / 64;
    bits_.assign(n_models_ * n_words_, Word{0});
    model_sizes_.assign(n_models_, 0.0);
    std::vector<std::int64_t> count(block_sizes_.size(), 0);
    std::vector<double> run;
    std::vector<std::int64_t> sorted;
    for (std::size_t i = 0; i < n_models_; ++i) {
      const std::string field = "model_blocks[" + std::to_string(i) + "]";
      sorted = model_blocks[i];
      if (sorted.empty()) detail::defect(field, "at least one block", "an empty list");
      for (const std::int64_t j : sorted)
        if (j < 0 || j >= J) detail::defect(field, "block ids in [0, " + std::to_string(J) + ")", std::to_string(j));
      std::sort(sorted.begin(), sorted.end());
      for (std::size_t t = 1; t < sorted.size(); ++t)
        if (sorted[t] == sorted[t - 1]) detail::defect(field, "distinct block ids", "block " + std::to_string(sorted[t]) + " twice");
      run.clear();
      for (const std::int64_t j : sorted) {
        const auto b = static_cast<std::size_t>(j);
        run.push_back(block_sizes_[b]);
        bits_[i * n_words_ + b / 64] |= Word{1} << (b % 64);
        ++count[b];
      }
      model_sizes_[i] = detail::reduceat_sum(run.data(), run.size());  // np.add.reduceat's bits
    }
    // transposed membership block -> models (ascending), as ModelLibrary.block_models
    block_ptr_.assign(block_sizes_.size() + 1, 0);
    for (std::size_t j = 0; j < block_sizes_.size(); ++j) block_ptr_[j + 1] = block_ptr_[j] + count[j];
    block_models_.assign(static_cast<std::size_t>(block_ptr_.back()), 0);
    std::vector<std::int64_t> fill(block_ptr_.begin(), block_ptr_.end() - 1);
    for (std::size_t i = 0; i < n_models_; ++i)
      for (std::size_t w = 0; w < n_words_; ++w) {
        Word bits = bits_[i * n_words_ + w];
        while (bits) {
          const std::size_t j = w * 64 + static_cast<std::size_t>(ctz64(bits));
          bits &= bits - 1;
          block_models_[static_cast<std::size_t>(fill[j]++)] = static_cast<std::int32_t>(i);
        }
      }
  }

  void set_capacity(std::vector<double> capacity) {
    detail::check_reals(capacity, "capacity", false, false, "server");
    capacity_ = std::move(capacity);
    n_servers_ = capacity_.size();
    if (n_models_ != 0 && n_servers_ > std::numeric_limits<std::size_t>::max() / n_models_)
      detail::defect("capacity", "M*I pairs addressable in 64 bits", std::to_string(n_servers_) + " servers");
  }

  // Dense popularity[k*I + i] (the API's (K, I) layout) is stored by model as Python's
  // popularity_by_model (G = K, no map); a factored demand as it comes, checked.
  void set_popularity(Popularity popularity, std::size_t K) {
    if (static_cast<std::int64_t>(K) >= kMaxInt32Ids)
      detail::defect("n_users", "fewer than 2^31 users (user ids are int32)", std::to_string(K));
    const std::size_t I = n_models_;
    n_users_ = K;
    if (popularity.factored) {
      set_factored(std::move(popularity.demand), K);
      return;
    }
    std::vector<double>& dense = popularity.dense;
    if (dense.size() / I != K || dense.size() % I != 0)
      detail::defect("popularity", "K*I = " + std::to_string(K) + "*" + std::to_string(I) + " entries",
                     std::to_string(dense.size()) + " entries");
    detail::check_reals(dense, "popularity", false, false, "index");
    pop_by_model_.assign(I * K, 0.0);
    n_groups_ = K;
    constexpr std::size_t kTile = 64;  // a tiled transpose: the strided writes stay in cache
    for (std::size_t k0 = 0; k0 < K; k0 += kTile)
      for (std::size_t i0 = 0; i0 < I; i0 += kTile)
        for (std::size_t k = k0; k < std::min(K, k0 + kTile); ++k)
          for (std::size_t i = i0; i < std::min(I, i0 + kTile); ++i) pop_by_model_[i * K + k] = dense[k * I + i];
    total_popularity_ = detail::pairwise_sum(pop_by_model_.data(), pop_by_model_.size());  // ndarray.sum's bits
    if (!(total_popularity_ > 0.0))
      detail::defect("popularity", "a positive total request probability", "all zeros");
  }

  // Total as Python's Demand.total: per group the pairwise sum over models, then the pairwise sum
  // over users of rate[k] * total[group[k]] (O(G I + K), never the K x I matrix).
  void set_factored(FactoredDemand d, std::size_t K) {
    const std::size_t I = n_models_, G = d.n_groups;
    if (G == 0) detail::defect("group_popularity", "at least one group", "0 groups");
    if (d.by_model.size() / G != I || d.by_model.size() % G != 0)
      detail::defect("group_popularity", "I*G = " + std::to_string(I) + "*" + std::to_string(G) + " entries",
                     std::to_string(d.by_model.size()) + " entries");
    detail::check_reals(d.by_model, "group_popularity", false, false, "index");
    if (d.group.size() != K)
      detail::defect("group", std::to_string(K) + " entries (one per user)", std::to_string(d.group.size()) + " entries");
    for (std::size_t k = 0; k < K; ++k)
      if (d.group[k] < 0 || static_cast<std::size_t>(d.group[k]) >= G)
        detail::defect("group", "ids in [0, " + std::to_string(G) + ")",
                       std::to_string(d.group[k]) + " at user " + std::to_string(k));
    if (!d.rate.empty()) {
      if (d.rate.size() != K)
        detail::defect("rate", std::to_string(K) + " entries (one per user)", std::to_string(d.rate.size()) + " entries");
      detail::check_reals(d.rate, "rate", false, false, "user");
    }
    std::vector<double> group_total(G), column(I);
    for (std::size_t g = 0; g < G; ++g) {
      for (std::size_t i = 0; i < I; ++i) column[i] = d.by_model[i * G + g];
      group_total[g] = detail::pairwise_sum(column.data(), I);
    }
    std::vector<double> per_user(K);
    for (std::size_t k = 0; k < K; ++k) {
      const double t = group_total[static_cast<std::size_t>(d.group[k])];
      per_user[k] = d.rate.empty() ? t : d.rate[k] * t;
    }
    total_popularity_ = detail::pairwise_sum(per_user.data(), K);
    if (!(total_popularity_ > 0.0))
      detail::defect("popularity", "a positive total request probability", "all zeros");
    pop_by_model_ = std::move(d.by_model);
    n_groups_ = G;
    group_ = std::move(d.group);
    rate_ = std::move(d.rate);
    factored_ = true;
  }

  std::size_t n_servers_ = 0, n_users_ = 0, n_models_ = 0, n_words_ = 0, n_groups_ = 0;
  std::vector<std::int32_t> group_;  // [K], empty for dense demand
  std::vector<double> rate_;         // [K], empty: rate 1
  bool factored_ = false;
  std::vector<double> block_sizes_, model_sizes_, capacity_, pop_by_model_, max_size_;
  double total_popularity_ = 0.0;
  bool compact_ = false;
  std::vector<Word> bits_;
  std::vector<std::int64_t> block_ptr_;
  std::vector<std::int32_t> block_models_;
  std::vector<std::int64_t> pair_ptr_, pair_len_;
  std::vector<std::int32_t> pair_users_;
};

enum class GenRule { best_of_both, ratio, gain };

struct GenOptions {
  GenRule rule = GenRule::best_of_both;
  bool lazy = true;
  std::vector<std::uint8_t> warm_start;  // [M*I] row-major placement, empty = cold start
};

struct GenResult {
  std::vector<std::uint8_t> placement;  // [M*I], placement[m*I + i]
  double hit_weight = 0.0;              // total popularity served (Python: problem.hit_weight)
  double hit_ratio = 0.0;               // hit_weight / total popularity
  GenRule chosen_rule = GenRule::ratio; // which greedy won under best_of_both (ties -> ratio)
  std::int64_t kept = 0;                // pairs of warm_start the result keeps (0 when cold)
};

// Total popularity served by `placement` ([M*I] 0/1), as Python's problem.hit_weight.
inline double hit_weight(const PlacementProblem& problem, const std::vector<std::uint8_t>& placement) {
  problem.check_placement(placement);
  const View2<const std::uint8_t> x{placement.data(), static_cast<std::size_t>(problem.n_servers()),
                                    static_cast<std::size_t>(problem.n_models())};
  return hit_weight(x, problem.coverage(), problem.weight_view());
}

// Storage used on each server (size of the union of its models' blocks), as problem.storage_used.
inline std::vector<double> storage_used(const PlacementProblem& problem, const std::vector<std::uint8_t>& placement) {
  problem.check_placement(placement);
  const auto M = static_cast<std::size_t>(problem.n_servers());
  const View2<const std::uint8_t> x{placement.data(), M, static_cast<std::size_t>(problem.n_models())};
  std::vector<double> out(M, 0.0);
  storage_used(x, problem.bits_view(), problem.block_sizes().data(), View<double>{out.data(), M});
  return out;
}

// Pairs that can ever be placed: the model fits the empty server and serves somebody
// (Python: trimcore.placement.greedy._candidates).
inline std::vector<std::int64_t> gen_candidates(const PlacementProblem& problem) {
  const auto M = static_cast<std::size_t>(problem.n_servers()), I = static_cast<std::size_t>(problem.n_models());
  std::vector<std::int64_t> out;
  for (std::size_t m = 0; m < M; ++m) {
    const double limit = problem.capacity()[m] * (1.0 + kGreedyRtol);
    for (std::size_t i = 0; i < I; ++i)
      if (problem.model_sizes()[i] <= limit && problem.pair_len()[m * I + i] > 0)
        out.push_back(static_cast<std::int64_t>(m * I + i));
  }
  return out;
}

// One greedy run (Python: trimcore.placement.greedy.greedy_placement): keeps the warm start's pairs
// that still fit and serve somebody (in pair order), then the greedy fills the rest. rule: ratio or gain.
// initial_gains (optional): the lazy greedy's first gains, filled by one run and read by the next of
// the same problem and warm start (see greedy_lazy); the placement is the same either way.
inline std::vector<std::uint8_t> greedy_placement(const PlacementProblem& problem, GenRule rule, bool lazy,
                                                  const std::vector<std::uint8_t>& warm_start = {},
                                                  std::vector<double>* initial_gains = nullptr) {
  if (rule == GenRule::best_of_both)
    throw InstanceDefect("rule: expected ratio or gain for one greedy run, got best_of_both");
  const auto M = static_cast<std::size_t>(problem.n_servers()), I = static_cast<std::size_t>(problem.n_models()),
             K = static_cast<std::size_t>(problem.n_users());
  std::vector<std::int64_t> kept;
  if (!warm_start.empty()) {
    problem.check_placement(warm_start, "warm_start");
    for (std::size_t p = 0; p < M * I; ++p)
      if (warm_start[p]) kept.push_back(static_cast<std::int64_t>(p));
  }
  (void)K;
  const PairCoverage cov = problem.coverage();
  PairCoverageBitGains gains(cov, problem.weight_view());  // covered requests as bits: K I / 8 bytes
  UnionStorageBudget budget(M, problem.bits_view(), problem.block_sizes().data(), problem.capacity().data(), kGreedyRtol,
                            problem.block_ptr().data(), problem.block_models().data());
  const Rule r = rule == GenRule::ratio ? Rule::Ratio : Rule::Gain;
  std::vector<std::uint8_t> placement(M * I, 0);
  for (const std::int64_t id : warm_greedy(gains, budget, gen_candidates(problem), kept, r, lazy, M * I, initial_gains))
    placement[static_cast<std::size_t>(id)] = 1;
  return placement;
}

// TrimCaching Gen exactly as Python's tc.trimcaching_gen(problem, rule, lazy=, warm_start=) with
// bound=None: same candidate filtering, same tie rules, same placement bit for bit.
inline GenResult trimcaching_gen(const PlacementProblem& problem, const GenOptions& options = {}) {
  if (options.rule != GenRule::best_of_both && options.rule != GenRule::ratio && options.rule != GenRule::gain)
    throw InstanceDefect("rule: expected best_of_both, ratio or gain");
  if (!options.warm_start.empty()) problem.check_placement(options.warm_start, "warm_start");
  GenResult best;
  bool have = false;
  const GenRule runs[2] = {GenRule::ratio, GenRule::gain};
  const std::size_t n_runs = options.rule == GenRule::best_of_both ? 2 : 1;
  std::vector<double> initial_gains;  // both runs start from the same state: the second reuses the first's gains
  for (std::size_t t = 0; t < n_runs; ++t) {
    const GenRule r = options.rule == GenRule::best_of_both ? runs[t] : options.rule;
    std::vector<std::uint8_t> x = greedy_placement(problem, r, options.lazy, options.warm_start, &initial_gains);
    const double value = hit_weight(problem, x);
    if (!have || value > best.hit_weight) {  // ties keep the first run (ratio)
      best.placement = std::move(x);
      best.hit_weight = value;
      best.chosen_rule = r;
      have = true;
    }
  }
  best.hit_ratio = best.hit_weight / problem.total_popularity();
  if (!options.warm_start.empty())
    for (std::size_t p = 0; p < best.placement.size(); ++p) best.kept += best.placement[p] & options.warm_start[p];
  return best;
}

}  // namespace trimcore
