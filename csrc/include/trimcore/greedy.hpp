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
#include <vector>

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
// Weighted coverage of requests by (server, model) pairs: id = m * I + i.
class PairCoverageGains {
 public:
  PairCoverageGains(const PairCoverage& cov, View2<const double> weight_by_model, std::uint8_t* covered)
      : cov_(cov), weight_(weight_by_model), covered_(covered) {}
  double gain(std::int64_t id) const {
    const std::size_t i = static_cast<std::size_t>(id) % cov_.n_models;
    return pair_gain(cov_, static_cast<std::size_t>(id), weight_.row(i), covered_ + i * cov_.n_users);
  }
  void commit(std::int64_t id) {
    const std::size_t i = static_cast<std::size_t>(id) % cov_.n_models;
    cover_pair(cov_, static_cast<std::size_t>(id), covered_ + i * cov_.n_users);
  }

 private:
  PairCoverage cov_;
  View2<const double> weight_;
  std::uint8_t* covered_;
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
          const std::size_t j = w * 64 + static_cast<std::size_t>(__builtin_ctzll(fresh));
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
// falls under Rule::Ratio the pair is re-pushed with its fresh score), so a popped candidate
// whose fresh score still ranks before the next key is the plain scan's choice.
template <class Gains, class Budget>
std::vector<std::int64_t> greedy_lazy(Gains& gains, Budget& budget, const std::vector<std::int64_t>& candidates,
                                      Rule rule, std::size_t n_ids) {
  using detail::Entry;
  std::vector<std::uint32_t> version(n_ids, 0);
  std::vector<std::uint8_t> dead(n_ids, 1);
  std::vector<Entry> initial;
  initial.reserve(candidates.size());
  for (const std::int64_t id : candidates) {
    const double c = budget.cost(id);
    if (!budget.fits(id, c)) continue;
    const double g = gains.gain(id);
    if (!(g > 0.0)) continue;
    dead[static_cast<std::size_t>(id)] = 0;
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
      const double gq = gains.gain(q);
      if (!(gq > 0.0)) {
        dead[qi] = 1;
        continue;
      }
      heap.push(Entry{make_score(gq, cq, q), ++version[qi]});
    }
  }
  return chosen;
}

// ----------------------------------------------------------------------------- max coverage
// Sets in CSR form: set s covers indices[indptr[s]:indptr[s + 1]] (element ids).

// First defect of a CSR family of sets: an element id outside [0, n_elements) or an element listed
// twice by one set (it would be counted twice). set < 0: none.
struct CsrDefect {
  std::int64_t set = -1;
  std::int64_t element = 0;
  bool out_of_range = false;
};

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

// Exact greedy for weighted set coverage under one additive budget, specialised for speed. It
// selects exactly what greedy_plain(SetCoverageGains, AdditiveBudget) selects (same scores, same
// left-to-right sums, ties to the lowest id) with O(nnz) work plus a small heap per round:
//
//  * an element -> sets inverse index (counting sort). When an element is covered, every set
//    holding it gets g -= w[e] and turns dirty. A clean set's g is its exact gain (the
//    left-to-right sum of SetCoverageGains::gain); a dirty set's g is within `slack` of it:
//    slack = 5 (n + 1) 2^-53 g0 bounds the rounding of the first sum, of at most n decrements and
//    of the exact sum (n = set size, g0 = first gain >= every later exact or true gain; sums and
//    differences below 2^-1021 are exact). So ub = fl(g + slack) >= the exact gain and
//    fl(ub / cost) >= the exact ratio (rounding to nearest is monotone);
//  * sets wait in buckets keyed by a non-decreasing function of their score: 64 buckets per
//    octave from the IEEE bits of the ratio (ratios of +inf -- zero cost, overflow -- in a top
//    class keyed by the gain), from the largest first score down to the least positive score
//    (the least positive weight, over the largest cost for ratios; a set whose bound falls below
//    the least positive weight has gain 0). A parked set's current score is at most its bucket's
//    key; keys are corrected only when the bucket is opened (lazily, O(1) a set);
//  * the buckets >= `open` have been poured into a heap ordered on (ratio, gain, -id) of stored
//    scores (exact, or upper bounds). The top is selected once it is exact and clean and its
//    bucket is >= `open`: every heap entry ranks at or below its stored score and every parked set
//    strictly below the top. Otherwise a dirty top gets its bound refreshed (rescanned exactly
//    when it would stay on top) and lower buckets are opened as needed.
//
// Sets that do not fit are dropped for good (the spent budget only grows), as are sets whose
// exact gain (or upper bound) is 0 (gains never grow: a left-to-right sum of non-negative terms
// does not increase when a term is removed, rounding being monotone).
// Counters of one run (optional instrumentation, see max_coverage_greedy's `stats`).
struct MaxCoverageStats {
  std::int64_t pops = 0, rescans = 0, decrements = 0, bucket_moves = 0, opened = 0;
};

