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

// Popularity is stored by model: weight(i, k) = popularity of model i for user k ([I, K]).

// Sum of the popularity of the requests (k, i) that some server holding i can serve.
// The placement is scanned row by row, eight flags at a time (placements are sparse); the placed
// pairs are then visited by model, then server, so every request is counted once.
inline double hit_weight(View2<const std::uint8_t> placement, const PairCoverage& cov,
                         View2<const double> weight_by_model) {
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
    const double* w = weight_by_model.row(i);
    const std::size_t p = cov.pair(m, i);
    const bool alone = (t == 0 || placed[t - 1].first != i) && (t + 1 == placed.size() || placed[t + 1].first != i);
    if (alone) {  // a model on one server: its users are distinct, no de-duplication needed
      for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u) total += w[*u];
      continue;
    }
    for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u) {
      if (stamp[*u] != static_cast<std::int64_t>(i)) {
        stamp[*u] = static_cast<std::int64_t>(i);
        total += w[*u];
      }
    }
  }
  return total;
}

// Marginal gain of pair p: popularity of the not yet covered requests it serves.
// covered: [I, K] flags of model i's requests already served.
inline double pair_gain(const PairCoverage& cov, std::size_t p, const double* weight_row,
                        const std::uint8_t* covered_row) {
  double gain = 0.0;
  for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u)
    if (!covered_row[*u]) gain += weight_row[*u];
  return gain;
}

// Marginal gain of every model on server m: out[i] = pair_gain of (m, i), for i in [0, I).
// weight_by_model and covered are [I, K]; out has I entries.
inline void server_gains(const PairCoverage& cov, std::size_t m, View2<const double> weight_by_model,
                         const std::uint8_t* covered, double* out) {
  for (std::size_t i = 0; i < cov.n_models; ++i)
    out[i] = pair_gain(cov, cov.pair(m, i), weight_by_model.row(i), covered + i * cov.n_users);
}

// server_gains of every server in one pass, out[m * I + i] ([M, I]). Server-major: in the compact
// form a server's pairs are prefixes of one user list, which then stays in cache across models
// (measured faster than model-major at M=3,200). Same sums as server_gains, to the bit.
inline void all_server_gains(const PairCoverage& cov, View2<const double> weight_by_model, const std::uint8_t* covered,
                             double* out) {
  for (std::size_t m = 0; m < cov.n_servers; ++m) server_gains(cov, m, weight_by_model, covered, out + m * cov.n_models);
}

inline void cover_pair(const PairCoverage& cov, std::size_t p, std::uint8_t* covered_row) {
  for (const std::int32_t* u = cov.begin(p); u != cov.end(p); ++u) covered_row[*u] = 1;
}

}  // namespace trimcore
