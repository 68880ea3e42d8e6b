// Weighted coverage of requests: which users a (server, model) pair can serve, covered requests
// and marginal gains.
//
// The users that pair p = m * I + i can serve within their latency limit are
// users[pair_ptr[p] .. pair_ptr[p] + pair_len[p]). Lists of different pairs may overlap in
// `users` (the compact form stores per server the users sorted by the largest deliverable size,
// and pair (m, i) is a prefix of that list).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "trimcore/array_view.hpp"

namespace trimcore {

struct PairCoverage {
  std::size_t n_servers = 0;
  std::size_t n_users = 0;
  std::size_t n_models = 0;
  const std::int64_t* pair_ptr = nullptr;  // [M * I]
  const std::int64_t* pair_len = nullptr;  // [M * I]
  const std::int32_t* users = nullptr;     // flat user lists

  std::size_t n_entries = 0;               // length of `users` (checked by check_pair_coverage)

  std::size_t pair(std::size_t m, std::size_t i) const { return m * n_models + i; }
  const std::int32_t* begin(std::size_t p) const { return users + pair_ptr[p]; }
  const std::int32_t* end(std::size_t p) const { return users + pair_ptr[p] + pair_len[p]; }

  // A view of owned pair lists (ptr and len of M * I entries, users flat).
  static PairCoverage of(std::size_t n_servers, std::size_t n_users, std::size_t n_models,
                         const std::vector<std::int64_t>& ptr, const std::vector<std::int64_t>& len,
                         const std::vector<std::int32_t>& users) {
    PairCoverage cov;
    cov.n_servers = n_servers;
    cov.n_users = n_users;
    cov.n_models = n_models;
    cov.pair_ptr = ptr.data();
    cov.pair_len = len.data();
    cov.users = users.data();
    cov.n_entries = users.size();
    return cov;
  }
};

// First defect of a coverage view: a pair extent outside `users` (or longer than n_users), or a
// user id outside [0, n_users). Every function below assumes a view that passed this check.
struct CoverageDefect {
  enum class Field { None, Extent, User };
  Field field = Field::None;
  std::size_t index = 0;   // the pair (Extent) or the position in `users` (User)
  std::int64_t value = 0;  // the offending user id (User)
  bool ok() const { return field == Field::None; }
};

inline CoverageDefect check_pair_coverage(const PairCoverage& cov) {
  const auto n_flat = static_cast<std::int64_t>(cov.n_entries);
  const auto n_users = static_cast<std::int64_t>(cov.n_users);
  for (std::size_t p = 0; p < cov.n_servers * cov.n_models; ++p) {
    const std::int64_t ptr = cov.pair_ptr[p], len = cov.pair_len[p];
    // ptr <= n_flat - len, never ptr + len: a crafted extent must not overflow the test
    if (ptr < 0 || len < 0 || len > n_users || ptr > n_flat - len)
      return {CoverageDefect::Field::Extent, p, 0};
  }
  for (std::size_t t = 0; t < cov.n_entries; ++t)
    if (cov.users[t] < 0 || cov.users[t] >= n_users) return {CoverageDefect::Field::User, t, cov.users[t]};
  return {};
}

// Request probabilities, factored (trimcore.placement.demand): p(k, i) = rate[k] * by_model[i, group[k]],
// by_model [I, G] row-major. group null: the dense form (G = K, user k reads column k); rate null:
// rate 1. The dense form reads exactly the array of before, so its sums keep their bits; a compact
// form gives the same products as the dense matrix rate[:, None] * group_popularity[group] holds.
struct DemandView {
  const double* by_model = nullptr;
  std::size_t n_groups = 0;
  const std::int32_t* group = nullptr;  // [K] ids in [0, n_groups), or null
  const double* rate = nullptr;         // [K], or null
  DemandView() = default;
  // The dense form over popularity by model [I, K] (implicit: every dense caller keeps compiling).
  DemandView(View2<const double> dense) : by_model(dense.data), n_groups(dense.cols) {}  // NOLINT
  // The same from {data, I, K}, as a View2 of the dense array was spelled before.
  DemandView(const double* dense, std::size_t /*n_models*/, std::size_t n_users) : by_model(dense), n_groups(n_users) {}
  DemandView(const double* by_model_, std::size_t n_groups_, const std::int32_t* group_, const double* rate_)
      : by_model(by_model_), n_groups(n_groups_), group(group_), rate(rate_) {}
  const double* row(std::size_t i) const { return by_model + i * n_groups; }
  double at(const double* row_i, std::int32_t u) const {
    if (!group) return row_i[u];
    const double w = row_i[group[u]];
    return rate ? rate[u] * w : w;
  }
  double operator()(std::size_t i, std::int32_t u) const { return at(row(i), u); }
};

// Covered requests as bits, [I] rows of ceil(K / 64) words: K I / 8 bytes (1.25 GB at K = 1e6,
// I = 1e4, where the uint8 flags take 10 GB).
class CoveredBits {
 public:
  CoveredBits(std::size_t n_models, std::size_t n_users)
      : words_((n_users + 63) / 64), bits_(n_models * words_, std::uint64_t{0}) {}
  const std::uint64_t* row(std::size_t i) const { return bits_.data() + i * words_; }
  std::uint64_t* row(std::size_t i) { return bits_.data() + i * words_; }
  static bool test(const std::uint64_t* row_i, std::int32_t u) {
    return (row_i[static_cast<std::uint32_t>(u) >> 6] >> (static_cast<std::uint32_t>(u) & 63)) & 1u;
  }
  static void set(std::uint64_t* row_i, std::int32_t u) {
    row_i[static_cast<std::uint32_t>(u) >> 6] |= std::uint64_t{1} << (static_cast<std::uint32_t>(u) & 63);
  }

