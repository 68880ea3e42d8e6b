// Greedy weighted maximum coverage over sets in CSR form, specialised for speed, and the one
// streaming pass it is measured against (coverage_gains).
//
// max_coverage_greedy selects exactly what greedy_plain(SetCoverageGains, AdditiveBudget) selects
// (same scores, same left-to-right sums, ties to the lowest id) with O(nnz) work plus a small heap
// per round:
//
//  * one checked pass over the CSR: ids in range, no element twice in a set (an entry out of
//    order marks its set for an exact re-check, so sorted input costs one compare an entry), the
//    exact first gain of every set and the degree of every element;
//  * an element -> sets inverse index (counting sort; the write slot of a later entry is
//    prefetched, since each write goes to one of n_elements lists);
//  * when an element is covered, every set holding it gets g -= w[e] and turns dirty. A clean
//    set's g is its exact gain (stored negated: the sign bit is the clean flag, so a decrement
//    touches 8 bytes); a dirty set's g is within `slack` of it: slack = 5 (n + 1) 2^-53 g0 bounds
//    the rounding of the first sum, of at most n decrements and of the exact sum (n = set size,
//    g0 = first gain >= every later exact or true gain; a negative result is clamped to 0, which
//    only moves it closer to the true gain >= 0). Slacks are rounded up to floats, and the largest
//    of each block of 64 sets stands for all of them. So ub = fl(g + slack) >= the exact gain and
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
//
// Threads: the checked pass and the index build split over up to n_threads threads, by set
// ranges of about equal entry counts. Each thread writes its own slice of every array, at places
// fixed by the input alone, so the index -- and the selection -- do not depend on the number of
// threads. The greedy rounds themselves run on the calling thread.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "trimcore/portable.hpp"
#include "trimcore/greedy.hpp"

namespace trimcore {

// Counters of one run (optional instrumentation, see max_coverage_greedy's `stats`).
struct MaxCoverageStats {
  std::int64_t pops = 0, rescans = 0, decrements = 0, bucket_moves = 0, opened = 0;
  int threads = 1;
};

namespace detail {

template <class T>
inline void prefetch(const T* p) {
  trimcore::prefetch_read(p);
}
template <class T>
inline void prefetch_write(T* p) {
  trimcore::prefetch_write(p);
}

// Bounds of n_threads set ranges with about equal entry counts: range k is [split[k], split[k + 1]).
// Inner bounds are multiples of `align`, so that blocks of `align` sets never straddle two ranges.
inline std::vector<std::size_t> split_by_entries(std::size_t n_sets, const std::int64_t* indptr, int n_threads,
                                                 std::size_t align = 1) {
  std::vector<std::size_t> split(static_cast<std::size_t>(n_threads) + 1, n_sets);
  split[0] = 0;
  const auto nnz = static_cast<std::uint64_t>(indptr[n_sets]);
  for (int k = 1; k < n_threads; ++k) {
    const auto at = static_cast<std::size_t>(
        std::upper_bound(indptr, indptr + n_sets, static_cast<std::int64_t>(nnz * static_cast<std::uint64_t>(k) / n_threads)) -
        indptr);
    split[static_cast<std::size_t>(k)] = std::min(n_sets, (at + align - 1) / align * align);
  }
  return split;
}

// Threads worth starting for a pass over nnz entries: none below 2^18 entries.
inline int useful_threads(std::size_t nnz, int n_threads) {
  return nnz >= (std::size_t{1} << 18) ? std::max(1, std::min(n_threads, 16)) : 1;
}

// Uninitialised array of a trivial type. From 2 MiB on it is 2 MiB aligned and advised for
// transparent huge pages (Linux): a fresh array of 4 KiB pages costs a page fault per 4 KiB on
// first touch, about 9 ms for the 17 MB index of a 4.3 M entry instance, against 2 ms.
template <class T>
class HugeArray {
 public:
  explicit HugeArray(std::size_t n) {
    const std::size_t bytes = std::max<std::size_t>(n, 1) * sizeof(T);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::size_t kHuge = std::size_t{1} << 21;
    if (bytes >= kHuge) {
      const std::size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
      data_ = static_cast<T*>(std::aligned_alloc(kHuge, rounded));
      if (data_) madvise(data_, rounded, MADV_HUGEPAGE);  // advice only: failure is harmless
    }
#endif
    if (!data_) data_ = static_cast<T*>(std::malloc(bytes));
    if (!data_) throw std::bad_alloc();
  }
  ~HugeArray() { std::free(data_); }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;
  T* data() const { return data_; }
  T& operator[](std::size_t i) const { return data_[i]; }

