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
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

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
  double lc_prior = 0;                         // AoC a freshly loaded model starts with
  View<const std::uint8_t> initial;            // [N * I] resident before the first request (may be empty)
};

struct Flags {
  PolicyKind policy = PolicyKind::LC;
  bool greedy_admission = false, allow_substitution = true;
  std::int64_t lc_grace_slots = 0;
  bool lc_max_age = false;  // lc_order = "max_age"
  bool lfu_reset_on_evict = true, pin_models_used_this_slot = false;
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
    const std::size_t NI = N * I;
    resident_.assign(NI, 0);
    last_use_.assign(NI, -1);
    freq_.assign(NI, 0);
    load_time_.assign(NI, -1);
    load_slot_.assign(NI, -1);
    last_slot_.assign(NI, -1);
    next_use_.assign(NI, std::numeric_limits<std::int64_t>::max());
    ctx_.assign(NI, Context{});
    refcount_.assign(N * in_.blk_size.size, 0);
    used_.assign(N, 0.0);
    res_list_.assign(N, {});
    res_pos_.assign(NI, -1);
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
    const std::size_t I = static_cast<std::size_t>(in_.n_models);
    const PolicyKind code = fl_.policy;
    evicted_.clear();
    next_use_[s * I + i] = rq.next_use;
    if (code == PolicyKind::LCTask) {
      double* share = &share_[s * static_cast<std::size_t>(in_.n_tasks)];
      for (std::int64_t mm = 0; mm < in_.n_tasks; ++mm) share[mm] = share[mm] * (1.0 - fl_.task_ewma);
      share[m] = share[m] + fl_.task_ewma;
    }
    Decision d;
    double sw = 0.0;
    Totals tot;
    if (code != PolicyKind::Cloud && resident_[s * I + i]) {
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
        const double k_load = sums(s, i, t, m, &unused) + in_.lc_prior;
        Edge e = edge(s, i, rq, k_load, false);
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
        make_room(s, i, t);
        const std::size_t si = s * I + i;
        ctx_[si].prior_slot = in_.lc_prior > 0.0 ? t : -1;
        load_time_[si] = r;
        load_slot_[si] = t;
        freq_[si] = fl_.lfu_reset_on_evict ? 1 : freq_[si] + 1;
        d.aoc = aoc(s, i, t);
      }
    }
    d.loaded_bytes = sw;
    d.cost = tot.sum;
    for (int c = 0; c < 5; ++c) d.costs[c] = tot.c[c];
    if (d.outcome != Outcome::Cloud) {
      const auto j = static_cast<std::size_t>(d.served_by);
      append_example(s, j, t, m, j == i ? 1.0 : in_.rho_sub);
      last_use_[s * I + j] = r;
      last_slot_[s * I + j] = t;
      if (d.outcome != Outcome::Load) freq_[s * I + j] += 1;
    }
    d.memory_used = used_[s];
    ++n_seen_;
    return d;
  }

  const std::vector<std::int64_t>& evicted() const { return evicted_; }
  double used(std::size_t server) const { return used_.at(server); }
  bool is_resident(std::size_t server, std::size_t model) const {
    return resident_.at(server * static_cast<std::size_t>(in_.n_models) + model) != 0;
  }
  std::int64_t requests_seen() const { return n_seen_; }

 private:
  struct Example {
    std::int64_t tau;
    std::int64_t task;
    double rho;
  };
  // A ring buffer of at most window[i] examples, oldest at `head`; storage grows on first use.
  struct Context {
    std::vector<Example> buf;
    std::size_t head = 0, len = 0;
    std::int64_t prior_slot = -1;
    const Example& at(std::size_t k) const { return buf[(head + k) % buf.size()]; }
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
  std::vector<std::uint8_t> resident_;
  std::vector<std::int64_t> last_use_, freq_, load_time_, load_slot_, last_slot_, next_use_;
  std::vector<Context> ctx_;
  std::vector<std::int32_t> refcount_;
  std::vector<double> used_, share_;
  std::vector<std::vector<std::int64_t>> res_list_;
  std::vector<std::int64_t> res_pos_;
  std::vector<std::int64_t> evicted_, cand_;
  std::vector<double> keys_;
  std::uint64_t rng_ = 0;
  std::int64_t n_seen_ = 0, last_slot_seen_ = std::numeric_limits<std::int64_t>::min(), first_slot_ = 0;

  // ------------------------------------------------------------------ validation
  void validate() const {
    using detail::bad;
    using detail::need_size;
    if (in_.n_servers < 1) bad("n_servers", "expected >= 1");
    if (in_.n_models < 1) bad("n_models", "expected >= 1");
    if (in_.n_tasks < 1) bad("n_tasks", "expected >= 1");
    const auto N = static_cast<std::size_t>(in_.n_servers), I = static_cast<std::size_t>(in_.n_models),
               M = static_cast<std::size_t>(in_.n_tasks);
    if (N > (std::size_t{1} << 31) || I > (std::size_t{1} << 31) || M > (std::size_t{1} << 31) ||
        N * I > (std::size_t{1} << 36))
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
      if (in_.window[k] < 0 || in_.window[k] > (std::int64_t{1} << 40)) bad("window", "expected integers >= 0");
    if (in_.nu_pow.size == 0) bad("nu_pow", "expected a non-empty table");
    detail::finite_nonneg(in_.nu_pow, "nu_pow");
    if (in_.prune_age < 0) bad("prune_age", "expected >= 0");
    for (const auto* v : {&in_.a0, &in_.amax, &in_.kappa, &in_.phi, &in_.cloud_price}) need_size(v->size, I, "a0/amax/kappa/phi/cloud_price");
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
    const std::size_t si = s * static_cast<std::size_t>(in_.n_models) + m;
    auto& list = res_list_[s];
    if (on) {
      resident_[si] = 1;
      res_pos_[si] = static_cast<std::int64_t>(list.size());
      list.push_back(static_cast<std::int64_t>(m));
    } else {
      resident_[si] = 0;
      const auto pos = static_cast<std::size_t>(res_pos_[si]);
      const std::int64_t last = list.back();
      list[pos] = last;
      res_pos_[s * static_cast<std::size_t>(in_.n_models) + static_cast<std::size_t>(last)] =
          static_cast<std::int64_t>(pos);
      list.pop_back();
      res_pos_[si] = -1;
    }
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
  void prune(std::size_t s, std::size_t m, std::int64_t t) {
    Context& c = ctx_[s * static_cast<std::size_t>(in_.n_models) + m];
    while (c.len && t - c.at(0).tau >= in_.prune_age) {
      c.head = (c.head + 1) % c.buf.size();
      --c.len;
    }
    if (c.prior_slot >= 0 && t - c.prior_slot >= in_.prune_age) c.prior_slot = -1;
  }
  // Task-specific AoC for task `task` (returned) and the task-agnostic AoC (in *agnostic).
  double sums(std::size_t s, std::size_t m, std::int64_t t, std::int64_t task, double* agnostic) {
    prune(s, m, t);
    const Context& c = ctx_[s * static_cast<std::size_t>(in_.n_models) + m];
    const auto M = static_cast<std::size_t>(in_.n_tasks);
    double spec = 0.0, agn = 0.0;
    for (std::size_t k = 0; k < c.len; ++k) {
      const Example& e = c.at(k);
      const double w = in_.nu_pow[static_cast<std::size_t>(t - e.tau)];
      spec += e.rho * in_.relevance[static_cast<std::size_t>(e.task) * M + static_cast<std::size_t>(task)] * w;
      agn += e.rho * w;
    }
    if (c.prior_slot >= 0) {
      const double w = in_.nu_pow[static_cast<std::size_t>(t - c.prior_slot)];
      spec += in_.lc_prior * w;
      agn += in_.lc_prior * w;
    }
    *agnostic = agn;
    return spec;
  }
  double aoc(std::size_t s, std::size_t m, std::int64_t t) {
    double agn = 0.0;
    sums(s, m, t, 0, &agn);
    return agn;
  }
  double task_weighted_aoc(std::size_t s, std::size_t m, std::int64_t t) {
    prune(s, m, t);
    const Context& c = ctx_[s * static_cast<std::size_t>(in_.n_models) + m];
    const auto M = static_cast<std::size_t>(in_.n_tasks);
    const double* share = &share_[s * M];
    double total = 0.0;
    for (std::size_t k = 0; k < c.len; ++k) {
      const Example& e = c.at(k);
      double u = 0.0;
      for (std::size_t mm = 0; mm < M; ++mm) u += share[mm] * in_.relevance[static_cast<std::size_t>(e.task) * M + mm];
      total += e.rho * u * in_.nu_pow[static_cast<std::size_t>(t - e.tau)];
    }
    if (c.prior_slot >= 0) {
      double u = 0.0;
      for (std::size_t mm = 0; mm < M; ++mm) u += share[mm];
      total += in_.lc_prior * u * in_.nu_pow[static_cast<std::size_t>(t - c.prior_slot)];
    }
    return total;
  }
  double mean_age(std::size_t s, std::size_t m, std::int64_t t) {
    prune(s, m, t);
    const Context& c = ctx_[s * static_cast<std::size_t>(in_.n_models) + m];
    double num = 0.0, den = 0.0;
    for (std::size_t k = 0; k < c.len; ++k) {
      const Example& e = c.at(k);
      num += e.rho * static_cast<double>(t - e.tau);
      den += e.rho;
    }
    if (c.prior_slot >= 0 && in_.lc_prior > 0.0) {
      num += in_.lc_prior * static_cast<double>(t - c.prior_slot);
      den += in_.lc_prior;
    }
    return den > 0.0 ? num / den : std::numeric_limits<double>::infinity();
  }
  void append_example(std::size_t s, std::size_t m, std::int64_t t, std::int64_t task, double rho) {
    const auto W = static_cast<std::size_t>(in_.window[m]);
    if (W == 0) return;
    Context& c = ctx_[s * static_cast<std::size_t>(in_.n_models) + m];
    if (c.buf.size() != W) {  // first use: allocate the ring (contents are empty then or kept in order)
      std::vector<Example> fresh(W);
      for (std::size_t k = 0; k < c.len; ++k) fresh[k] = c.at(k);
      c.buf.swap(fresh);
      c.head = 0;
    }
    if (c.len == W) {  // full: the oldest drops out of the window
      c.buf[c.head] = Example{t, task, rho};
      c.head = (c.head + 1) % W;
    } else {
      c.buf[(c.head + c.len) % W] = Example{t, task, rho};
      ++c.len;
    }
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
    const std::size_t sv = s * static_cast<std::size_t>(in_.n_models) + v;
    const bool lc = fl_.policy == PolicyKind::LC || fl_.policy == PolicyKind::LCTask;
    if (fl_.lc_grace_slots > 0 && lc && t - load_slot_[sv] < fl_.lc_grace_slots) return true;
    return fl_.pin_models_used_this_slot && last_slot_[sv] == t;
  }
  // The candidate with the smallest key of the policy (keys_ holds the primary key per candidate).
  std::size_t pick(std::size_t s) {
    const std::size_t I = static_cast<std::size_t>(in_.n_models);
    const std::size_t n = cand_.size();
    if (fl_.policy == PolicyKind::Random) {
      const std::uint64_t out = splitmix64(rng_);
      return static_cast<std::size_t>(out % static_cast<std::uint64_t>(n));
    }
    std::size_t best = 0;
    for (std::size_t k = 1; k < n; ++k) {
      const auto a = static_cast<std::size_t>(cand_[k]), b = static_cast<std::size_t>(cand_[best]);
      const std::size_t sa = s * I + a, sb = s * I + b;
      bool less = false;
      switch (fl_.policy) {
        case PolicyKind::LC:
        case PolicyKind::LCTask:
          if (keys_[k] != keys_[best]) less = keys_[k] < keys_[best];
          else if (last_use_[sa] != last_use_[sb]) less = last_use_[sa] < last_use_[sb];
          else if (in_.model_size[a] != in_.model_size[b]) less = in_.model_size[a] > in_.model_size[b];
          else less = a < b;
          break;
        case PolicyKind::LFU:
          if (freq_[sa] != freq_[sb]) less = freq_[sa] < freq_[sb];
          else if (last_use_[sa] != last_use_[sb]) less = last_use_[sa] < last_use_[sb];
          else less = a < b;
          break;
        case PolicyKind::FIFO:
          less = load_time_[sa] != load_time_[sb] ? load_time_[sa] < load_time_[sb] : a < b;
          break;
        case PolicyKind::Belady:
          less = next_use_[sa] != next_use_[sb] ? next_use_[sa] > next_use_[sb] : a < b;
          break;
        default:  // LRU (cloud and static never evict)
          less = last_use_[sa] != last_use_[sb] ? last_use_[sa] < last_use_[sb] : a < b;
      }
      if (less) best = k;
    }
    return best;
  }
  void make_room(std::size_t s, std::size_t model, std::int64_t t) {
    const std::size_t I = static_cast<std::size_t>(in_.n_models);
    const double cap = in_.cap[s];
    add_blocks(s, model);  // its resident blocks are held twice: evicting a sharer never frees them
    for (int round = 0; round < 2 && used_[s] > cap; ++round) {
      cand_.clear();
      for (const std::int64_t v : res_list_[s])
        if (static_cast<std::size_t>(v) != model && is_protected(s, static_cast<std::size_t>(v), t) == (round == 1))
          cand_.push_back(v);
      // Random draws by position among ascending ids, as the reference; the other rules pick by key
      // (ties by id), so their candidate order does not matter.
      const bool ordered = fl_.policy == PolicyKind::Random;
      if (ordered) std::sort(cand_.begin(), cand_.end());
      const bool keyed = fl_.policy == PolicyKind::LC || fl_.policy == PolicyKind::LCTask;
      keys_.resize(cand_.size());
      if (keyed) {
        for (std::size_t k = 0; k < cand_.size(); ++k) {
          const auto v = static_cast<std::size_t>(cand_[k]);
          keys_[k] = fl_.lc_max_age ? -mean_age(s, v, t)
                     : fl_.policy == PolicyKind::LCTask ? task_weighted_aoc(s, v, t) : aoc(s, v, t);
        }
      }
      while (!cand_.empty() && used_[s] > cap) {
        const std::size_t k = pick(s);
        const auto v = static_cast<std::size_t>(cand_[k]);
        if (ordered) {
          cand_.erase(cand_.begin() + static_cast<std::ptrdiff_t>(k));
        } else {  // swap-remove: O(1)
          cand_[k] = cand_.back();
          cand_.pop_back();
          keys_[k] = keys_.back();
          keys_.pop_back();
        }
        evicted_.push_back(static_cast<std::int64_t>(v));
        evict(s, v);
      }
    }
    if (res_list_[s].empty()) used_[s] = in_.model_size[model];  // alone on the server: exact, no drift
    set_resident(s, model, true);
    (void)I;
  }
  void evict(std::size_t s, std::size_t v) {
    const std::size_t sv = s * static_cast<std::size_t>(in_.n_models) + v;
    remove_blocks(s, v);
    set_resident(s, v, false);
    if (!in_.persist) ctx_[sv].len = 0;
    ctx_[sv].prior_slot = -1;  // the prior belongs to one load
    if (fl_.lfu_reset_on_evict) freq_[sv] = 0;
  }
};

// Per-request outputs of `replay` (caller-owned arrays of length R, R + 1 for evict_ptr).
struct ReplayOutput {
  std::int8_t* outcome;
  std::int64_t* served_by;
  double *accuracy, *latency, *aoc, *loaded_bytes, *memory_used, *cost;
  double* costs;  // [R * 5]
  std::int64_t* evict_ptr;
  std::vector<std::int64_t>* evicted;
};

// Replays a whole trace (validated request by request through Cache::on_request).
inline void replay(const Instance& inst, const Flags& flags, View<const std::int64_t> slot,
                   View<const std::int64_t> server, View<const std::int64_t> model, View<const std::int64_t> task,
                   View<const double> tokens_in, View<const double> tokens_out, View<const std::int64_t> next_use,
                   const ReplayOutput& out) {
  const std::size_t R = slot.size;
  for (const std::size_t n : {server.size, model.size, task.size, tokens_in.size, tokens_out.size, next_use.size})
    if (n != R) detail::bad("trace", "every trace array must have the length of slot");
  Cache cache(inst, flags);
  out.evict_ptr[0] = 0;
  for (std::size_t r = 0; r < R; ++r) {
    Request rq{slot[r], server[r], model[r], task[r], tokens_in[r], tokens_out[r], next_use[r]};
    const Decision d = cache.on_request(rq);
    out.outcome[r] = static_cast<std::int8_t>(d.outcome);
    out.served_by[r] = d.served_by;
    out.accuracy[r] = d.accuracy;
    out.latency[r] = d.latency;
    out.aoc[r] = d.aoc;
    out.loaded_bytes[r] = d.loaded_bytes;
    out.memory_used[r] = d.memory_used;
    out.cost[r] = d.cost;
    for (int c = 0; c < 5; ++c) out.costs[r * 5 + static_cast<std::size_t>(c)] = d.costs[c];
    const auto& ev = cache.evicted();
    out.evicted->insert(out.evicted->end(), ev.begin(), ev.end());
    out.evict_ptr[r + 1] = static_cast<std::int64_t>(out.evicted->size());
  }
}

}  // namespace online
}  // namespace trimcore