 private:
  std::size_t words_;
  std::vector<std::uint64_t> bits_;
};

// Sum of the popularity of the requests (k, i) that some server holding i can serve.
// The placement is scanned row by row, eight flags at a time (placements are sparse); the placed
// pairs are then visited by model, then server, so every request is counted once.
inline double hit_weight(View2<const std::uint8_t> placement, const PairCoverage& cov, const DemandView& demand) {
  std::vector<std::pair<std::size_t, std::size_t>> placed;  // (model, server)
  for (std::size_t m = 0; m < placement.rows; ++m) {
    const std::uint8_t* row = placement.row(m);
    std::size_t i = 0;
    for (; i + 8 <= placement.cols; i += 8) {
      std::uint64_t flags;
      std::memcpy(&flags, row + i, sizeof flags);
      if (!flags) continue;
      for (std::size_t t = i; t < i + 8; ++t)
        if (row[t]) placed.emplace_back(t, m);
    }
    for (; i < placement.cols; ++i)
      if (row[i]) placed.emplace_back(i, m);
  }
  std::sort(placed.begin(), placed.end());
  std::vector<std::int64_t> stamp(cov.n_users, -1);
  double total = 0.0;
  for (std::size_t t = 0; t < placed.size(); ++t) {
    const auto [i, m] = placed[t];
    const double* w = demand.row(i);
    const std::size_t p = cov.pair(m, i);
    const bool alone = (t == 0 || placed[t - 1].first != i) && (t + 1 == placed.size() || placed[t + 1].first != i);
    if (alone) {  // a model on one server: its users are distinct, no de-duplication needed
      for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u) total += demand.at(w, *u);
      continue;
    }
    for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u) {
      if (stamp[*u] != static_cast<std::int64_t>(i)) {
        stamp[*u] = static_cast<std::int64_t>(i);
        total += demand.at(w, *u);
      }
    }
  }
  return total;
}

// Marginal gain of pair p (model i): popularity of the not yet covered requests it serves.
// covered_row: model i's row of the [I, K] flags of the requests already served.
inline double pair_gain(const PairCoverage& cov, std::size_t p, const DemandView& demand, std::size_t i,
                        const std::uint8_t* covered_row) {
  const double* w = demand.row(i);
  double gain = 0.0;
  if (!demand.group) {  // dense: the loop of before
    for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u)
      if (!covered_row[*u]) gain += w[*u];
    return gain;
  }
  for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u)
    if (!covered_row[*u]) gain += demand.at(w, *u);
  return gain;
}

// The same sum over covered bits (CoveredBits' row of model i).
inline double pair_gain_bits(const PairCoverage& cov, std::size_t p, const DemandView& demand, std::size_t i,
                             const std::uint64_t* covered_row) {
  const double* w = demand.row(i);
  double gain = 0.0;
  if (!demand.group) {
    for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u)
      if (!CoveredBits::test(covered_row, *u)) gain += w[*u];
    return gain;
  }
  for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u)
    if (!CoveredBits::test(covered_row, *u)) gain += demand.at(w, *u);
  return gain;
}

// Marginal gain of every model on server m: out[i] = pair_gain of (m, i), for i in [0, I).
// covered is [I, K]; out has I entries.
inline void server_gains(const PairCoverage& cov, std::size_t m, const DemandView& demand,
                         const std::uint8_t* covered, double* out) {
  for (std::size_t i = 0; i < cov.n_models; ++i)
    out[i] = pair_gain(cov, cov.pair(m, i), demand, i, covered + i * cov.n_users);
}

// server_gains of every server in one pass, out[m * I + i] ([M, I]). Server-major: in the compact
// form a server's pairs are prefixes of one user list, which then stays in cache across models
// (measured faster than model-major at M=3,200). Same sums as server_gains, to the bit.
inline void all_server_gains(const PairCoverage& cov, const DemandView& demand, const std::uint8_t* covered,
                             double* out) {
  for (std::size_t m = 0; m < cov.n_servers; ++m) server_gains(cov, m, demand, covered, out + m * cov.n_models);
}

inline void cover_pair(const PairCoverage& cov, std::size_t p, std::uint8_t* covered_row) {
  for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u) covered_row[*u] = 1;
}

inline void cover_pair_bits(const PairCoverage& cov, std::size_t p, std::uint64_t* covered_row) {
  for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u) CoveredBits::set(covered_row, *u);
}

// The requests `placement` ([M, I] flags) serves, as bits.
inline CoveredBits covered_by(View2<const std::uint8_t> placement, const PairCoverage& cov) {
  CoveredBits covered(cov.n_models, cov.n_users);
  for (std::size_t m = 0; m < placement.rows; ++m)
    for (std::size_t i = 0; i < placement.cols; ++i)
      if (placement(m, i)) cover_pair_bits(cov, cov.pair(m, i), covered.row(i));
  return covered;
}

// all_server_gains around a placement (the certified bound's input) without the [I, K] byte flags:
// the same sums as all_server_gains over the placement's covered requests, to the bit.
inline void all_server_gains_placed(const PairCoverage& cov, const DemandView& demand,
                                    View2<const std::uint8_t> placement, double* out) {
  const CoveredBits covered = covered_by(placement, cov);
  for (std::size_t m = 0; m < cov.n_servers; ++m)
    for (std::size_t i = 0; i < cov.n_models; ++i)
      out[m * cov.n_models + i] = pair_gain_bits(cov, cov.pair(m, i), demand, i, covered.row(i));
}

}  // namespace trimcore
