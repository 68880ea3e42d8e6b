// Online foundation-model caching with Age of Context (AoC) and least-context (LC) eviction.
//
// A `Cache` holds the state of every edge server (resident models, block reference counts,
// in-context examples, policy counters) and is stepped one request at a time with
// `on_request(...)`, so a C++ network simulator can drive the same policies the Python package
// runs. Every policy shares one request-handling skeleton (spec §5.0 of
// papers/aoc_least_context.md); only the victim choice differs. `replay` runs a whole trace.
//
// The operations and their order mirror trimcore/kernels/online/reference.py exactly (same sums
// in the same order, same tie-breaks), so both tiers return identical decisions. Inputs are
// validated here (std::invalid_argument naming the field): no input can cause undefined behaviour.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "trimcore/portable.hpp"
#include "trimcore/array_view.hpp"

namespace trimcore {
namespace online {

enum class Outcome : std::int8_t { Hit = 0, Substitute = 1, Load = 2, Cloud = 3 };
enum class PolicyKind : int { LC = 0, LCTask = 1, LRU = 2, LFU = 3, FIFO = 4, Random = 5, Cloud = 6, Static = 7,
                              Belady = 8 };

// The instance: non-owning views (the caller keeps the arrays alive while the Cache lives).
struct Instance {
  std::int64_t n_servers = 0, n_models = 0, n_tasks = 0;
  View<const std::int64_t> blk_ptr, blk_idx;   // model i = blk_idx[blk_ptr[i] .. blk_ptr[i+1])
  View<const double> blk_size;                 // bytes per block (> 0)
  View<const double> model_size;               // full size of each model (its blocks summed in order)
  View<const double> cap;                      // memory per server times (1 + tolerance)
  View<const std::uint8_t> model_tasks;        // [I * M]: model j can serve task m
  View<const double> relevance;                // [M * M]: rho(m_e, m)
  View<const std::int64_t> window;             // [I] examples kept per context
  View<const double> nu_pow;                   // nu^age for age 0 .. size-1
  std::int64_t prune_age = 0;                  // examples with age >= prune_age are pruned
  View<const double> a0, amax, kappa;          // [I] accuracy curve
  int curve = 0;                               // 0: saturating exponential, 1: logarithmic
  double log_beta = 0, eta_sub = 1, rho_sub = 1, ell_ex = 0;
  View<const double> phi;                      // [I] FLOPs per token
  View<const double> edge_flops, access;       // [N]
  double cloud_flops = 1, cloud_lat = 0, load_bw = 1;
  double w_L = 0, w_A = 0, w_S = 0, w_E = 0, w_C = 0, energy_per_flop = 0;
  View<const double> cloud_price;              // [I]
  bool persist = false;                        // keep contexts across eviction
  double lc_prior = 0;                         // AoC a load starts with, for LC's victim ranking only
  View<const std::uint8_t> initial;            // [N * I] resident before the first request (may be empty)
};

struct Flags {
  PolicyKind policy = PolicyKind::LC;
  bool greedy_admission = false, allow_substitution = true;
  std::int64_t lc_grace_slots = 0;
  bool lc_max_age = false;  // lc_order = "max_age"
  bool lfu_reset_on_evict = true, pin_models_used_this_slot = false;
  // make_room = "frees_first": each victim is the first in the policy's order whose eviction frees
  // some bytes now (the policy's first choice if none does); false: "policy_order", always the first
  bool make_room_frees_first = true;
  double task_ewma = 0.1, admission_horizon = 1.0;
  std::uint64_t rng_seed = 0;
};

struct Request {
  std::int64_t slot = 0, server = 0, model = 0, task = 0;
  double tokens_in = 0, tokens_out = 0;
  std::int64_t next_use = std::numeric_limits<std::int64_t>::max();  // next request of (server, model): Belady
};

struct Decision {
  Outcome outcome = Outcome::Cloud;
  std::int64_t served_by = -1;
  double accuracy = 0, latency = 0, aoc = 0, loaded_bytes = 0, memory_used = 0, cost = 0;
  double costs[5] = {0, 0, 0, 0, 0};  // latency, accuracy loss, switching, cloud, energy
};

inline std::uint64_t splitmix64(std::uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

namespace detail {
[[noreturn]] inline void bad(const std::string& field, const std::string& what) {
  throw std::invalid_argument(field + ": " + what);
}
inline void need_size(std::size_t got, std::size_t want, const char* field) {
  if (got != want) bad(field, "expected " + std::to_string(want) + " values, got " + std::to_string(got));
}
inline void finite_nonneg(View<const double> v, const char* field, bool strictly = false) {
  for (std::size_t k = 0; k < v.size; ++k)
    if (!std::isfinite(v[k]) || v[k] < 0 || (strictly && v[k] <= 0))
      bad(field, std::string("expected finite values ") + (strictly ? "> 0" : ">= 0") + " (index " +
                     std::to_string(k) + ")");
}
inline void finite_nonneg(double v, const char* field, bool strictly = false) {
  if (!std::isfinite(v) || v < 0 || (strictly && v <= 0))
    bad(field, std::string("expected a finite number ") + (strictly ? "> 0" : ">= 0"));
}
}  // namespace detail

class Cache {
 public:
  Cache(const Instance& inst, const Flags& flags) : in_(inst), fl_(flags) {
    validate();
    const auto N = static_cast<std::size_t>(in_.n_servers), I = static_cast<std::size_t>(in_.n_models);
    pair_.assign(N * I, Pair{});
    hot_.assign(N * I, Hot{});
    refcount_.assign(N * in_.blk_size.size, 0);
    used_.assign(N, 0.0);
    res_list_.assign(N, {});
    lc_mirror_ = fl_.policy == PolicyKind::LC && !fl_.lc_max_age;
    if (lc_mirror_) res_lc_.assign(N, {});
    if (ordered_list()) {
      head_.assign(N, -1);
      tail_.assign(N, -1);
    }
    lfu_list_ = fl_.policy == PolicyKind::LFU && fl_.lfu_reset_on_evict && !fl_.pin_models_used_this_slot;
    if (lfu_list_) fhead_.assign(N, -1);
    for (std::size_t m = 0; m < I; ++m) wcap_ = std::max(wcap_, static_cast<std::size_t>(in_.window[m]));
    {  // a model with a block no other model has frees that block whenever it is evicted
      std::vector<std::int32_t> holders(in_.blk_size.size, 0);
      for (auto p = std::size_t{0}; p < in_.blk_idx.size; ++p) holders[static_cast<std::size_t>(in_.blk_idx[p])] += 1;
      private_.assign(I, 0);
      for (std::size_t m = 0; m < I; ++m)
        for (auto p = in_.blk_ptr[m]; p < in_.blk_ptr[m + 1]; ++p)
          if (holders[static_cast<std::size_t>(in_.blk_idx[static_cast<std::size_t>(p)])] == 1) private_[m] = 1;
    }
    rho_min_ = std::min(1.0, in_.rho_sub);
    lc_heap_ = fl_.policy == PolicyKind::LC && !fl_.lc_max_age && !fl_.pin_models_used_this_slot &&
               fl_.lc_grace_slots == 0 &&
               (!fl_.make_room_frees_first || std::all_of(private_.begin(), private_.end(), [](std::uint8_t x) { return x != 0; })) &&
               lc_geometric();
    if (lc_heap_) {  // the heap replaces the mirror
      lc_mirror_ = false;
      res_lc_.clear();
      lheap_.assign(N, {});
      ldue_.assign(N, {});
      ldl_.assign(N * I, -1);
    }
    // The default relevance (1 on the diagonal, one value off it) needs no M x M lookups: the same
    // doubles, chosen by a comparison (with M = I = 1,000 tasks the matrix is 8 MB of cache misses).
    const auto M = static_cast<std::size_t>(in_.n_tasks);
    rel_off_ = M > 1 ? in_.relevance[1] : 0.0;
    rel_uniform_ = true;
    for (std::size_t a = 0; a < M && rel_uniform_; ++a)
      for (std::size_t b = 0; b < M; ++b)
        if (in_.relevance[a * M + b] != (a == b ? 1.0 : rel_off_)) {
          rel_uniform_ = false;
          break;
        }
    if (fl_.policy == PolicyKind::LCTask) share_.assign(N * static_cast<std::size_t>(in_.n_tasks), 0.0);
    rng_ = fl_.rng_seed;
    if (in_.initial.size) {
      for (std::size_t s = 0; s < N; ++s)
        for (std::size_t m = 0; m < I; ++m)
          if (in_.initial[s * I + m]) {
            add_blocks(s, m);
            set_resident(s, m, true);
          }
      const std::size_t J = in_.blk_size.size;
      for (std::size_t s = 0; s < N; ++s) {  // exact union, one ascending sum (as the reference)
        double total = 0.0;
        for (std::size_t b = 0; b < J; ++b)
          if (refcount_[s * J + b] > 0) total += in_.blk_size[b];
        used_[s] = total;
      }
    }
  }

  // Decide one request (arrival order). The models it evicted are `evicted()` until the next call.
  Decision on_request(const Request& rq) {
    check_request(rq);
    const auto s = static_cast<std::size_t>(rq.server), i = static_cast<std::size_t>(rq.model);
    const std::int64_t t = rq.slot, m = rq.task, r = n_seen_;
    const PolicyKind code = fl_.policy;
    evicted_.clear();
    Pair& pi = pair(s, i);
    const Hot& hi = hot(s, i);
    if (code == PolicyKind::Belady) pi.next_use = rq.next_use;  // only Belady reads it
    if (code == PolicyKind::LCTask) {
      double* share = &share_[s * static_cast<std::size_t>(in_.n_tasks)];
      for (std::int64_t mm = 0; mm < in_.n_tasks; ++mm) share[mm] = share[mm] * (1.0 - fl_.task_ewma);
      share[m] = share[m] + fl_.task_ewma;
    }
    Decision d;
    double sw = 0.0;
    Totals tot;
    if (code != PolicyKind::Cloud && hi.res_pos >= 0) {
      d.outcome = Outcome::Hit;
      d.served_by = static_cast<std::int64_t>(i);
      double agn = 0.0;
      const double k = sums(s, i, t, m, &agn);
      const Edge e = edge(s, i, rq, k, false);
      tot = total(e.lat, e.acc, 0.0, 0.0, e.energy);
      d.latency = e.lat;
      d.accuracy = e.acc;
      d.aoc = agn;
    } else {
      const double i0 = rq.tokens_in + rq.tokens_out;
      const double c_lat = in_.access[s] + in_.cloud_lat + in_.phi[i] * i0 / in_.cloud_flops;
      const double c_acc = in_.a0[i];
      Totals best = total(c_lat, c_acc, 0.0, in_.w_C * in_.cloud_price[i], 0.0);
      double best_lat = c_lat, best_acc = c_acc, best_a = 0.0;
      d.outcome = Outcome::Cloud;
      const bool can_load = code != PolicyKind::Cloud && code != PolicyKind::Static;
      const bool load_fits = can_load && in_.model_size[i] <= in_.cap[s];
      Totals load_tot;
      double load_lat = 0, load_acc = 0, load_cmp = 0;
      if (load_fits) {
        sw = missing_bytes(s, i);
        double unused = 0.0;
        // the context it will have once loaded: what persisted (empty unless persist)
        const double k_load = sums(s, i, t, m, &unused);
        Edge e = edge(s, i, rq, k_load, false);
        // admission compares the one-off load costs spread over admission_horizon requests
        const double onetime = in_.w_S * sw + in_.w_L * (sw / in_.load_bw);
        load_cmp = in_.w_L * e.lat + in_.w_A * (1.0 - e.acc) + e.energy + onetime / fl_.admission_horizon;
        e.lat = e.lat + sw / in_.load_bw;
        load_tot = total(e.lat, e.acc, sw, 0.0, e.energy);
        load_lat = e.lat;
        load_acc = e.acc;
      }
      if (fl_.greedy_admission && load_fits) {
        d.outcome = Outcome::Load;
        best = load_tot;
        best_lat = load_lat;
        best_acc = load_acc;
      } else {
        bool have_sub = false;
        Totals sub_tot;
        double sub_lat = 0, sub_acc = 0;
        std::int64_t sub_j = -1;
        if (fl_.allow_substitution && code != PolicyKind::Cloud) {
          for (const std::int64_t jj : res_list_[s]) {
            const auto j = static_cast<std::size_t>(jj);
            if (!in_.model_tasks[j * static_cast<std::size_t>(in_.n_tasks) + static_cast<std::size_t>(m)]) continue;
            double unused = 0.0;
            const double k = sums(s, j, t, m, &unused);
            const Edge e = edge(s, j, rq, k, true);
            const Totals tj = total(e.lat, e.acc, 0.0, 0.0, e.energy);
            // strictly cheaper, or as cheap with a lower index: the reference scans ascending ids
            if (!have_sub || tj.sum < sub_tot.sum || (tj.sum == sub_tot.sum && jj < sub_j)) {
              have_sub = true;
              sub_tot = tj;
              sub_lat = e.lat;
              sub_acc = e.acc;
              sub_j = jj;
            }
          }
        }
        if (have_sub && sub_tot.sum <= best.sum && (!load_fits || sub_tot.sum <= load_cmp)) {
          d.outcome = Outcome::Substitute;
          d.served_by = sub_j;
          best = sub_tot;
          best_lat = sub_lat;
          best_acc = sub_acc;
          best_a = aoc(s, static_cast<std::size_t>(sub_j), t);
        }
        if (d.outcome == Outcome::Cloud && load_fits && load_cmp <= best.sum) {
          d.outcome = Outcome::Load;
          best = load_tot;
          best_lat = load_lat;
          best_acc = load_acc;
        }
      }
      tot = best;
      d.latency = best_lat;
      d.accuracy = best_acc;
      if (d.outcome != Outcome::Load) sw = 0.0;
      d.aoc = best_a;
      if (d.outcome == Outcome::Load) {
        d.served_by = static_cast<std::int64_t>(i);
        if (lfu_list_) pi.freq = 1;  // its count on entering the LFU order (set below in every mode)
        make_room(s, i, t);
        pi.prior_slot = in_.lc_prior > 0.0 ? t : -1;
        sync_lc(s, i);
        pi.load_time = r;
        pi.load_slot = t;
        pi.freq = fl_.lfu_reset_on_evict ? 1 : pi.freq + 1;
        d.aoc = aoc(s, i, t);
      }
    }
    d.loaded_bytes = sw;
    d.cost = tot.sum;
    for (int c = 0; c < 5; ++c) d.costs[c] = tot.c[c];
    if (d.outcome != Outcome::Cloud) {
      const auto j = static_cast<std::size_t>(d.served_by);
      Example dropped{};
      const bool drop = append_example(s, j, t, m, j != i, &dropped);
      Pair& pj = pair(s, j);
      pj.last_use = r;
      // d.aoc is the served model's exact AoC at t before its new example (pruned at t)
      if (lc_heap_) lc_served(s, j, t, d.aoc, j != i, drop ? &dropped : nullptr);
      if (lc_mirror_ && hot(s, j).res_pos >= 0) res_lc_[s][static_cast<std::size_t>(hot(s, j).res_pos)].last_use = r;
      if (code == PolicyKind::LRU && hot(s, j).res_pos >= 0) to_tail(s, j);  // the most recent use
      pj.last_slot = t;
      if (d.outcome != Outcome::Load) {
        pj.freq += 1;
        if (lfu_list_) lfu_touch(s, j);
      }
    }
    d.memory_used = used_[s];
    ++n_seen_;
    return d;
  }

  // Hints for a request `ahead` positions later (no effect on decisions): its (server, model) record
  // far ahead, its context ring nearer (the record is in cache by then). `replay` uses them.
  void prefetch_far(const Request& rq) const {
    if (rq.server < 0 || rq.server >= in_.n_servers || rq.model < 0 || rq.model >= in_.n_models) return;
    const auto s = static_cast<std::size_t>(rq.server), m = static_cast<std::size_t>(rq.model);
    hint(&hot(s, m));
    hint(&pair(s, m));
    // the first block's reference count (all of it in the model-granular mode): missing_bytes reads it
    hint(&refcount_[s * in_.blk_size.size + static_cast<std::size_t>(in_.blk_idx[static_cast<std::size_t>(in_.blk_ptr[m])])]);
  }
  void prefetch_near(const Request& rq) const {
    if (rq.server < 0 || rq.server >= in_.n_servers || rq.model < 0 || rq.model >= in_.n_models) return;
    const auto s = static_cast<std::size_t>(rq.server);
    if (ordered_list() && head_[s] >= 0) {  // the next victim, should the request miss
      const auto v = static_cast<std::size_t>(head_[s]);
      hint(&hot(s, v));
      hint(&refcount_[s * in_.blk_size.size + static_cast<std::size_t>(in_.blk_idx[static_cast<std::size_t>(in_.blk_ptr[v])])]);
    }
    if (lc_heap_ && !lheap_[s].empty()) {  // LC's likely victim, should the request miss
      const auto v = static_cast<std::size_t>(lheap_[s][0].model);
      hint(&hot(s, v));
      hint(&pair(s, v));
      hint(&refcount_[s * in_.blk_size.size + static_cast<std::size_t>(in_.blk_idx[static_cast<std::size_t>(in_.blk_ptr[v])])]);
    }
    const Hot& p = hot(s, static_cast<std::size_t>(rq.model));
    if (p.ring < 0) return;
    const auto q = static_cast<std::size_t>(p.ring);
    hint(&ring_[q]);
    const Example* base = &pool_[q * wcap_];
    for (std::size_t k = 0; k < wcap_; k += 8) hint(base + k);
  }

  const std::vector<std::int64_t>& evicted() const { return evicted_; }
  double used(std::size_t server) const { return used_.at(server); }
  bool is_resident(std::size_t server, std::size_t model) const {
    return hot_.at(server * static_cast<std::size_t>(in_.n_models) + model).res_pos >= 0;
  }
  std::int64_t requests_seen() const { return n_seen_; }

 private:
  // What the skeleton keeps per (server, model), split in two: the hot record every request of
  // the pair reads (16 bytes: the 100 x 1,000 pairs of the benchmark fit in 1.6 MB of L2) and the
  // policy keys, which only the policies that rank by them read.
  struct alignas(16) Hot {
    std::int32_t res_pos = -1;       // position in the server's resident list, -1 if not resident
    std::int32_t ring = -1;          // context ring in the pool, -1 none (empty context)
    std::int32_t prev = -1, next = -1;  // LRU / FIFO: neighbours in the server's eviction order
                                        // (LC by heap: prev = the model's position in its server's heap)
  };
  struct alignas(64) Pair {
    std::int64_t last_use = -1, freq = 0, load_time = -1, load_slot = -1, last_slot = -1;
    std::int64_t next_use = std::numeric_limits<std::int64_t>::max();
    std::int64_t prior_slot = -1;  // slot of the load that set the lc_prior term, -1 none (always, if lc_prior = 0)
    std::int32_t fnode = -1;       // LFU order: the frequency node holding the model while resident
  };
  // One in-context example in 8 bytes: slot relative to the first request, task << 1 | substitute.
  struct Example {
    std::uint32_t tau;
    std::uint32_t task_sub;
  };
  struct Edge {
    double lat, acc, energy;
  };
  struct Totals {
    double sum = 0;
    double c[5] = {0, 0, 0, 0, 0};
  };

  const Instance in_;
  const Flags fl_;
  std::vector<Pair> pair_;
  std::vector<Hot> hot_;
  // Context rings: ring q holds its examples in pool_[q * wcap_ ...], oldest at ring_[q].head.
  // Rings are recycled on eviction, so the memory in use stays near the resident models'.
  std::vector<Example> pool_;
  // Per ring, in one small record: head and length, the oldest example's slot (so pruning and the
  // bound need not touch the pool), and a certified lower bound `lb` of the ring's AoC expressed at
  // slot `lb_t` (relative): refreshed by every exact sum, kept valid by appends (they only add),
  // lowered by every dropped example. LC computes exact values only for candidates whose bound does
  // not rule them out.
  struct RingMeta {
    std::uint32_t head = 0, len = 0, oldest = 0, pad = 0;
    double lb = 0.0;
    std::int64_t lb_t = 0;
  };
  std::vector<RingMeta> ring_;
  std::vector<std::int32_t> free_rings_;
  std::size_t wcap_ = 0;
  double rho_min_ = 1.0;
  bool rel_uniform_ = false;
  double rel_off_ = 0.0;
  std::vector<std::int32_t> refcount_;
  std::vector<std::uint8_t> private_;  // per model: it has a block of its own (evicting it always frees)
  std::vector<double> used_, share_;
  std::vector<std::vector<std::int64_t>> res_list_;
  // LRU and FIFO: the resident models of each server in eviction order (a doubly linked list over
  // model ids, head = next victim), so a victim costs O(1) instead of a scan of the resident models.
  // LRU moves a model to the tail at every use (last_use = r is then the largest), FIFO at its load
  // (load_time = r); the initial placement enters in ascending ids with key -1, the reference's
  // tie-break, so walking from the head visits the models in the reference's key order.
  std::vector<std::int32_t> head_, tail_;
  // LFU (in-cache counts, nothing pinned): the classic O(1) LFU order. Per server, a doubly linked
  // list of frequency nodes by increasing count (fhead_[s] the smallest), each node a doubly linked
  // list (through Hot::prev/next) of its resident models by increasing last_use: every use raises
  // the count by one and sets last_use to the newest request, so the model moves to the tail of
  // the next node; a load enters count 1 at the tail. Walking nodes from fhead_, each from its head,
  // visits the models in the reference's key order (count, last_use, id).
  struct FNode {
    std::int64_t freq = 0;
    std::int32_t head = -1, tail = -1, prev = -1, next = -1;
  };
  bool lfu_list_ = false;
  std::vector<std::int32_t> fhead_, free_fnodes_;
  std::vector<FNode> fnodes_;
  // LC's copy of what aoc_lower_bound reads, kept per server in resident-list order (res_lc_[s][k]
  // for res_list_[s][k]) so the bound of every candidate is one contiguous scan instead of a cache
  // miss per resident model. Refreshed whenever a resident model's ring or prior changes.
  struct LcKey {
    double lb = 0.0;            // the ring's bound at slot lb_t (relative)
    std::int32_t lb_t = 0, oldest = 0, len = 0;
    std::int32_t prior = -1;    // slot of the prior relative to the first slot, -1 none
    std::int64_t last_use = -1;  // the model's last_use (kept by on_request, not by sync_lc)
  };
  bool lc_mirror_ = false;
  std::vector<std::vector<LcKey>> res_lc_;
  // LC by heap (lc_heap_: LC with lc_order = "min_value", nothing protected, every victim freeing
  // something or make_room = "policy_order", and a geometric nu table checked by lc_geometric).
  // Between two changes of its context a model's AoC decays by one common factor per slot:
  // AoC(t) = AoC(tref) nu^(t - tref), so the order of the resident models by AoC is the order by the
  // time-invariant key log AoC(tref) - tref log nu, which changes only when the model gets an
  // example (on_request), loses one (window or pruning: the due heap below) or is loaded. Per
  // server an indexed binary heap of the resident models by that key (position in Hot::prev); an
  // exactly-zero AoC (no example, no prior) sorts first, among zeros by the reference's tie-break
  // (last_use, larger size, id). The victim is the root, unless other models' keys lie within
  // kLcMargin of it: then their exact AoCs and the reference's full tuple decide (lc_victim).
  // Per server, a min-heap of (deadline, model): the relative slot at which the model's oldest
  // example or prior is pruned; ldl_[s * I + m] holds the deadline scheduled (-1 none; 4 bytes a
  // pair, so the check stays in cache). Stale entries (superseded, or the model evicted) are skipped.
  struct LcNode {
    double logv;             // log AoC at slot tref (relative); kLcZero: exactly 0
    std::int64_t last_use;   // the model's last_use (the first tie-break)
    std::int32_t tref, model;
    // an AoC of one term (one example and no prior, or only the prior) is exactly
    // coef * nu_pow[t - t0] at every slot t until it changes (the sums start from 0.0), with coef
    // 1.0, rho_sub or lc_prior for `term` 1, 2, 3; term 0: more terms (32 bytes a node)
    std::int32_t t0, term;
  };
  double lc_coef(const LcNode& x) const { return x.term == 1 ? 1.0 : x.term == 2 ? in_.rho_sub : in_.lc_prior; }
  static constexpr double kLcZero = -std::numeric_limits<double>::infinity();
  // keys within this (log space) of the root's are resolved exactly; the keys' own error is below
  // 1e-8 (the nu table is geometric to 1e-10 per entry, the AoC sums to window * 2^-52)
  static constexpr double kLcMargin = 1e-7;
  bool lc_heap_ = false, lc_deadlines_ = false, lc_loading_ = false;
  double lc_log_nu_ = 0.0;
  std::vector<std::vector<LcNode>> lheap_;
  std::vector<std::vector<std::pair<std::int32_t, std::int32_t>>> ldue_;
  std::vector<std::int32_t> lc_stack_, lc_near_, ldl_;
  std::vector<std::int64_t> evicted_, cand_, probe_;
  std::vector<double> keys_;
  std::vector<std::int64_t> lastk_;  // LC: last_use of the candidates (the first tie-break)
  std::vector<std::uint8_t> exact_;
  std::uint64_t rng_ = 0;
  std::int64_t n_seen_ = 0, last_slot_seen_ = std::numeric_limits<std::int64_t>::min(), first_slot_ = 0;

  static void hint(const void* p) { prefetch_read(p); }
  Pair& pair(std::size_t s, std::size_t m) { return pair_[s * static_cast<std::size_t>(in_.n_models) + m]; }
  const Pair& pair(std::size_t s, std::size_t m) const {
    return pair_[s * static_cast<std::size_t>(in_.n_models) + m];
  }
  Hot& hot(std::size_t s, std::size_t m) { return hot_[s * static_cast<std::size_t>(in_.n_models) + m]; }
  const Hot& hot(std::size_t s, std::size_t m) const { return hot_[s * static_cast<std::size_t>(in_.n_models) + m]; }

  // ------------------------------------------------------------------ validation
  void validate() const {
    using detail::bad;
    using detail::need_size;
    if (in_.n_servers < 1) bad("n_servers", "expected >= 1");
    if (in_.n_models < 1) bad("n_models", "expected >= 1");
    if (in_.n_tasks < 1) bad("n_tasks", "expected >= 1");
    const auto N = static_cast<std::size_t>(in_.n_servers), I = static_cast<std::size_t>(in_.n_models),
               M = static_cast<std::size_t>(in_.n_tasks);
    if (N > (std::size_t{1} << 30) || I > (std::size_t{1} << 30) || M > (std::size_t{1} << 30) ||
        N * I > (std::size_t{1} << 34))
      bad("n_servers * n_models", "too large");
    need_size(in_.blk_ptr.size, I + 1, "blk_ptr");
    const std::size_t J = in_.blk_size.size;
    if (J == 0) bad("blk_size", "expected at least one block");
    detail::finite_nonneg(in_.blk_size, "blk_size", true);
    if (in_.blk_ptr[0] != 0 || in_.blk_ptr[I] != static_cast<std::int64_t>(in_.blk_idx.size))
      bad("blk_ptr", "expected CSR offsets from 0 to len(blk_idx)");
    for (std::size_t k = 0; k < I; ++k) {
      if (in_.blk_ptr[k + 1] <= in_.blk_ptr[k]) bad("blk_ptr", "expected at least one block per model");
    }
    for (std::size_t k = 0; k < in_.blk_idx.size; ++k)
      if (in_.blk_idx[k] < 0 || in_.blk_idx[k] >= static_cast<std::int64_t>(J)) bad("blk_idx", "block id out of range");
    for (std::size_t k = 0; k < I; ++k)  // ascending, distinct: the reference counts rely on it
      for (auto p = in_.blk_ptr[k] + 1; p < in_.blk_ptr[k + 1]; ++p)
        if (in_.blk_idx[static_cast<std::size_t>(p)] <= in_.blk_idx[static_cast<std::size_t>(p - 1)])
          bad("blk_idx", "expected ascending distinct block ids per model");
    need_size(in_.model_size.size, I, "model_size");
    detail::finite_nonneg(in_.model_size, "model_size", true);
    need_size(in_.cap.size, N, "cap");
    detail::finite_nonneg(in_.cap, "cap");
    need_size(in_.model_tasks.size, I * M, "model_tasks");
    need_size(in_.relevance.size, M * M, "relevance");
    detail::finite_nonneg(in_.relevance, "relevance");
    need_size(in_.window.size, I, "window");
    for (std::size_t k = 0; k < I; ++k)
      if (in_.window[k] < 0 || in_.window[k] > (std::int64_t{1} << 24))
        bad("window", "expected integers in [0, 2^24]");
    if (in_.nu_pow.size == 0 || in_.nu_pow.size > (std::size_t{1} << 31))
      bad("nu_pow", "expected a table of 1 to 2^31 entries");
    detail::finite_nonneg(in_.nu_pow, "nu_pow");
    if (in_.prune_age < 0) bad("prune_age", "expected >= 0");
    for (const auto* v : {&in_.a0, &in_.amax, &in_.kappa, &in_.phi, &in_.cloud_price})
      need_size(v->size, I, "a0/amax/kappa/phi/cloud_price");
    detail::finite_nonneg(in_.a0, "a0");
    detail::finite_nonneg(in_.amax, "amax");
    detail::finite_nonneg(in_.kappa, "kappa");
    detail::finite_nonneg(in_.phi, "phi");
    detail::finite_nonneg(in_.cloud_price, "cloud_price");
    need_size(in_.edge_flops.size, N, "edge_flops");
    need_size(in_.access.size, N, "access");
    detail::finite_nonneg(in_.edge_flops, "edge_flops", true);
    detail::finite_nonneg(in_.access, "access");
    if (in_.curve != 0 && in_.curve != 1) bad("curve", "expected 0 (exp) or 1 (log)");
    detail::finite_nonneg(in_.log_beta, "log_beta");
    detail::finite_nonneg(in_.eta_sub, "eta_sub");
    detail::finite_nonneg(in_.rho_sub, "rho_sub");
    detail::finite_nonneg(in_.ell_ex, "ell_ex");
    detail::finite_nonneg(in_.cloud_flops, "cloud_flops", true);
    detail::finite_nonneg(in_.cloud_lat, "cloud_lat");
    detail::finite_nonneg(in_.load_bw, "load_bw", true);
    for (double w : {in_.w_L, in_.w_A, in_.w_S, in_.w_E, in_.w_C, in_.energy_per_flop, in_.lc_prior})
      detail::finite_nonneg(w, "weights / energy_per_flop / lc_prior");
    if (in_.initial.size != 0) need_size(in_.initial.size, N * I, "initial");
    const int p = static_cast<int>(fl_.policy);
    if (p < 0 || p > 8) bad("policy", "expected a code in 0..8");
    if (fl_.lc_grace_slots < 0) bad("lc_grace_slots", "expected >= 0");
    if (!(fl_.task_ewma >= 0 && fl_.task_ewma <= 1)) bad("task_ewma", "expected a number in [0, 1]");
    if (!(fl_.admission_horizon >= 1) || !std::isfinite(fl_.admission_horizon))
      bad("admission_horizon", "expected a finite number >= 1");
  }

  void check_request(const Request& rq) {
    using detail::bad;
    if (rq.server < 0 || rq.server >= in_.n_servers) bad("server", "id out of range: " + std::to_string(rq.server));
    if (rq.model < 0 || rq.model >= in_.n_models) bad("model", "id out of range: " + std::to_string(rq.model));
    if (rq.task < 0 || rq.task >= in_.n_tasks) bad("task", "id out of range: " + std::to_string(rq.task));
    if (!std::isfinite(rq.tokens_in) || rq.tokens_in < 0) bad("tokens_in", "expected a finite number >= 0");
    if (!std::isfinite(rq.tokens_out) || rq.tokens_out < 0) bad("tokens_out", "expected a finite number >= 0");
    if (rq.next_use < 0) bad("next_use", "expected >= 0");
    if (n_seen_ == 0) {
      if (rq.slot < 0) bad("slot", "expected >= 0");
      first_slot_ = rq.slot;
    } else if (rq.slot < last_slot_seen_) {
      bad("slot", "expected non-decreasing slots (arrival order)");
    }
    // every age t - tau is at most slot - first slot: it must index the nu_pow table
    if (static_cast<std::uint64_t>(rq.slot - first_slot_) >= in_.nu_pow.size)
      bad("slot", "beyond the nu_pow table (slot - first slot must be < its length)");
    last_slot_seen_ = rq.slot;
  }

  // ------------------------------------------------------------------ residency and memory
  void set_resident(std::size_t s, std::size_t m, bool on) {
    auto& list = res_list_[s];
    Hot& p = hot(s, m);
    if (on) {
      p.res_pos = static_cast<std::int32_t>(list.size());
      list.push_back(static_cast<std::int64_t>(m));
      if (ordered_list()) link_tail(s, m);
      if (lfu_list_) lfu_insert(s, m);
      // an initial placement has no context and no prior: exactly zero; a load enters the heap
      // with its key once on_request has its AoC (lc_served; make_room picks nothing before that)
      if (lc_heap_ && !lc_loading_) lc_insert(s, LcNode{kLcZero, -1, 0, static_cast<std::int32_t>(m), 0, 0});
      if (lc_mirror_) {
        // last_use stays -1: an initial placement's, and a load's until on_request sets it to r
        // right after make_room (reading the stale value would cost a cache miss per load)
        res_lc_[s].emplace_back();
        sync_lc(s, m);
      }
    } else {
      const auto pos = static_cast<std::size_t>(p.res_pos);
      const std::int64_t last = list.back();
      list[pos] = last;
      hot(s, static_cast<std::size_t>(last)).res_pos = static_cast<std::int32_t>(pos);
      list.pop_back();
      p.res_pos = -1;
      if (lc_mirror_) {
        res_lc_[s][pos] = res_lc_[s].back();
        res_lc_[s].pop_back();
      }
      if (ordered_list()) unlink(s, m);
      if (lfu_list_) lfu_remove(s, m);
      if (lc_heap_) {
        lc_erase(s, m);
        ldl_[s * static_cast<std::size_t>(in_.n_models) + m] = -1;  // none scheduled (a stale entry is skipped)
      }
    }
  }
  bool ordered_list() const { return fl_.policy == PolicyKind::LRU || fl_.policy == PolicyKind::FIFO; }
  void link_tail(std::size_t s, std::size_t m) {
    Hot& l = hot(s, m);
    l.prev = tail_[s];
    l.next = -1;
    if (tail_[s] >= 0)
      hot(s, static_cast<std::size_t>(tail_[s])).next = static_cast<std::int32_t>(m);
    else
      head_[s] = static_cast<std::int32_t>(m);
    tail_[s] = static_cast<std::int32_t>(m);
  }
  void unlink(std::size_t s, std::size_t m) {
    Hot& l = hot(s, m);
    if (l.prev >= 0)
      hot(s, static_cast<std::size_t>(l.prev)).next = l.next;
    else
      head_[s] = l.next;
    if (l.next >= 0)
      hot(s, static_cast<std::size_t>(l.next)).prev = l.prev;
    else
      tail_[s] = l.prev;
    l.prev = l.next = -1;
  }
  // ---- the LFU order (lfu_list_)
  std::int32_t new_fnode(std::int64_t freq) {
    std::int32_t k;
    if (!free_fnodes_.empty()) {
      k = free_fnodes_.back();
      free_fnodes_.pop_back();
    } else {
      k = static_cast<std::int32_t>(fnodes_.size());
      fnodes_.emplace_back();
    }
    fnodes_[static_cast<std::size_t>(k)] = FNode{freq, -1, -1, -1, -1};
    return k;
  }
  // The node of count `freq` on server s, created after node `after` (-1: at the front) if missing;
  // `nx` is the node after `after` (the search starts there).
  std::int32_t fnode_at(std::size_t s, std::int32_t after, std::int64_t freq) {
    std::int32_t nx = after >= 0 ? fnodes_[static_cast<std::size_t>(after)].next : fhead_[s];
    while (nx >= 0 && fnodes_[static_cast<std::size_t>(nx)].freq < freq) {
      after = nx;
      nx = fnodes_[static_cast<std::size_t>(nx)].next;
    }
    if (nx >= 0 && fnodes_[static_cast<std::size_t>(nx)].freq == freq) return nx;
    const std::int32_t k = new_fnode(freq);
    FNode& node = fnodes_[static_cast<std::size_t>(k)];
    node.prev = after;
    node.next = nx;
    if (after >= 0)
      fnodes_[static_cast<std::size_t>(after)].next = k;
    else
      fhead_[s] = k;
    if (nx >= 0) fnodes_[static_cast<std::size_t>(nx)].prev = k;
    return k;
  }
  void fnode_append(std::size_t s, std::int32_t k, std::size_t m) {
    FNode& node = fnodes_[static_cast<std::size_t>(k)];
    Hot& l = hot(s, m);
    l.prev = node.tail;
    l.next = -1;
    if (node.tail >= 0)
      hot(s, static_cast<std::size_t>(node.tail)).next = static_cast<std::int32_t>(m);
    else
      node.head = static_cast<std::int32_t>(m);
    node.tail = static_cast<std::int32_t>(m);
    pair(s, m).fnode = k;
  }
  void lfu_insert(std::size_t s, std::size_t m) { fnode_append(s, fnode_at(s, -1, pair(s, m).freq), m); }
  void lfu_remove(std::size_t s, std::size_t m) {
    Pair& p = pair(s, m);
    const std::int32_t k = p.fnode;
    FNode& node = fnodes_[static_cast<std::size_t>(k)];
    Hot& l = hot(s, m);
    if (l.prev >= 0)
      hot(s, static_cast<std::size_t>(l.prev)).next = l.next;
    else
      node.head = l.next;
    if (l.next >= 0)
      hot(s, static_cast<std::size_t>(l.next)).prev = l.prev;
    else
      node.tail = l.prev;
    l.prev = l.next = -1;
    p.fnode = -1;
    if (node.head < 0) {  // an empty node leaves the list
      if (node.prev >= 0)
        fnodes_[static_cast<std::size_t>(node.prev)].next = node.next;
      else
        fhead_[s] = node.next;
      if (node.next >= 0) fnodes_[static_cast<std::size_t>(node.next)].prev = node.prev;
      free_fnodes_.push_back(k);
    }
  }
  // Resident model m was just used (its count raised, last_use the newest): to the tail of its node.
  void lfu_touch(std::size_t s, std::size_t m) {
    const std::int32_t from = pair(s, m).fnode;
    const std::int32_t k = fnode_at(s, from, pair(s, m).freq);  // after `from`: counts only grow
    lfu_remove(s, m);  // may free `from`, never k
    fnode_append(s, k, m);
  }
  // The first resident model of s in the LFU order, and the one after v (-1: none).
  std::int32_t lfu_first(std::size_t s) const {
    return fhead_[s] >= 0 ? fnodes_[static_cast<std::size_t>(fhead_[s])].head : -1;
  }
  std::int32_t lfu_next(std::size_t s, std::size_t v) const {
    const std::int32_t w = hot(s, v).next;
    if (w >= 0) return w;
    const std::int32_t nx = fnodes_[static_cast<std::size_t>(pair(s, v).fnode)].next;
    return nx >= 0 ? fnodes_[static_cast<std::size_t>(nx)].head : -1;
  }
  void to_tail(std::size_t s, std::size_t m) {
    if (tail_[s] == static_cast<std::int32_t>(m)) return;
    unlink(s, m);
    link_tail(s, m);
  }
  double missing_bytes(std::size_t s, std::size_t m) const {
    const std::size_t J = in_.blk_size.size;
    double total = 0.0;
    for (auto p = in_.blk_ptr[m]; p < in_.blk_ptr[m + 1]; ++p) {
      const auto b = static_cast<std::size_t>(in_.blk_idx[static_cast<std::size_t>(p)]);
      if (refcount_[s * J + b] == 0) total += in_.blk_size[b];
    }
    return total;
  }
  // Evicting resident model v from s now frees some bytes: one of its blocks has no other holder
  // (the model being loaded already holds its blocks). O(1) for a model with a private block.
  bool frees(std::size_t s, std::size_t v) const {
    if (private_[v]) return true;
    const std::size_t J = in_.blk_size.size;
    for (auto p = in_.blk_ptr[v]; p < in_.blk_ptr[v + 1]; ++p) {
      const auto b = static_cast<std::size_t>(in_.blk_idx[static_cast<std::size_t>(p)]);
      if (refcount_[s * J + b] == 1 && in_.blk_size[b] > 0.0) return true;
    }
    return false;
  }
  void add_blocks(std::size_t s, std::size_t m) {
    const std::size_t J = in_.blk_size.size;
    for (auto p = in_.blk_ptr[m]; p < in_.blk_ptr[m + 1]; ++p) {
      const auto b = static_cast<std::size_t>(in_.blk_idx[static_cast<std::size_t>(p)]);
      if (refcount_[s * J + b] == 0) used_[s] += in_.blk_size[b];
      refcount_[s * J + b] += 1;
    }
  }
  void remove_blocks(std::size_t s, std::size_t m) {
    const std::size_t J = in_.blk_size.size;
    for (auto p = in_.blk_ptr[m]; p < in_.blk_ptr[m + 1]; ++p) {
      const auto b = static_cast<std::size_t>(in_.blk_idx[static_cast<std::size_t>(p)]);
      refcount_[s * J + b] -= 1;
      if (refcount_[s * J + b] == 0) used_[s] -= in_.blk_size[b];
    }
  }

  // ------------------------------------------------------------------ context
  std::int64_t rel(std::int64_t t) const { return t - first_slot_; }
  double rho_of(const Example& e) const { return (e.task_sub & 1u) ? in_.rho_sub : 1.0; }
  const Example& at(std::int32_t q, std::size_t k, std::size_t w) const {
    std::size_t pos = ring_[static_cast<std::size_t>(q)].head + k;  // head < w and k < w
    if (pos >= w) pos -= w;
    return pool_[static_cast<std::size_t>(q) * wcap_ + pos];
  }
  // An example leaves ring q: the bound loses at most its weight at the bound's slot.
  void lower_bound_drop(std::size_t q, const Example& e) {
    const std::int64_t t0 = ring_[q].lb_t;
    if (static_cast<std::int64_t>(e.tau) <= t0)
      ring_[q].lb = std::max(0.0, ring_[q].lb - rho_of(e) * in_.nu_pow[static_cast<std::size_t>(t0 - e.tau)] *
                                                    (1.0 + 1e-12));
  }
  void refresh_lower_bound(std::size_t s, std::size_t m, std::size_t q, double ring_sum, std::int64_t t) {
    ring_[q].lb = ring_sum * (1.0 - 1e-12 * static_cast<double>(ring_[q].len + 8));
    ring_[q].lb_t = rel(t);
    sync_lc(s, m);
  }
  void prune(std::size_t s, std::size_t m, std::int64_t t) {
    const Hot& p = hot(s, m);
    if (p.ring >= 0) {
      const auto q = static_cast<std::size_t>(p.ring);
      const auto w = static_cast<std::size_t>(in_.window[m]);
      const std::int64_t tr = rel(t);
      while (ring_[q].len && tr - static_cast<std::int64_t>(ring_[q].oldest) >= in_.prune_age) {
        lower_bound_drop(q, at(p.ring, 0, w));
        ring_[q].head = ring_[q].head + 1 == w ? 0 : ring_[q].head + 1;
        if (--ring_[q].len) ring_[q].oldest = at(p.ring, 0, w).tau;
      }
    }
    if (in_.lc_prior > 0.0) {
      Pair& c = pair(s, m);
      if (c.prior_slot >= 0 && t - c.prior_slot >= in_.prune_age) c.prior_slot = -1;
    }
    sync_lc(s, m);
  }
  void sync_lc(std::size_t s, std::size_t m) {
    if (!lc_mirror_) return;
    const Hot& h = hot(s, m);
    if (h.res_pos < 0) return;
    LcKey& key = res_lc_[s][static_cast<std::size_t>(h.res_pos)];
    if (h.ring >= 0 && ring_[static_cast<std::size_t>(h.ring)].len) {
      const RingMeta& g = ring_[static_cast<std::size_t>(h.ring)];
      key.lb = g.lb;
      key.lb_t = static_cast<std::int32_t>(g.lb_t);
      key.oldest = static_cast<std::int32_t>(g.oldest);
      key.len = static_cast<std::int32_t>(g.len);
    } else {
      key.len = 0;
    }
    key.prior = in_.lc_prior > 0.0 && pair(s, m).prior_slot >= 0 ? static_cast<std::int32_t>(rel(pair(s, m).prior_slot)) : -1;
  }
  // aoc_lower_bound of the model at res_list_[s][k] from the mirror: the same value, without touching
  // the model's records, unless pruning is due (then the full path prunes and refreshes the mirror).
  double lc_lower_bound(std::size_t s, std::size_t k, std::int64_t t) {
    const LcKey& key = res_lc_[s][k];
    const std::int64_t tr = rel(t);
    if ((key.len && tr - key.oldest >= in_.prune_age) || (key.prior >= 0 && tr - key.prior >= in_.prune_age))
      return aoc_lower_bound(s, static_cast<std::size_t>(res_list_[s][k]), t);
    double lb = 0.0;
    if (key.len) {
      const auto n = static_cast<std::size_t>(key.len);
      const double oldest = in_.nu_pow[static_cast<std::size_t>(tr - key.oldest)];
      const double aged = key.lb * in_.nu_pow[static_cast<std::size_t>(tr - key.lb_t)];
      lb = std::max(static_cast<double>(n) * rho_min_ * oldest, aged) * (1.0 - 1e-12 * static_cast<double>(n + 8));
    }
    if (key.prior >= 0) lb += in_.lc_prior * in_.nu_pow[static_cast<std::size_t>(tr - key.prior)];
    return lb;
  }
  // Prunes the context of (s, m) at slot t, then calls f(example, age) from the oldest example to
  // the newest; returns the ring (-1: empty context). Every AoC sum runs through here, in one order.
  template <class F>
  std::int32_t each_example(std::size_t s, std::size_t m, std::int64_t t, F&& f) {
    prune(s, m, t);
    const Hot& p = hot(s, m);
    if (p.ring >= 0) {
      const auto q = static_cast<std::size_t>(p.ring);
      const auto w = static_cast<std::size_t>(in_.window[m]);
      const std::int64_t tr = rel(t);
      for (std::size_t k = 0, n = ring_[q].len; k < n; ++k) {
        const Example& e = at(p.ring, k, w);
        f(e, static_cast<std::size_t>(tr - e.tau));
      }
    }
    return p.ring;
  }
  // The prior's weight at slot t (0 without one).
  double prior_weight(std::size_t s, std::size_t m, std::int64_t t) const {
    if (in_.lc_prior <= 0.0) return 0.0;  // no prior was ever set
    const Pair& p = pair(s, m);
    return p.prior_slot >= 0 ? in_.nu_pow[static_cast<std::size_t>(t - p.prior_slot)] : 0.0;
  }
  // Task-specific AoC for task `task` (returned) and the task-agnostic AoC (in *agnostic).
  double sums(std::size_t s, std::size_t m, std::int64_t t, std::int64_t task, double* agnostic) {
    const auto M = static_cast<std::size_t>(in_.n_tasks);
    const double* rel_col = in_.relevance.data + static_cast<std::size_t>(task);
    const auto task_u = static_cast<std::uint32_t>(task);
    double spec = 0.0, agn = 0.0;
    const std::int32_t q = each_example(s, m, t, [&](const Example& e, std::size_t age) {
      const double wgt = in_.nu_pow[age];
      const double rho = rho_of(e);
      const std::uint32_t te = e.task_sub >> 1;
      const double relevance = rel_uniform_ ? (te == task_u ? 1.0 : rel_off_) : rel_col[te * M];
      spec += rho * relevance * wgt;
      agn += rho * wgt;
    });
    if (q >= 0) refresh_lower_bound(s, m, static_cast<std::size_t>(q), agn, t);
    // the prior ranks LC's victims (the agnostic value); it is no example a request can use
    if (in_.lc_prior > 0.0 && pair(s, m).prior_slot >= 0) agn += in_.lc_prior * prior_weight(s, m, t);
    *agnostic = agn;
    return spec;
  }
  double aoc(std::size_t s, std::size_t m, std::int64_t t) {
    double agn = 0.0;
    const std::int32_t q = each_example(s, m, t, [&](const Example& e, std::size_t age) {
      agn += rho_of(e) * in_.nu_pow[age];
    });
    if (q >= 0) refresh_lower_bound(s, m, static_cast<std::size_t>(q), agn, t);
    if (in_.lc_prior > 0.0 && pair(s, m).prior_slot >= 0) agn += in_.lc_prior * prior_weight(s, m, t);
    return agn;
  }
  // A lower bound of aoc(s, m, t) (after pruning) in O(1): the larger of the ring's maintained
  // bound aged to t and "every example weighs at least rho_min nu^(age of the oldest)", shrunk so
  // that the rounding of the exact sum cannot undercut it.
  double aoc_lower_bound(std::size_t s, std::size_t m, std::int64_t t) {
    prune(s, m, t);
    const Hot& p = hot(s, m);
    double lb = 0.0;
    if (p.ring >= 0 && ring_[static_cast<std::size_t>(p.ring)].len) {
      const auto q = static_cast<std::size_t>(p.ring);
      const std::size_t n = ring_[q].len;
      const std::int64_t tr = rel(t);
      const double oldest = in_.nu_pow[static_cast<std::size_t>(tr - ring_[q].oldest)];
      const double aged = ring_[q].lb * in_.nu_pow[static_cast<std::size_t>(tr - ring_[q].lb_t)];
      lb = std::max(static_cast<double>(n) * rho_min_ * oldest, aged) * (1.0 - 1e-12 * static_cast<double>(n + 8));
    }
    if (in_.lc_prior > 0.0 && pair(s, m).prior_slot >= 0)
      lb += in_.lc_prior * in_.nu_pow[static_cast<std::size_t>(t - pair(s, m).prior_slot)];
    return lb;
  }
  double task_weighted_aoc(std::size_t s, std::size_t m, std::int64_t t) {
    const auto M = static_cast<std::size_t>(in_.n_tasks);
    const double* share = &share_[s * M];
    double total = 0.0;
    each_example(s, m, t, [&](const Example& e, std::size_t age) {
      const double* row = in_.relevance.data + static_cast<std::size_t>(e.task_sub >> 1) * M;
      double u = 0.0;
      for (std::size_t mm = 0; mm < M; ++mm) u += share[mm] * row[mm];
      total += rho_of(e) * u * in_.nu_pow[age];
    });
    if (pair(s, m).prior_slot >= 0) {
      double u = 0.0;
      for (std::size_t mm = 0; mm < M; ++mm) u += share[mm];
      total += in_.lc_prior * u * prior_weight(s, m, t);
    }
    return total;
  }
  double mean_age(std::size_t s, std::size_t m, std::int64_t t) {
    double num = 0.0, den = 0.0;
    each_example(s, m, t, [&](const Example& e, std::size_t age) {
      const double rho = rho_of(e);
      num += rho * static_cast<double>(age);
      den += rho;
    });
    const Pair& p = pair(s, m);
    if (p.prior_slot >= 0 && in_.lc_prior > 0.0) {
      num += in_.lc_prior * static_cast<double>(t - p.prior_slot);
      den += in_.lc_prior;
    }
    return den > 0.0 ? num / den : std::numeric_limits<double>::infinity();
  }
  // Appends the example; true if the full window dropped its oldest (copied to *dropped).
  bool append_example(std::size_t s, std::size_t m, std::int64_t t, std::int64_t task, bool substitute,
                      Example* dropped) {
    const auto w = static_cast<std::size_t>(in_.window[m]);
    if (w == 0) return false;
    Hot& p = hot(s, m);
    if (p.ring < 0) {  // take a recycled ring, or grow the pool by one
      if (!free_rings_.empty()) {
        p.ring = free_rings_.back();
        free_rings_.pop_back();
      } else {
        p.ring = static_cast<std::int32_t>(ring_.size());
        ring_.push_back(RingMeta{});
        pool_.resize(pool_.size() + wcap_);
      }
      ring_[static_cast<std::size_t>(p.ring)] = RingMeta{};
      ring_[static_cast<std::size_t>(p.ring)].lb_t = rel(t);
    }
    const auto q = static_cast<std::size_t>(p.ring);
    const Example e{static_cast<std::uint32_t>(rel(t)),
                    static_cast<std::uint32_t>(task) << 1 | static_cast<std::uint32_t>(substitute)};
    Example* base = &pool_[q * wcap_];
    RingMeta& g = ring_[q];
    bool drop = false;
    if (g.len == w) {  // full: the oldest drops out of the window
      drop = true;
      *dropped = base[g.head];
      lower_bound_drop(q, base[g.head]);
      base[g.head] = e;
      g.head = g.head + 1 == w ? 0 : g.head + 1;
      g.oldest = base[g.head].tau;
    } else {
      const std::size_t pos = g.head + g.len;
      base[pos >= w ? pos - w : pos] = e;
      if (g.len++ == 0) g.oldest = e.tau;
    }
    sync_lc(s, m);
    return drop;
  }

  // ------------------------------------------------------------------ costs
  Edge edge(std::size_t s, std::size_t j, const Request& rq, double k_avail, bool sub) const {
    const double k = std::min(k_avail, static_cast<double>(in_.window[j]));
    const double tokens = rq.tokens_in + std::ceil(k) * in_.ell_ex + rq.tokens_out;
    const double lat = in_.access[s] + in_.phi[j] * tokens / in_.edge_flops[s];
    const double a0 = in_.a0[j], amax = in_.amax[j];
    double acc = in_.curve == 0 ? amax - (amax - a0) * std::exp(-in_.kappa[j] * k)
                                : std::min(amax, a0 + in_.log_beta * std::log1p(k));
    if (sub) acc = acc * in_.eta_sub;
    const double energy = in_.w_E * in_.energy_per_flop * in_.phi[j] * tokens;
    return {lat, acc, energy};
  }
  Totals total(double lat, double acc, double sw_bytes, double cloud, double energy) const {
    Totals t;
    t.c[0] = in_.w_L * lat;
    t.c[1] = in_.w_A * (1.0 - acc);
    t.c[2] = in_.w_S * sw_bytes;
    t.c[3] = cloud;
    t.c[4] = energy;
    t.sum = t.c[0] + t.c[1] + t.c[2] + t.c[3] + t.c[4];
    return t;
  }

  // ------------------------------------------------------------------ eviction
  bool is_protected(std::size_t s, std::size_t v, std::int64_t t) const {
    const Pair& p = pair(s, v);
    const bool lc = fl_.policy == PolicyKind::LC || fl_.policy == PolicyKind::LCTask;
    if (fl_.lc_grace_slots > 0 && lc && t - p.load_slot < fl_.lc_grace_slots) return true;
    return fl_.pin_models_used_this_slot && p.last_slot == t;
  }
  // Whether candidate a precedes candidate b in the policy's order (the reference's key tuples).
  bool before(std::size_t s, std::size_t ka, std::size_t kb) const {
    const auto a = static_cast<std::size_t>(cand_[ka]), b = static_cast<std::size_t>(cand_[kb]);
    const Pair &pa = pair(s, a), &pb = pair(s, b);
    switch (fl_.policy) {
      case PolicyKind::LC:
      case PolicyKind::LCTask:
        if (keys_[ka] != keys_[kb]) return keys_[ka] < keys_[kb];
        if (lastk_[ka] != lastk_[kb]) return lastk_[ka] < lastk_[kb];
        if (in_.model_size[a] != in_.model_size[b]) return in_.model_size[a] > in_.model_size[b];
        return a < b;
      case PolicyKind::LFU:
        if (pa.freq != pb.freq) return pa.freq < pb.freq;
        if (pa.last_use != pb.last_use) return pa.last_use < pb.last_use;
        return a < b;
      case PolicyKind::FIFO:
        return pa.load_time != pb.load_time ? pa.load_time < pb.load_time : a < b;
      case PolicyKind::Belady:
        return pa.next_use != pb.next_use ? pa.next_use > pb.next_use : a < b;
      default:  // LRU (cloud and static never evict)
        return pa.last_use != pb.last_use ? pa.last_use < pb.last_use : a < b;
    }
  }
  // Position in cand_ of the next victim.
  std::size_t pick(std::size_t s, std::int64_t t) {
    if (fl_.policy == PolicyKind::Random) {
      const std::uint64_t out = splitmix64(rng_);
      return static_cast<std::size_t>(out % static_cast<std::uint64_t>(cand_.size()));
    }
    return first_of(s, t, [](std::size_t) { return true; });
  }
  // make_room = "frees_first": the victim after pick's choice k frees nothing, so the first
  // candidate in the policy's order that frees something (k itself if none does). Random's order
  // is its successive draws among the remaining candidates (ascending ids), as the reference.
  std::size_t pick_freeing(std::size_t s, std::int64_t t, std::size_t k) {
    if (fl_.policy == PolicyKind::Random) {
      probe_.assign(cand_.begin(), cand_.end());
      probe_.erase(probe_.begin() + static_cast<std::ptrdiff_t>(k));
      while (!probe_.empty()) {
        const auto j = static_cast<std::size_t>(splitmix64(rng_) % static_cast<std::uint64_t>(probe_.size()));
        if (frees(s, static_cast<std::size_t>(probe_[j])))
          return static_cast<std::size_t>(std::find(cand_.begin(), cand_.end(), probe_[j]) - cand_.begin());
        probe_.erase(probe_.begin() + static_cast<std::ptrdiff_t>(j));
      }
      return k;
    }
    const std::size_t best = first_of(s, t, [&](std::size_t q) { return frees(s, static_cast<std::size_t>(cand_[q])); });
    return best < cand_.size() ? best : k;
  }
  // Position in cand_ of the policy's first choice among the candidates q with ok(q) (cand_.size()
  // if none); every rule but Random.
  template <class Ok>
  std::size_t first_of(std::size_t s, std::int64_t t, Ok&& ok) {
    const std::size_t n = cand_.size();
    if (fl_.policy == PolicyKind::LC && !fl_.lc_max_age) {
      // keys_ holds lower bounds until exact_: only candidates whose bound does not exceed some
      // exact value can be the minimum, so only they get the O(window) exact AoC.
      std::size_t k0 = n;
      for (std::size_t k = 0; k < n; ++k)
        if (ok(k) && (k0 == n || keys_[k] < keys_[k0])) k0 = k;
      if (k0 == n) return n;
      auto make_exact = [&](std::size_t k) {
        if (!exact_[k]) {
          keys_[k] = aoc(s, static_cast<std::size_t>(cand_[k]), t);
          exact_[k] = 1;
        }
      };
      make_exact(k0);
      const double bound = keys_[k0];
      std::size_t best = k0;
      for (std::size_t k = 0; k < n; ++k) {
        if (k == k0 || (!exact_[k] && keys_[k] > bound) || !ok(k)) continue;
        make_exact(k);
        if (before(s, k, best)) best = k;
      }
      return best;
    }
    std::size_t best = n;
    for (std::size_t k = 0; k < n; ++k)
      if (ok(k) && (best == n || before(s, k, best))) best = k;
    return best;
  }
  // ---- LC by heap (lc_heap_)
  // The fast path's preconditions on the values: every weight rho nu^age in use (ages < prune_age,
  // within the table) is a normal double far from under/overflow, so an AoC is 0.0 exactly when
  // the context is empty and there is no prior; and log nu_pow[k] = log nu_pow[0] + k log nu within
  // 1e-10, so one factor per slot decays every AoC (to that accuracy).
  bool lc_geometric() {
    const double rs = in_.rho_sub, pr = in_.lc_prior;
    if (!(rs >= 1e-30 && rs <= 1e30) || (pr != 0.0 && !(pr >= 1e-30 && pr <= 1e30))) return false;
    const std::size_t size = in_.nu_pow.size;
    const auto age_lim = static_cast<std::uint64_t>(in_.prune_age);
    const std::size_t K = age_lim < size ? std::max<std::size_t>(static_cast<std::size_t>(age_lim), 1) : size;
    for (std::size_t k = 0; k < K; ++k)
      if (!(in_.nu_pow[k] >= 1e-200 && in_.nu_pow[k] <= 1e200)) return false;
    const double l0 = std::log(in_.nu_pow[0]);
    lc_log_nu_ = K >= 2 ? (std::log(in_.nu_pow[K - 1]) - l0) / static_cast<double>(K - 1) : 0.0;
    for (std::size_t k = 1; k < K; ++k)
      if (!(std::abs(std::log(in_.nu_pow[k]) - l0 - static_cast<double>(k) * lc_log_nu_) <= 1e-10)) return false;
    lc_deadlines_ = age_lim < size;  // otherwise no age in the table reaches prune_age
    return true;
  }
  bool lc_less(const LcNode& a, const LcNode& b) const {
    const bool za = a.logv == kLcZero, zb = b.logv == kLcZero;
    if (za || zb) {
      if (za != zb) return za;
      if (a.last_use != b.last_use) return a.last_use < b.last_use;
      const double sa = in_.model_size[static_cast<std::size_t>(a.model)], sb = in_.model_size[static_cast<std::size_t>(b.model)];
      if (sa != sb) return sa > sb;
      return a.model < b.model;
    }
    const double d = (a.logv - b.logv) - static_cast<double>(a.tref - b.tref) * lc_log_nu_;
    return d < 0.0 || (d == 0.0 && a.model < b.model);
  }
  void lc_put(std::size_t s, std::size_t k, const LcNode& x) {
    lheap_[s][k] = x;
    hot(s, static_cast<std::size_t>(x.model)).prev = static_cast<std::int32_t>(k);
  }
  void lc_sift(std::size_t s, std::size_t k) {
    auto& hp = lheap_[s];
    const LcNode x = hp[k];
    while (k > 0 && lc_less(x, hp[(k - 1) / 2])) {  // up
      lc_put(s, k, hp[(k - 1) / 2]);
      k = (k - 1) / 2;
    }
    for (;;) {  // down
      std::size_t c = 2 * k + 1;
      if (c >= hp.size()) break;
      if (c + 1 < hp.size() && lc_less(hp[c + 1], hp[c])) ++c;
      if (!lc_less(hp[c], x)) break;
      lc_put(s, k, hp[c]);
      k = c;
    }
    lc_put(s, k, x);
  }
  void lc_insert(std::size_t s, const LcNode& x) {
    lheap_[s].push_back(x);
    lc_sift(s, lheap_[s].size() - 1);
  }
  void lc_erase(std::size_t s, std::size_t m) {
    auto& hp = lheap_[s];
    const auto k = static_cast<std::size_t>(hot(s, m).prev);
    hot(s, m).prev = -1;
    const LcNode last = hp.back();
    hp.pop_back();
    if (k < hp.size()) {
      lc_put(s, k, last);
      lc_sift(s, k);
    }
  }
  // Resident model m has the exact AoC `value` at slot t (its context pruned at t): its key, and
  // the deadline of its oldest example or prior.
  void lc_set(std::size_t s, std::size_t m, double value, std::int64_t t) {
    const Hot& h = hot(s, m);
    const Pair& p = pair(s, m);
    const std::uint32_t len = h.ring >= 0 ? ring_[static_cast<std::size_t>(h.ring)].len : 0;
    std::int64_t first = std::numeric_limits<std::int64_t>::max();  // the oldest term's slot (relative)
    if (len) first = static_cast<std::int64_t>(ring_[static_cast<std::size_t>(h.ring)].oldest);
    if (p.prior_slot >= 0) first = std::min(first, rel(p.prior_slot));
    LcNode x{value > 0.0 ? std::log(value) : kLcZero, p.last_use, static_cast<std::int32_t>(rel(t)),
             static_cast<std::int32_t>(m), 0, 0};
    if (len + (p.prior_slot >= 0) == 1) {
      x.t0 = static_cast<std::int32_t>(first);
      x.term = len ? 1 + static_cast<std::int32_t>(at(h.ring, 0, static_cast<std::size_t>(in_.window[m])).task_sub & 1u) : 3;
    }
    if (h.prev < 0) {  // a load enters
      lc_insert(s, x);
    } else {
      lheap_[s][static_cast<std::size_t>(h.prev)] = x;
      lc_sift(s, static_cast<std::size_t>(h.prev));
    }
    if (!lc_deadlines_ || first == std::numeric_limits<std::int64_t>::max()) return;
    const std::int64_t due = first + in_.prune_age;  // prune_age < table size here: no overflow
    if (due >= static_cast<std::int64_t>(in_.nu_pow.size)) return;  // no slot reaches it
    std::int32_t& dl = ldl_[s * static_cast<std::size_t>(in_.n_models) + m];
    if (dl < 0 || due < dl) {
      dl = static_cast<std::int32_t>(due);
      ldue_[s].emplace_back(static_cast<std::int32_t>(due), static_cast<std::int32_t>(m));
      std::push_heap(ldue_[s].begin(), ldue_[s].end(), std::greater<>());
    }
  }
  // The served model j got its example at slot t (pre: its exact AoC just before; dropped: the
  // example the full window lost, null if none).
  void lc_served(std::size_t s, std::size_t j, std::int64_t t, double pre, bool sub, const Example* dropped) {
    if (in_.window[j] == 0) {
      lc_set(s, j, pre, t);  // no example kept: the same value, a new last_use
      return;
    }
    const double add = (sub ? in_.rho_sub : 1.0) * in_.nu_pow[0];
    double value = pre + add;
    if (dropped) {
      const double gone = rho_of(*dropped) * in_.nu_pow[static_cast<std::size_t>(rel(t) - dropped->tau)];
      value = (pre - gone) + add;
      // cancellation: recompute unless the difference keeps 1e-11 relative accuracy
      if (!(value > 0.0 && pre + gone + add <= 1000.0 * value)) value = aoc(s, j, t);
    }
    lc_set(s, j, value, t);
  }
  // Refresh every model of s whose oldest example or prior is pruned by slot t.
  void lc_due(std::size_t s, std::int64_t t) {
    auto& due = ldue_[s];
    const std::int64_t tr = rel(t);
    while (!due.empty() && due.front().first <= tr) {
      std::pop_heap(due.begin(), due.end(), std::greater<>());
      const auto [when, m] = due.back();
      due.pop_back();
      std::int32_t& dl = ldl_[s * static_cast<std::size_t>(in_.n_models) + static_cast<std::size_t>(m)];
      if (dl != when) continue;  // superseded or evicted
      dl = -1;
      lc_set(s, static_cast<std::size_t>(m), aoc(s, static_cast<std::size_t>(m), t), t);
    }
  }
  // The reference's LC victim among the resident models of s at slot t (deadlines processed).
  std::size_t lc_victim(std::size_t s, std::int64_t t) {
    const auto& hp = lheap_[s];
    const LcNode& root = hp[0];
    if (root.logv == kLcZero) return static_cast<std::size_t>(root.model);  // an exact zero: the full tuple decided
    // every model whose key lies within kLcMargin of the root's (the heap's subtrees beyond it
    // cannot hold one): their exact AoCs decide; every other model's AoC exceeds the root's
    lc_near_.clear();
    lc_stack_.assign(1, 0);
    while (!lc_stack_.empty()) {
      const auto k = static_cast<std::size_t>(lc_stack_.back());
      lc_stack_.pop_back();
      if (k > 0) {
        const double d = (hp[k].logv - root.logv) - static_cast<double>(hp[k].tref - root.tref) * lc_log_nu_;
        if (!(d <= kLcMargin)) continue;
      }
      lc_near_.push_back(static_cast<std::int32_t>(k));
      if (2 * k + 1 < hp.size()) lc_stack_.push_back(static_cast<std::int32_t>(2 * k + 1));
      if (2 * k + 2 < hp.size()) lc_stack_.push_back(static_cast<std::int32_t>(2 * k + 2));
    }
    if (lc_near_.size() == 1) return static_cast<std::size_t>(root.model);
    const std::int64_t tr = rel(t);
    const LcNode* best = nullptr;
    double best_a = 0.0;
    for (const std::int32_t k : lc_near_) {  // the reference's key tuple
      const LcNode& x = hp[static_cast<std::size_t>(k)];
      const auto v = static_cast<std::size_t>(x.model);
      // aoc() does not move the heap (the deadlines are processed: it prunes nothing)
      const double a = x.term ? lc_coef(x) * in_.nu_pow[static_cast<std::size_t>(tr - x.t0)] : aoc(s, v, t);
      if (best) {
        const auto b = static_cast<std::size_t>(best->model);
        bool lt;
        if (a != best_a) lt = a < best_a;
        else if (x.last_use != best->last_use) lt = x.last_use < best->last_use;
        else if (in_.model_size[v] != in_.model_size[b]) lt = in_.model_size[v] > in_.model_size[b];
        else lt = v < b;
        if (!lt) continue;
      }
      best = &x;
      best_a = a;
    }
    return static_cast<std::size_t>(best->model);
  }
  void make_room(std::size_t s, std::size_t model, std::int64_t t) {
    const double cap = in_.cap[s];
    add_blocks(s, model);  // its resident blocks are held twice: evicting a sharer never frees them
    if (ordered_list() && !fl_.pin_models_used_this_slot) {
      // LRU or FIFO without protections: the victims are the head of the server's list, in order
      // (`model` is not resident yet, so it is not in the list)
      while (used_[s] > cap && head_[s] >= 0) {
        auto v = static_cast<std::size_t>(head_[s]);
        if (fl_.make_room_frees_first && !frees(s, v)) {  // walk the order for one that frees something
          for (std::int32_t w = hot(s, v).next; w >= 0; w = hot(s, static_cast<std::size_t>(w)).next)
            if (frees(s, static_cast<std::size_t>(w))) {
              v = static_cast<std::size_t>(w);
              break;
            }
        }
        evicted_.push_back(static_cast<std::int64_t>(v));
        evict(s, v);
      }
      if (res_list_[s].empty()) used_[s] = in_.model_size[model];
      set_resident(s, model, true);
      return;
    }
    if (lc_heap_) {  // LC, nothing protected: the victims come from the server's heap
      lc_due(s, t);
      while (used_[s] > cap && !lheap_[s].empty()) {
        const std::size_t v = lc_victim(s, t);
        evicted_.push_back(static_cast<std::int64_t>(v));
        evict(s, v);
      }
      if (res_list_[s].empty()) used_[s] = in_.model_size[model];
      lc_loading_ = true;
      set_resident(s, model, true);
      lc_loading_ = false;
      return;
    }
    if (lfu_list_) {  // LFU, nothing pinned: the victims are the first in the LFU order
      while (used_[s] > cap) {
        std::int32_t v = lfu_first(s);
        if (v < 0) break;
        if (fl_.make_room_frees_first && !frees(s, static_cast<std::size_t>(v))) {
          for (std::int32_t w = lfu_next(s, static_cast<std::size_t>(v)); w >= 0; w = lfu_next(s, static_cast<std::size_t>(w)))
            if (frees(s, static_cast<std::size_t>(w))) {
              v = w;
              break;
            }
        }
        evicted_.push_back(v);
        evict(s, static_cast<std::size_t>(v));
      }
      if (res_list_[s].empty()) used_[s] = in_.model_size[model];
      set_resident(s, model, true);
      return;
    }
    for (int round = 0; round < 2 && used_[s] > cap; ++round) {
      cand_.clear();
      // Random draws by position among ascending ids, as the reference; the other rules pick by key
      // (ties by id), so their candidate order does not matter.
      const bool ordered = fl_.policy == PolicyKind::Random;
      const bool fast = lc_mirror_ && !fl_.pin_models_used_this_slot && fl_.lc_grace_slots == 0;
      if (fast) {
        // LC, nothing protected: every resident model is a candidate of round 0 (`model` is not
        // resident yet), its bound read from the mirror in one contiguous pass
        if (round == 1) break;
        const auto& list = res_list_[s];
        cand_.assign(list.begin(), list.end());
        keys_.resize(cand_.size());
        lastk_.resize(cand_.size());
        exact_.assign(cand_.size(), 0);
        const LcKey* mirror = res_lc_[s].data();
        for (std::size_t k = 0; k < cand_.size(); ++k) {
          keys_[k] = lc_lower_bound(s, k, t);
          lastk_[k] = mirror[k].last_use;
          // no example and no prior: the exact AoC is the empty sum, 0.0, the bound itself
          exact_[k] = mirror[k].len == 0 && mirror[k].prior < 0;
        }
      } else {
        for (const std::int64_t v : res_list_[s])
          if (static_cast<std::size_t>(v) != model && is_protected(s, static_cast<std::size_t>(v), t) == (round == 1))
            cand_.push_back(v);
        if (ordered) std::sort(cand_.begin(), cand_.end());
        keys_.resize(cand_.size());
        exact_.assign(cand_.size(), 1);
        if (fl_.policy == PolicyKind::LC || fl_.policy == PolicyKind::LCTask) {
          lastk_.resize(cand_.size());
          for (std::size_t k = 0; k < cand_.size(); ++k) lastk_[k] = pair(s, static_cast<std::size_t>(cand_[k])).last_use;
        }
      }
      if (!fast && (fl_.policy == PolicyKind::LC || fl_.policy == PolicyKind::LCTask)) {
        for (std::size_t k = 0; k < cand_.size(); ++k) {
          const auto v = static_cast<std::size_t>(cand_[k]);
          if (fl_.lc_max_age) {
            keys_[k] = -mean_age(s, v, t);
          } else if (fl_.policy == PolicyKind::LCTask) {
            keys_[k] = task_weighted_aoc(s, v, t);
          } else {
            keys_[k] = aoc_lower_bound(s, v, t);
            exact_[k] = 0;
          }
        }
      }
      while (!cand_.empty() && used_[s] > cap) {
        std::size_t k = pick(s, t);
        if (fl_.make_room_frees_first && !frees(s, static_cast<std::size_t>(cand_[k]))) k = pick_freeing(s, t, k);
        const auto v = static_cast<std::size_t>(cand_[k]);
        if (ordered) {
          cand_.erase(cand_.begin() + static_cast<std::ptrdiff_t>(k));
        } else {  // swap-remove: O(1)
          cand_[k] = cand_.back();
          cand_.pop_back();
          keys_[k] = keys_.back();
          keys_.pop_back();
          if (k < lastk_.size()) {
            lastk_[k] = lastk_.back();
            lastk_.pop_back();
          }
          exact_[k] = exact_.back();
          exact_.pop_back();
        }
        evicted_.push_back(static_cast<std::int64_t>(v));
        evict(s, v);
      }
    }
    if (res_list_[s].empty()) used_[s] = in_.model_size[model];  // alone on the server: exact, no drift
    set_resident(s, model, true);
  }
  void evict(std::size_t s, std::size_t v) {
    Pair& p = pair(s, v);
    Hot& h = hot(s, v);
    remove_blocks(s, v);
    set_resident(s, v, false);
    if (!in_.persist && h.ring >= 0) {  // the context is erased: its ring goes back to the pool
      free_rings_.push_back(h.ring);
      h.ring = -1;
    }
    p.prior_slot = -1;  // the prior belongs to one load
    if (fl_.lfu_reset_on_evict) p.freq = 0;
  }
};

// Per-request outputs of `replay` (caller-owned arrays of length R, R + 1 for evict_ptr). With
// outputs = "decisions" the float arrays (accuracy ... costs) are null and not written; `totals`
// (kTotals sums over the requests, see TotalIndex) and `peak` (per server, the largest memory used
// after one of its requests, 0 if none) are filled instead, so the mean cost and its components
// need no per-request memory.
enum TotalIndex : int { kCost = 0, kComponents = 1, kAccuracy = 6, kLatency = 7, kLoadedBytes = 8, kTotals = 9 };
struct ReplayOutput {
  std::int8_t* outcome;
  std::int64_t* served_by;
  double *accuracy, *latency, *aoc, *loaded_bytes, *memory_used, *cost;
  double* costs;  // [R * 5]
  std::int64_t* evict_ptr;
  std::vector<std::int64_t>* evicted;
  double* totals = nullptr;  // [kTotals], decisions mode
  double* peak = nullptr;    // [n_servers], decisions mode
};

// Compensated (Neumaier) running sum: the decisions mode's totals; the reference tier adds the same
// values in the same order with the same operations.
struct NeumaierSum {
  double sum = 0.0, comp = 0.0;
  void add(double x) {
    const double t = sum + x;
    comp += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  double value() const { return sum + comp; }
};

namespace detail {
template <bool Full>
void replay_impl(const Instance& inst, const Flags& flags, View<const std::int64_t> slot,
                 View<const std::int64_t> server, View<const std::int64_t> model, View<const std::int64_t> task,
                 View<const double> tokens_in, View<const double> tokens_out, View<const std::int64_t> next_use,
                 const ReplayOutput& out) {
  const std::size_t R = slot.size;
  Cache cache(inst, flags);
  out.evict_ptr[0] = 0;
  NeumaierSum sums[kTotals];
  constexpr std::size_t far = 16, near = 6;  // prefetch distances (requests ahead)
  auto request = [&](std::size_t k) {
    return Request{slot[k], server[k], model[k], task[k], tokens_in[k], tokens_out[k], next_use[k]};
  };
  if (!Full)
    for (std::int64_t s = 0; s < inst.n_servers; ++s) out.peak[s] = 0.0;
  for (std::size_t r = 0; r < R; ++r) {
    if (r + far < R) cache.prefetch_far(request(r + far));
    if (r + near < R) cache.prefetch_near(request(r + near));
    Request rq = request(r);
    const Decision d = cache.on_request(rq);
    out.outcome[r] = static_cast<std::int8_t>(d.outcome);
    out.served_by[r] = d.served_by;
    if (Full) {
      out.accuracy[r] = d.accuracy;
      out.latency[r] = d.latency;
      out.aoc[r] = d.aoc;
      out.loaded_bytes[r] = d.loaded_bytes;
      out.memory_used[r] = d.memory_used;
      out.cost[r] = d.cost;
      for (int c = 0; c < 5; ++c) out.costs[r * 5 + static_cast<std::size_t>(c)] = d.costs[c];
    } else {
      sums[kCost].add(d.cost);
      for (int c = 0; c < 5; ++c) sums[kComponents + c].add(d.costs[c]);
      sums[kAccuracy].add(d.accuracy);
      sums[kLatency].add(d.latency);
      sums[kLoadedBytes].add(d.loaded_bytes);
      double& pk = out.peak[static_cast<std::size_t>(rq.server)];
      pk = std::max(pk, d.memory_used);
    }
    const auto& ev = cache.evicted();
    if (!ev.empty()) out.evicted->insert(out.evicted->end(), ev.begin(), ev.end());
    out.evict_ptr[r + 1] = static_cast<std::int64_t>(out.evicted->size());
  }
  if (!Full)
    for (int k = 0; k < kTotals; ++k) out.totals[k] = sums[k].value();
}
}  // namespace detail

// Replays a whole trace (validated request by request through Cache::on_request).
inline void replay(const Instance& inst, const Flags& flags, View<const std::int64_t> slot,
                   View<const std::int64_t> server, View<const std::int64_t> model, View<const std::int64_t> task,
                   View<const double> tokens_in, View<const double> tokens_out, View<const std::int64_t> next_use,
                   const ReplayOutput& out) {
  const std::size_t R = slot.size;
  for (const std::size_t n : {server.size, model.size, task.size, tokens_in.size, tokens_out.size, next_use.size})
    if (n != R) detail::bad("trace", "every trace array must have the length of slot");
  if (out.totals != nullptr) {
    if (out.peak == nullptr) detail::bad("peak", "the decisions mode needs the per-server peak array");
    detail::replay_impl<false>(inst, flags, slot, server, model, task, tokens_in, tokens_out, next_use, out);
  } else {
    detail::replay_impl<true>(inst, flags, slot, server, model, task, tokens_in, tokens_out, next_use, out);
  }
}

}  // namespace online
}  // namespace trimcore