namespace detail {
struct McEntry {
  double r;  // ratio (Rule::Ratio) or gain (Rule::Gain)
  double g;
  std::uint32_t id;
  std::uint32_t exact;
};
// Max-heap order: a below b when b ranks before a on (r, g, -id).
struct McBelow {
  bool operator()(const McEntry& a, const McEntry& b) const {
    if (a.r != b.r) return a.r < b.r;
    if (a.g != b.g) return a.g < b.g;
    return a.id > b.id;
  }
};
// Per set: g, and slack stored negated while the set is clean.
struct McState {
  double g;
  double slack;
};
inline std::uint64_t double_bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
template <class T>
inline void prefetch(const T* p) {
#if defined(__GNUC__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}
template <class T>
inline void prefetch_write(T* p) {
#if defined(__GNUC__)
  __builtin_prefetch(p, 1);
#else
  (void)p;
#endif
}

template <Rule R>
std::vector<std::int64_t> max_coverage_greedy(std::size_t n_sets, const std::int64_t* indptr,
                                              const std::int32_t* indices, std::size_t n_elements,
                                              const double* weights, const double* costs, double budget, double rtol,
                                              CsrDefect* defect, MaxCoverageStats& st) {
  constexpr int kShift = 46;  // 6 mantissa bits: 64 buckets per octave
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const double limit = budget * (1.0 + rtol);

  // pass 1: check the CSR, exact first gains (the left-to-right sums of SetCoverageGains::gain)
  // and the degrees of the elements of positive weight (a zero weight never changes a sum)
  std::vector<McState> state(n_sets);
  std::vector<std::uint64_t> inv_ptr(n_elements + 1, 0);
  {
    std::vector<std::int32_t> stamp(n_elements, -1);
    for (std::size_t s = 0; s < n_sets; ++s) {
      double sum = 0.0;
      for (std::int64_t t = indptr[s]; t < indptr[s + 1]; ++t) {
        const std::int32_t e = indices[t];
        if (!csr_entry_ok(e, static_cast<std::int64_t>(s), n_elements, stamp.data(), defect)) return {};
        const double we = weights[e];
        sum += we;
        inv_ptr[static_cast<std::size_t>(e) + 1] += we > 0.0;
      }
      const double n = static_cast<double>(indptr[s + 1] - indptr[s]) + 1.0;
      const double slack = sum * (5.0 * n * 0x1p-53) + std::numeric_limits<double>::denorm_min();
      state[s] = McState{sum, -slack};
    }
  }
  // inverse index: the sets holding element e, ascending, are inv[inv_ptr[e]:inv_ptr[e + 1]]
  for (std::size_t e = 0; e < n_elements; ++e) inv_ptr[e + 1] += inv_ptr[e];
  const std::int64_t nnz = indptr[n_sets];
  std::unique_ptr<std::uint32_t[]> inv(new std::uint32_t[std::max<std::uint64_t>(inv_ptr[n_elements], 1)]);
  {
    std::vector<std::uint64_t> fill(inv_ptr.begin(), inv_ptr.end() - 1);
    constexpr std::int64_t kAhead = 32;  // prefetch the write slot of the entry kAhead later
    for (std::size_t s = 0; s < n_sets; ++s)
      for (std::int64_t t = indptr[s]; t < indptr[s + 1]; ++t) {
        if (t + kAhead < nnz) prefetch_write(inv.get() + fill[static_cast<std::size_t>(indices[t + kAhead])]);
        const auto e = static_cast<std::size_t>(indices[t]);
        if (weights[e] > 0.0) inv[fill[e]++] = static_cast<std::uint32_t>(s);
      }
  }

  auto score = [&](std::size_t s, double value, bool exact) {
    double r = value;
    if constexpr (R == Rule::Ratio) r = costs[s] > 0.0 ? value / costs[s] : kInf;
    return McEntry{r, value, static_cast<std::uint32_t>(s), exact ? 1u : 0u};
  };
  // a positive gain is at least the smallest positive weight
  double w_min = kInf;
  for (std::size_t e = 0; e < n_elements; ++e)
    if (weights[e] > 0.0) w_min = std::min(w_min, weights[e]);
  // current score of a live set: exact when clean, else the upper bound (false when provably 0)
  auto current = [&](std::size_t s, McEntry* out) {
    const McState x = state[s];
    if (x.slack < 0.0) {
      *out = score(s, x.g, true);
      return true;
    }
    const double ub = x.g + x.slack;
    if (!(ub >= w_min)) return false;
    *out = score(s, ub, false);
    return true;
  };
  // raw key: finite ratios by their bits, +inf ratios above them by the bits of the gain
  constexpr std::int64_t kInfClass = std::int64_t{1} << 20;
  auto raw_key = [](const McEntry& x) -> std::int64_t {
    if (x.r < kInf) return static_cast<std::int64_t>(double_bits(x.r) >> kShift);
    return kInfClass + static_cast<std::int64_t>(double_bits(x.g) >> kShift);
  };
  std::int64_t lo[2] = {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max()};
  std::int64_t hi[2] = {-1, -1};
  double min_cost = kInf;
  for (std::size_t s = 0; s < n_sets; ++s) {
    if (!(state[s].g > 0.0) || !(costs[s] <= limit)) continue;
    min_cost = std::min(min_cost, costs[s]);
    const std::int64_t k = raw_key(score(s, state[s].g, true));
    const int cls = k >= kInfClass;
    lo[cls] = std::min(lo[cls], k);
    hi[cls] = std::max(hi[cls], k);
  }
  // keys only fall, down to the least positive score: w_min, or w_min / (largest cost) for ratios
  double c_max = 0.0;
  if constexpr (R == Rule::Ratio)
    for (std::size_t s = 0; s < n_sets; ++s)
      if (state[s].g > 0.0 && costs[s] <= limit) c_max = std::max(c_max, costs[s]);
  if (w_min < kInf) {
    const double r_min = R == Rule::Ratio && c_max > 0.0 ? w_min / c_max : w_min;
    lo[0] = std::min(lo[0], raw_key(McEntry{r_min, w_min, 0, 0}));
    lo[1] = std::min(lo[1], raw_key(McEntry{kInf, w_min, 0, 0}));
  }
  for (int cls = 0; cls < 2; ++cls)
    if (hi[cls] < 0) lo[cls] = hi[cls] = cls ? kInfClass : 0;
  const std::int64_t n_finite = hi[0] - lo[0] + 1, n_buckets = n_finite + hi[1] - lo[1] + 1;
  // non-decreasing in the (r, g) order: bucket(a) > bucket(b) implies that a ranks before b
  auto bucket = [&](const McEntry& x) -> std::int64_t {
    const std::int64_t k = raw_key(x);
    if (k < kInfClass) return std::clamp(k - lo[0], std::int64_t{0}, n_finite - 1);
    return n_finite + std::clamp(k - lo[1], std::int64_t{0}, hi[1] - lo[1]);
  };
  std::vector<std::vector<std::uint32_t>> parked(static_cast<std::size_t>(n_buckets));
  for (std::size_t s = 0; s < n_sets; ++s)
    if (state[s].g > 0.0 && costs[s] <= limit)
      parked[static_cast<std::size_t>(bucket(score(s, state[s].g, true)))].push_back(static_cast<std::uint32_t>(s));

  std::vector<McEntry> heap;
  const McBelow below;
  std::int64_t open = n_buckets;  // the buckets >= open are empty (poured into the heap)
  auto place = [&](const McEntry& x) {
    const std::int64_t b = bucket(x);
    if (b >= open) {
      heap.push_back(x);
      std::push_heap(heap.begin(), heap.end(), below);
    } else {
      parked[static_cast<std::size_t>(b)].push_back(x.id);
      ++st.bucket_moves;
    }
  };
  // lowers `open` towards `floor`, pouring the first non-empty bucket met into the heap (each of
  // its sets goes to the heap, or lower if its corrected key is lower); false if none was met
  std::vector<std::uint32_t> pour;
  auto open_down_to = [&](std::int64_t floor) {
    while (open > floor) {
      const auto b = static_cast<std::size_t>(--open);
      if (parked[b].empty()) continue;
      pour.clear();
      pour.swap(parked[b]);
      ++st.opened;
      const std::size_t n = pour.size();
      for (std::size_t i = 0; i < n; ++i) {
        if (i + 8 < n) prefetch(&state[pour[i + 8]]);
        McEntry x;
        if (current(pour[i], &x)) place(x);
      }
      return true;
    }
    return false;
  };
  auto pop = [&]() {
    std::pop_heap(heap.begin(), heap.end(), below);
    heap.pop_back();
    ++st.pops;
  };

  std::vector<std::uint8_t> covered(n_elements, 0);
  std::vector<std::int64_t> chosen;
  double used = 0.0;
  while (used + min_cost <= limit) {
    if (heap.empty()) {
      if (!open_down_to(0)) break;
      continue;
    }
    const McEntry top = heap.front();
    const std::size_t s = top.id;
    if (!(used + costs[s] <= limit)) {  // never fits again
      pop();
      continue;
    }
    if (top.exact && state[s].slack < 0.0) {
      if (open_down_to(bucket(top))) continue;  // a bucket in between may hold a better set
      pop();
      chosen.push_back(static_cast<std::int64_t>(s));
      used += costs[s];
      for (std::int64_t t = indptr[s]; t < indptr[s + 1]; ++t) {
        const auto e = static_cast<std::size_t>(indices[t]);
        if (covered[e]) continue;
        covered[e] = 1;
        const double we = weights[e];
        if (!(we > 0.0)) continue;
        const std::uint32_t* q = inv.get() + inv_ptr[e];
        const std::uint32_t* q_end = inv.get() + inv_ptr[e + 1];
        st.decrements += q_end - q;
        for (; q != q_end; ++q) {
          McState& x = state[*q];
          x.g -= we;
          x.slack = std::fabs(x.slack);  // dirty
        }
      }
      continue;
    }
    // stale top (a dirty set): refresh its bound, and rescan exactly when it stays on top
    pop();
    McEntry x;
    if (!current(s, &x)) continue;
    if (heap.empty() || !below(x, heap.front())) {
      double exact = 0.0;
      for (std::int64_t t = indptr[s]; t < indptr[s + 1]; ++t)
        if (!covered[indices[t]]) exact += weights[indices[t]];
      ++st.rescans;
      state[s] = McState{exact, -std::fabs(state[s].slack)};
      if (!(exact > 0.0)) continue;
      x = score(s, exact, true);
    }
    place(x);
  }
  return chosen;
}
}  // namespace detail

// Greedy max coverage under one additive budget (see above). indptr/indices: n_sets < 2^31 sets in
// CSR form; weights: n_elements finite values >= 0; costs: n_sets finite values >= 0. The CSR is
// checked on the way (ids in range, no repeat inside a set): on a defect it is reported in
// *defect and nothing is chosen. Returns the chosen sets in selection order.
inline std::vector<std::int64_t> max_coverage_greedy(std::size_t n_sets, const std::int64_t* indptr,
                                                     const std::int32_t* indices, std::size_t n_elements,
                                                     const double* weights, const double* costs, double budget,
                                                     double rtol, Rule rule, CsrDefect* defect,
                                                     MaxCoverageStats* stats = nullptr) {
  MaxCoverageStats st;
  std::vector<std::int64_t> chosen;
  chosen = rule == Rule::Ratio ? detail::max_coverage_greedy<Rule::Ratio>(n_sets, indptr, indices, n_elements, weights,
                                                                          costs, budget, rtol, defect, st)
                               : detail::max_coverage_greedy<Rule::Gain>(n_sets, indptr, indices, n_elements, weights,
                                                                         costs, budget, rtol, defect, st);
  if (stats) *stats = st;
  return chosen;
}

}  // namespace trimcore
