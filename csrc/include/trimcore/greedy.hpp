// Greedy over candidates (e.g. (server, model) pairs) for a monotone gain under budgets, with a
// plain-scan and an exact lazy (priority-queue) variant.
//
// The engine is generic: a Gains object gives the current marginal gain of a candidate and
// commits a choice; a Budget gives the current incremental cost, says whether it fits, commits
// a choice and reports the candidates whose cost may have shrunk because of it. Two budgets are
// provided: union-of-blocks storage per server (TrimCaching) and additive costs (max coverage).
//
// Determinism: candidates are compared on (score, gain, id) with exact floating-point values,
// ties going to the lowest id, and every sum is taken in a fixed order, so the lazy and the
// plain scan (and the NumPy reference, which sums in the same order) choose identically.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "trimcore/portable.hpp"
#include "trimcore/array_view.hpp"
#include "trimcore/bitset.hpp"
#include "trimcore/coverage.hpp"

namespace trimcore {

enum class Rule { Gain = 0, Ratio = 1 };

struct Score {
  double ratio = 0.0;  // gain / cost (+inf for zero cost); unused by Rule::Gain
  double gain = 0.0;
  std::int64_t id = -1;
};

// True when a ranks strictly before b.
inline bool ranks_before(const Score& a, const Score& b, Rule rule) {
  if (rule == Rule::Ratio) {
    if (a.ratio != b.ratio) return a.ratio > b.ratio;
  }
  if (a.gain != b.gain) return a.gain > b.gain;
  return a.id < b.id;
}

inline Score make_score(double gain, double cost, std::int64_t id) {
  const double ratio = cost > 0.0 ? gain / cost : std::numeric_limits<double>::infinity();
  return Score{ratio, gain, id};
}

// ----------------------------------------------------------------------------- gains
// Weighted coverage of requests by (server, model) pairs: id = m * I + i; covered [I, K] bytes.
class PairCoverageGains {
 public:
  PairCoverageGains(const PairCoverage& cov, const DemandView& demand, std::uint8_t* covered)
      : cov_(cov), demand_(demand), covered_(covered) {}
  double gain(std::int64_t id) const {
    const std::size_t i = static_cast<std::size_t>(id) % cov_.n_models;
    return pair_gain(cov_, static_cast<std::size_t>(id), demand_, i, covered_ + i * cov_.n_users);
  }
  void commit(std::int64_t id) {
    const std::size_t i = static_cast<std::size_t>(id) % cov_.n_models;
    cover_pair(cov_, static_cast<std::size_t>(id), covered_ + i * cov_.n_users);
  }

 private:
  PairCoverage cov_;
  DemandView demand_;
  std::uint8_t* covered_;
};

// The same gains with the covered requests as owned bits (K I / 8 bytes): what TrimCaching Gen
// keeps, so city-scale instances do not need K I bytes of flags. Same sums, same choices.
class PairCoverageBitGains {
 public:
  PairCoverageBitGains(const PairCoverage& cov, const DemandView& demand)
      : cov_(cov), demand_(demand), covered_(cov.n_models, cov.n_users) {}
  double gain(std::int64_t id) const {
    const std::size_t i = static_cast<std::size_t>(id) % cov_.n_models;
    return pair_gain_bits(cov_, static_cast<std::size_t>(id), demand_, i, covered_.row(i));
  }
  void commit(std::int64_t id) {
    const std::size_t i = static_cast<std::size_t>(id) % cov_.n_models;
    cover_pair_bits(cov_, static_cast<std::size_t>(id), covered_.row(i));
  }

 private:
  PairCoverage cov_;
  DemandView demand_;
  CoveredBits covered_;
};

// Weighted coverage of elements by sets in CSR form (max coverage).
class SetCoverageGains {
 public:
  SetCoverageGains(const std::int64_t* indptr, const std::int32_t* indices, const double* weights,
                   std::uint8_t* covered)
      : indptr_(indptr), indices_(indices), weights_(weights), covered_(covered) {}
  double gain(std::int64_t s) const {
    double g = 0.0;
    for (std::int64_t t = indptr_[s]; t < indptr_[s + 1]; ++t)
      if (!covered_[indices_[t]]) g += weights_[indices_[t]];
    return g;
  }
  void commit(std::int64_t s) {
    for (std::int64_t t = indptr_[s]; t < indptr_[s + 1]; ++t) covered_[indices_[t]] = 1;
  }