 private:
  T* data_ = nullptr;
};

// Runs body(k) for k in [0, n_threads), k = 0 on the calling thread, and rethrows the first
// exception after every thread has finished. A thread that cannot be started runs its share here.
template <class Body>
void run_parallel(int n_threads, Body&& body) {
  if (n_threads <= 1) {
    body(0);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(n_threads));
  auto guarded = [&](int k) {
    try {
      body(k);
    } catch (...) {
      errors[static_cast<std::size_t>(k)] = std::current_exception();
    }
  };
  std::vector<char> here(static_cast<std::size_t>(n_threads), 0);  // allocated before any thread starts
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(n_threads) - 1);
  here[0] = 1;
  for (int k = 1; k < n_threads; ++k) {
    try {
      pool.emplace_back(guarded, k);
    } catch (const std::system_error&) {
      here[static_cast<std::size_t>(k)] = 1;
    }
  }
  for (int k = 0; k < n_threads; ++k)
    if (here[static_cast<std::size_t>(k)]) guarded(k);
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Sets share their slack bound by blocks of 2^kSlackShift (the largest in the block): a bound that
// stays in cache, where a per-set slack would cost every bucket move a second random read. Where
// a block mixes gains of very different scales the looser bound only costs extra rescans.
constexpr int kSlackShift = 6;

// The checked first pass over sets [s0, s1) (s0 a multiple of 2^kSlackShift): the exact first gain
// of each set (stored negated: clean), the slack bound of its block, and the degree of every
// element within these sets.
struct FirstPass {
  CsrDefect defect;
  std::vector<std::uint32_t> degree;
};

inline void first_pass(std::size_t s0, std::size_t s1, const std::int64_t* indptr, const std::int32_t* indices,
                       std::size_t n_elements, const double* weights, double* gain, float* block_slack,
                       FirstPass* out) {
  out->degree.assign(n_elements, 0);
  std::uint32_t* const deg = out->degree.data();
  const auto* const ids = reinterpret_cast<const std::uint32_t*>(indices);  // a negative id wraps above n
  const auto n_el = static_cast<std::uint32_t>(n_elements);
  std::size_t first_suspect = s1;  // first set with an id out of range or out of order
  // No call inside this loop: a call makes the compiler keep `sum` in memory, and a store-to-load
  // round trip on the floating-point dependency chain makes the pass twice as slow.
  for (std::size_t s = s0; s < s1; ++s) {
    const std::int64_t a = indptr[s], b = indptr[s + 1];
    double sum = 0.0;
    std::uint32_t prev = 0, suspect = 0;
    for (std::int64_t t = a; t < b; ++t) {
      const std::uint32_t e = ids[t];
      if (e >= n_el) {
        suspect = 1;
        continue;
      }
      suspect |= static_cast<std::uint32_t>(t > a) & static_cast<std::uint32_t>(e <= prev);
      prev = e;
      sum += weights[e];
      ++deg[e];
    }
    if (suspect && first_suspect == s1) first_suspect = s;
    const double n = static_cast<double>(b - a) + 1.0;
    const double bound = sum * (5.0 * n * 0x1p-53) + std::numeric_limits<double>::denorm_min();
    // rounded up to a float: the 2^-22 margin covers the conversion's 2^-24 (an overflow gives
    // +inf, still a bound); tiny values go to the least positive float
    const float rounded_up =
        std::max(static_cast<float>(bound * (1.0 + 0x1p-22)), std::numeric_limits<float>::denorm_min());
    block_slack[s >> kSlackShift] = std::max(block_slack[s >> kSlackShift], rounded_up);
    gain[s] = -sum;
  }
  if (first_suspect < s1) {  // the first defect in entry order among the suspects, if any
    std::vector<std::int32_t> stamp(n_elements, -1);
    for (std::size_t s = first_suspect; s < s1; ++s)
      for (std::int64_t t = indptr[s]; t < indptr[s + 1]; ++t)
        if (!csr_entry_ok(indices[t], static_cast<std::int64_t>(s), n_elements, stamp.data(), &out->defect)) return;
  }
}

// Element -> sets index: the sets holding element e, ascending, are sets[ptr[e]:ptr[e + 1]].
struct SetIndex {
  std::vector<std::uint64_t> ptr;
  HugeArray<std::uint32_t> sets;
  SetIndex(std::size_t n_elements, std::size_t nnz) : ptr(n_elements + 1, 0), sets(nnz) {}
};

// Fills the index from the checked CSR: thread k scatters its sets [split[k], split[k + 1]) into
// its own slice of every list (after the slices of threads 0..k-1), so the lists are ascending
// and the same for any number of threads.
inline void build_set_index(SetIndex& index, std::size_t n_elements, const std::int64_t* indptr,
                            const std::int32_t* indices, const std::vector<FirstPass>& pass,
                            const std::vector<std::size_t>& split, int n_threads) {
  const auto T = static_cast<std::size_t>(n_threads);
  std::vector<std::uint64_t> start(T * n_elements);
  std::uint64_t at = 0;
  for (std::size_t e = 0; e < n_elements; ++e) {
    index.ptr[e] = at;
    for (std::size_t k = 0; k < T; ++k) {
      start[k * n_elements + e] = at;
      at += pass[k].degree[e];
    }
  }
  index.ptr[n_elements] = at;
  run_parallel(n_threads, [&](int k) {
    std::uint32_t* const base = index.sets.data();
    const std::uint64_t* const fill0 = start.data() + static_cast<std::size_t>(k) * n_elements;
    std::vector<std::uint32_t*> fill(n_elements);
    for (std::size_t e = 0; e < n_elements; ++e) fill[e] = base + fill0[e];
    std::uint32_t** const f = fill.data();
    const std::int64_t end = indptr[split[static_cast<std::size_t>(k) + 1]];
    constexpr std::int64_t kAhead = 32;  // the write slot of the entry kAhead later is fetched early
    for (std::size_t s = split[static_cast<std::size_t>(k)]; s < split[static_cast<std::size_t>(k) + 1]; ++s)
      for (std::int64_t t = indptr[s]; t < indptr[s + 1]; ++t) {
        if (t + kAhead < end) prefetch_write(f[indices[t + kAhead]]);
        *f[indices[t]]++ = static_cast<std::uint32_t>(s);
      }
  });
}

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
inline std::uint64_t double_bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

template <Rule R>
std::vector<std::int64_t> max_coverage_greedy(std::size_t n_sets, const std::int64_t* indptr,
                                              const std::int32_t* indices, std::size_t n_elements,
                                              const double* weights, const double* costs, double budget, double rtol,
                                              int n_threads, CsrDefect* defect, MaxCoverageStats& st) {
  constexpr int kShift = 46;  // 6 mantissa bits: 64 buckets per octave
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const double limit = budget * (1.0 + rtol);
  const std::size_t nnz = static_cast<std::size_t>(indptr[n_sets]);
  const int threads = useful_threads(nnz, n_threads);
  st.threads = threads;
  // ranges of whole slack blocks: each block's bound is written by one thread
  const std::vector<std::size_t> split = split_by_entries(n_sets, indptr, threads, std::size_t{1} << kSlackShift);

  HugeArray<double> gain(n_sets);  // -exact gain (clean, sign bit set) or +upper part (dirty)
  std::vector<float> block_slack((n_sets >> kSlackShift) + 1, 0.0f);
  std::vector<FirstPass> pass(static_cast<std::size_t>(threads));
  run_parallel(threads, [&](int k) {
    first_pass(split[static_cast<std::size_t>(k)], split[static_cast<std::size_t>(k) + 1], indptr, indices, n_elements,
               weights, gain.data(), block_slack.data(), &pass[static_cast<std::size_t>(k)]);
  });
  for (const FirstPass& p : pass)  // ranges ascend: the first defect found is the first in order
    if (p.defect.set >= 0) {
      *defect = p.defect;
      return {};
    }
  SetIndex index(n_elements, nnz);
  build_set_index(index, n_elements, indptr, indices, pass, split, threads);
  pass.clear();

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
    const double x = gain[s];
    if (std::signbit(x)) {
      *out = score(s, -x, true);
      return true;
    }
    const double ub = x + static_cast<double>(block_slack[s >> kSlackShift]);
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
  double min_cost = kInf, c_max = 0.0;
  for (std::size_t s = 0; s < n_sets; ++s) {
    if (!(-gain[s] > 0.0) || !(costs[s] <= limit)) continue;
    min_cost = std::min(min_cost, costs[s]);
    c_max = std::max(c_max, costs[s]);
    const std::int64_t k = raw_key(score(s, -gain[s], true));
    const int cls = k >= kInfClass;
    lo[cls] = std::min(lo[cls], k);
    hi[cls] = std::max(hi[cls], k);
  }
  // keys only fall, down to the least positive score: w_min, or w_min / (largest cost) for ratios
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
    if (-gain[s] > 0.0 && costs[s] <= limit)
      parked[static_cast<std::size_t>(bucket(score(s, -gain[s], true)))].push_back(static_cast<std::uint32_t>(s));

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
        if (i + 16 < n) prefetch(&gain[pour[i + 16]]);
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
  const std::uint32_t* const inv = index.sets.data();
  double* const g = gain.data();
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
    if (top.exact && std::signbit(gain[s])) {
      if (open_down_to(bucket(top))) continue;  // a bucket in between may hold a better set
      pop();
      chosen.push_back(static_cast<std::int64_t>(s));
      used += costs[s];
      for (std::int64_t t = indptr[s]; t < indptr[s + 1]; ++t) {
        const auto e = static_cast<std::size_t>(indices[t]);
        if (covered[e]) continue;
        covered[e] = 1;
        const double we = weights[e];
        if (!(we > 0.0)) continue;  // a zero weight changes no gain
        const std::uint32_t* q = inv + index.ptr[e];
        const std::uint32_t* const q_end = inv + index.ptr[e + 1];
        st.decrements += q_end - q;
        for (; q != q_end; ++q) {
          double& x = g[*q];
          const double y = std::fabs(x) - we;  // dirty from now on: sign bit clear
          x = y > 0.0 ? y : 0.0;
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
      gain[s] = -exact;
      if (!(exact > 0.0)) continue;
      x = score(s, exact, true);
    }
    place(x);
  }
  return chosen;
}
}  // namespace detail

// Greedy max coverage under one additive budget (see above). indptr/indices: n_sets < 2^31 sets in
// CSR form (indptr non-decreasing from 0); weights: n_elements < 2^31 finite values >= 0; costs:
// n_sets finite values >= 0. The offsets, sizes and n_threads are checked first (bad_shape), then the
// numbers (check_coverage_values: weights, costs, budget, rtol; `value`), and the CSR ids on the way (in range, no repeat inside a set): on a defect it is reported in *defect (or
// thrown as std::invalid_argument when defect is null) and nothing is chosen. n_threads (>= 1) bounds the
// threads of the first pass and of the index build. Returns the chosen sets in selection order.
inline std::vector<std::int64_t> max_coverage_greedy(std::size_t n_sets, const std::int64_t* indptr,
                                                     const std::int32_t* indices, std::size_t n_elements,
                                                     const double* weights, const double* costs, double budget,
                                                     double rtol, Rule rule, CsrDefect* defect, int n_threads = 1,
                                                     MaxCoverageStats* stats = nullptr) {
  CsrDefect local;
  CsrDefect* const out = defect ? defect : &local;  // no slot: a defect is thrown
  *out = CsrDefect{};
  constexpr std::size_t kLimit = std::size_t{1} << 31;  // ids and set stamps are 32-bit
  if (n_threads < 1 || n_sets >= kLimit || n_elements >= kLimit || first_bad_offset(indptr, n_sets) >= 0) {
    out->set = 0;
    out->bad_shape = true;
  } else {
    *out = check_coverage_values(weights, n_elements, costs, n_sets, budget, rtol);  // NaN or negative: refused
  }
  MaxCoverageStats st;
  std::vector<std::int64_t> chosen;
  if (out->set < 0)
    chosen = rule == Rule::Ratio ? detail::max_coverage_greedy<Rule::Ratio>(n_sets, indptr, indices, n_elements, weights,
                                                                           costs, budget, rtol, n_threads, out, st)
                                 : detail::max_coverage_greedy<Rule::Gain>(n_sets, indptr, indices, n_elements, weights,
                                                                          costs, budget, rtol, n_threads, out, st);
  if (stats) *stats = st;
  if (!defect && out->set >= 0)
    throw std::invalid_argument(out->bad_shape                        ? "max_coverage_greedy: bad offsets, sizes or threads"
                                : out->value != CoverageValue::None ? "max_coverage_greedy: " + describe_value(*out)
                                                                      : "max_coverage_greedy: an element id out of range or repeated in a set");
  return chosen;
}

// Marginal gain of every set given the covered elements (covered may be null: nothing covered),
// left-to-right sums as in SetCoverageGains::gain: one streaming pass over the CSR, the floor
// the greedy is measured against, on up to n_threads threads (set ranges). The ids are checked on
// the way: false when one is outside [0, n_elements), or the offsets are not from 0 non-decreasing
// (the gains are then unspecified).
inline bool coverage_gains(std::size_t n_sets, const std::int64_t* indptr, const std::int32_t* indices,
                           std::size_t n_elements, const double* weights, const std::uint8_t* covered, double* out,
                           int n_threads = 1) {
  if (first_bad_offset(indptr, n_sets) >= 0 || n_elements >= (std::size_t{1} << 32)) return false;
  const int threads = detail::useful_threads(static_cast<std::size_t>(indptr[n_sets]), n_threads);
  const std::vector<std::size_t> split = detail::split_by_entries(n_sets, indptr, threads);
  std::vector<char> bad(static_cast<std::size_t>(threads), 0);
  const auto* const ids = reinterpret_cast<const std::uint32_t*>(indices);  // a negative id wraps above n
  const auto n_el = static_cast<std::uint32_t>(n_elements);
  detail::run_parallel(threads, [&](int k) {
    const std::size_t s0 = split[static_cast<std::size_t>(k)], s1 = split[static_cast<std::size_t>(k) + 1];
    std::uint32_t outside = 0;
    for (std::size_t s = s0; s < s1; ++s) {
      double sum = 0.0;
      for (std::int64_t t = indptr[s]; t < indptr[s + 1]; ++t) {
        const std::uint32_t e = ids[t];
        if (e >= n_el) {
          outside = 1;
          continue;
        }
        if (!covered || !covered[e]) sum += weights[e];
      }
      out[s] = sum;
    }
    bad[static_cast<std::size_t>(k)] = static_cast<char>(outside);
  });
  return std::none_of(bad.begin(), bad.end(), [](char b) { return b != 0; });
}

}  // namespace trimcore