 private:
  const std::int64_t* indptr_;
  const std::int32_t* indices_;
  const double* weights_;
  std::uint8_t* covered_;
};

// ----------------------------------------------------------------------------- budgets
// Per-server storage = size of the union of the blocks of the models placed on it.
class UnionStorageBudget {
 public:
  // block_models: CSR block -> models containing it (to find the pairs whose cost shrank).
  UnionStorageBudget(std::size_t n_servers, View2<const Word> model_bits, const double* block_sizes,
                     const double* capacity, double rtol, const std::int64_t* block_ptr,
                     const std::int32_t* block_models)
      : n_models_(model_bits.rows),
        bits_(model_bits),
        sizes_(block_sizes),
        limit_(n_servers),
        used_(n_servers, 0.0),
        stored_(n_servers * model_bits.cols, Word{0}),
        block_ptr_(block_ptr),
        block_models_(block_models) {
    for (std::size_t m = 0; m < n_servers; ++m) limit_[m] = capacity[m] * (1.0 + rtol);
  }
  double cost(std::int64_t id) const {
    const std::size_t m = static_cast<std::size_t>(id) / n_models_, i = static_cast<std::size_t>(id) % n_models_;
    return weighted_difference(bits_.row(i), stored(m), bits_.cols, sizes_);
  }
  bool fits(std::int64_t id, double cost) const {
    return used_[static_cast<std::size_t>(id) / n_models_] + cost <= limit_[static_cast<std::size_t>(id) / n_models_];
  }
  // Commits the pair and appends to `shrunk` the pairs on the same server whose cost fell.
  void commit(std::int64_t id, double cost, std::vector<std::int64_t>* shrunk) {
    const std::size_t m = static_cast<std::size_t>(id) / n_models_, i = static_cast<std::size_t>(id) % n_models_;
    Word* have = stored_.data() + m * bits_.cols;
    if (shrunk) {
      seen_.assign(n_models_, 0);
      for (std::size_t w = 0; w < bits_.cols; ++w) {
        Word fresh = bits_(i, w) & ~have[w];
        while (fresh) {
          const std::size_t j = w * 64 + static_cast<std::size_t>(ctz64(fresh));
          fresh &= fresh - 1;
          for (std::int64_t t = block_ptr_[j]; t < block_ptr_[j + 1]; ++t) {
            const auto q = static_cast<std::size_t>(block_models_[t]);
            if (!seen_[q]) {
              seen_[q] = 1;
              shrunk->push_back(static_cast<std::int64_t>(m * n_models_ + q));
            }
          }
        }
      }
    }
    used_[m] += cost;
    union_into(have, bits_.row(i), bits_.cols);
  }

 private:
  const Word* stored(std::size_t m) const { return stored_.data() + m * bits_.cols; }
  std::size_t n_models_;
  View2<const Word> bits_;
  const double* sizes_;
  std::vector<double> limit_;
  std::vector<double> used_;
  std::vector<Word> stored_;
  const std::int64_t* block_ptr_;
  const std::int32_t* block_models_;
  std::vector<std::uint8_t> seen_;
};

// One budget, additive costs (costs never shrink).
class AdditiveBudget {
 public:
  AdditiveBudget(const double* costs, double budget, double rtol) : costs_(costs), limit_(budget * (1.0 + rtol)) {}
  double cost(std::int64_t id) const { return costs_[id]; }
  bool fits(std::int64_t, double cost) const { return used_ + cost <= limit_; }
  void commit(std::int64_t, double cost, std::vector<std::int64_t>*) { used_ += cost; }

 private:
  const double* costs_;
  double limit_;
  double used_ = 0.0;
};

// ----------------------------------------------------------------------------- engine
// A warm start: commits the `kept` ids first, in their order, each that still fits and still
// gains; returns those committed. A greedy run afterwards continues from that state (its
// candidates should exclude them).
template <class Gains, class Budget>
std::vector<std::int64_t> commit_kept(Gains& gains, Budget& budget, const std::vector<std::int64_t>& kept) {
  std::vector<std::int64_t> committed;
  for (const std::int64_t id : kept) {
    const double c = budget.cost(id);
    if (!budget.fits(id, c) || !(gains.gain(id) > 0.0)) continue;
    gains.commit(id);
    budget.commit(id, c, nullptr);
    committed.push_back(id);
  }
  return committed;
}

// candidates: ids to consider (each once). Returns the chosen ids in selection order.
// A candidate is dropped for good when its cost no longer fits (costs plus used storage never
// decrease) or its gain is zero (gains never increase).
template <class Gains, class Budget>
std::vector<std::int64_t> greedy_plain(Gains& gains, Budget& budget, const std::vector<std::int64_t>& candidates,
                                       Rule rule) {
  std::vector<std::int64_t> alive = candidates, chosen;
  while (true) {
    Score best;
    double best_cost = 0.0;
    std::size_t keep = 0;
    for (std::size_t t = 0; t < alive.size(); ++t) {
      const std::int64_t id = alive[t];
      const double c = budget.cost(id);
      if (!budget.fits(id, c)) continue;
      const double g = gains.gain(id);
      if (!(g > 0.0)) continue;
      alive[keep++] = id;
      const Score s = make_score(g, c, id);
      if (best.id < 0 || ranks_before(s, best, rule)) {
        best = s;
        best_cost = c;
      }
    }
    alive.resize(keep);
    if (best.id < 0) break;
    chosen.push_back(best.id);
    gains.commit(best.id);
    budget.commit(best.id, best_cost, nullptr);
    for (std::size_t t = 0; t < alive.size(); ++t)
      if (alive[t] == best.id) {
        alive.erase(alive.begin() + static_cast<std::ptrdiff_t>(t));
        break;
      }
  }
  return chosen;
}

namespace detail {
struct Entry {
  Score score;
  std::uint32_t version;
};
struct EntryAfter {
  Rule rule;
  bool operator()(const Entry& a, const Entry& b) const { return ranks_before(b.score, a.score, rule); }
};
}  // namespace detail

// Exact lazy greedy: keys are upper bounds of the true scores (gains only fall; when a cost
// falls under Rule::Ratio the pair is re-pushed with its new cost and its last key's gain), so a
// popped candidate whose fresh score still ranks before the next key is the plain scan's choice.
template <class Gains, class Budget>
// initial_gains (optional): the candidates' first gains, aligned with `candidates`. Empty: filled
// here (entries of candidates that do not fit stay 0 and are never read); full: read instead of
// evaluating (TrimCaching Gen's two runs start from the same state, so the second reuses the first's).
std::vector<std::int64_t> greedy_lazy(Gains& gains, Budget& budget, const std::vector<std::int64_t>& candidates,
                                      Rule rule, std::size_t n_ids, std::vector<double>* initial_gains = nullptr) {
  using detail::Entry;
  std::vector<std::uint32_t> version(n_ids, 0);
  std::vector<std::uint8_t> dead(n_ids, 1);
  // the gain of each id's latest key: gains only fall, so it bounds the current gain
  std::vector<double> key_gain(n_ids, 0.0);
  std::vector<Entry> initial;
  initial.reserve(candidates.size());
  const bool reuse = initial_gains && initial_gains->size() == candidates.size() && !candidates.empty();
  if (initial_gains && !reuse) initial_gains->assign(candidates.size(), 0.0);
  for (std::size_t t = 0; t < candidates.size(); ++t) {
    const std::int64_t id = candidates[t];
    const double c = budget.cost(id);
    if (!budget.fits(id, c)) continue;
    const double g = reuse ? (*initial_gains)[t] : gains.gain(id);
    if (initial_gains && !reuse) (*initial_gains)[t] = g;
    if (!(g > 0.0)) continue;
    dead[static_cast<std::size_t>(id)] = 0;
    key_gain[static_cast<std::size_t>(id)] = g;
    initial.push_back(Entry{make_score(g, c, id), 0});
  }
  std::priority_queue<Entry, std::vector<Entry>, detail::EntryAfter> heap(detail::EntryAfter{rule},
                                                                          std::move(initial));
  std::vector<std::int64_t> chosen, shrunk;
  while (!heap.empty()) {
    const Entry top = heap.top();
    heap.pop();
    const auto id = static_cast<std::size_t>(top.score.id);
    if (dead[id] || top.version != version[id]) continue;
    const double c = budget.cost(top.score.id);
    if (!budget.fits(top.score.id, c)) {
      dead[id] = 1;
      continue;
    }
    const double g = gains.gain(top.score.id);
    if (!(g > 0.0)) {
      dead[id] = 1;
      continue;
    }
    const Score fresh = make_score(g, c, top.score.id);
    if (!heap.empty() && ranks_before(heap.top().score, fresh, rule)) {
      key_gain[id] = g;
      heap.push(Entry{fresh, ++version[id]});
      continue;
    }
    chosen.push_back(top.score.id);
    dead[id] = 1;
    gains.commit(top.score.id);
    shrunk.clear();
    budget.commit(top.score.id, c, rule == Rule::Ratio ? &shrunk : nullptr);
    for (const std::int64_t q : shrunk) {
      const auto qi = static_cast<std::size_t>(q);
      if (dead[qi]) continue;
      const double cq = budget.cost(q);
      if (!budget.fits(q, cq)) {
        dead[qi] = 1;
        continue;
      }
      // its cost fell: re-key it with the new cost and its last key's gain (an upper bound of its
      // gain, so the key still bounds its score; the exact gain is computed when it is popped, so
      // the choices stay the plain scan's, without a gain evaluation per shrunk pair)
      heap.push(Entry{make_score(key_gain[qi], cq, q), ++version[qi]});
    }
  }
  return chosen;
}

// A warm start, then the greedy: commits the `kept` ids that still fit and gain (commit_kept), drops
// them from the candidates and runs the lazy or the plain greedy on the rest (ids in [0, n_ids)).
// Returns every chosen id, the kept ones first. The one sequence both TrimCaching Gen
// (trimcore/placement.hpp) and the greedy_placement binding run.
template <class Gains, class Budget>
// initial_gains: see greedy_lazy (shared by runs with the same gains, budget, candidates and kept).
std::vector<std::int64_t> warm_greedy(Gains& gains, Budget& budget, std::vector<std::int64_t> candidates,
                                      const std::vector<std::int64_t>& kept, Rule rule, bool lazy, std::size_t n_ids,
                                      std::vector<double>* initial_gains = nullptr) {
  std::vector<std::int64_t> chosen = commit_kept(gains, budget, kept);
  if (!chosen.empty()) {
    std::vector<std::uint8_t> taken(n_ids, 0);
    for (const std::int64_t id : chosen) taken[static_cast<std::size_t>(id)] = 1;
    candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                    [&](std::int64_t id) { return taken[static_cast<std::size_t>(id)] != 0; }),
                     candidates.end());
  }
  const std::vector<std::int64_t> more =
      lazy ? greedy_lazy(gains, budget, candidates, rule, n_ids, initial_gains)
           : greedy_plain(gains, budget, candidates, rule);
  chosen.insert(chosen.end(), more.begin(), more.end());
  return chosen;
}

// ----------------------------------------------------------------------------- max coverage
// Sets in CSR form: set s covers indices[indptr[s]:indptr[s + 1]] (element ids).

// First defect of a CSR family of sets: an element id outside [0, n_elements) or an element listed
// twice by one set (it would be counted twice). set < 0: none.
// Max coverage's numbers a CsrDefect can also name (the set is then 0 and `element` the entry).
enum class CoverageValue { None, Weights, Costs, Budget, Rtol };

struct CsrDefect {
  std::int64_t set = -1;
  std::int64_t element = 0;
  bool out_of_range = false;
  bool bad_shape = false;  // offsets not from 0 and non-decreasing, too many sets or elements, threads < 1
  CoverageValue value = CoverageValue::None;  // a weight, cost, budget or rtol out of its domain
};

// Max coverage's numbers: weights (n_elements) and costs (n_sets) finite >= 0, budget finite >= 0,
// rtol in [0, 1). Returns the first defect (set < 0: none); max_coverage_greedy runs it first.
inline CsrDefect check_coverage_values(const double* weights, std::size_t n_elements, const double* costs,
                                       std::size_t n_sets, double budget, double rtol) {
  CsrDefect d;
  auto bad = [&](CoverageValue v, std::size_t at) {
    d.set = 0;
    d.element = static_cast<std::int64_t>(at);
    d.value = v;
    return d;
  };
  for (std::size_t t = 0; t < n_elements; ++t)
    if (!(std::isfinite(weights[t]) && weights[t] >= 0.0)) return bad(CoverageValue::Weights, t);
  for (std::size_t t = 0; t < n_sets; ++t)
    if (!(std::isfinite(costs[t]) && costs[t] >= 0.0)) return bad(CoverageValue::Costs, t);
  if (!(std::isfinite(budget) && budget >= 0.0)) return bad(CoverageValue::Budget, 0);
  if (!(rtol >= 0.0 && rtol < 1.0)) return bad(CoverageValue::Rtol, 0);
  return d;
}

// The message of a value defect ("weights: expected finite values >= 0, got entry 3").
inline std::string describe_value(const CsrDefect& d) {
  switch (d.value) {
    case CoverageValue::Weights: return "weights: expected finite values >= 0 (entry " + std::to_string(d.element) + ")";
    case CoverageValue::Costs: return "costs: expected finite values >= 0 (set " + std::to_string(d.element) + ")";
    case CoverageValue::Budget: return "budget: expected a finite value >= 0";
    case CoverageValue::Rtol: return "rtol: expected a value in [0, 1)";
    default: return "";
  }
}

namespace detail {
// The one check of a CSR entry: element e listed by set s; stamp[e] = last set that listed e.
inline bool csr_entry_ok(std::int32_t e, std::int64_t s, std::size_t n_elements, std::int32_t* stamp,
                         CsrDefect* defect) {
  if (e < 0 || static_cast<std::size_t>(e) >= n_elements) {
    *defect = CsrDefect{s, e, true};
    return false;
  }
  if (stamp[e] == static_cast<std::int32_t>(s)) {
    *defect = CsrDefect{s, e, false};
    return false;
  }
  stamp[e] = static_cast<std::int32_t>(s);
  return true;
}
}  // namespace detail

// CSR offsets: n + 1 entries from 0 to n_entries, non-decreasing. Returns the first bad position
// (n + 1 for a wrong first or last entry), or -1 when they are valid.
inline std::int64_t check_csr_offsets(const std::int64_t* offsets, std::size_t n_offsets, std::int64_t n_entries) {
  if (n_offsets == 0 || offsets[0] != 0 || offsets[n_offsets - 1] != n_entries)
    return static_cast<std::int64_t>(n_offsets);
  for (std::size_t t = 1; t < n_offsets; ++t)
    if (offsets[t] < offsets[t - 1]) return static_cast<std::int64_t>(t);
  return -1;
}

// The offsets of a CSR whose entry count the callee cannot know: from 0, non-decreasing. Returns the
// first bad position, or -1.
inline std::int64_t first_bad_offset(const std::int64_t* offsets, std::size_t n_sets) {
  if (offsets[0] != 0) return 0;
  for (std::size_t t = 1; t <= n_sets; ++t)
    if (offsets[t] < offsets[t - 1]) return static_cast<std::int64_t>(t);
  return -1;
}

// O(nnz) check for n_sets < 2^31 (the fast greedy runs it inside its first pass).
inline CsrDefect check_set_csr(std::size_t n_sets, const std::int64_t* indptr, const std::int32_t* indices,
                               std::size_t n_elements) {
  CsrDefect defect;
  std::vector<std::int32_t> stamp(n_elements, -1);
  for (std::size_t s = 0; s < n_sets; ++s)
    for (std::int64_t t = indptr[s]; t < indptr[s + 1]; ++t)
      if (!detail::csr_entry_ok(indices[t], static_cast<std::int64_t>(s), n_elements, stamp.data(), &defect))
        return defect;
  return defect;
}

// The specialised max-coverage engine (max_coverage_greedy) is in trimcore/max_coverage.hpp.

}  // namespace trimcore
