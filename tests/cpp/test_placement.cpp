// Unit tests of the one-line C++ placement API (trimcore/placement.hpp): the validated
// PlacementProblem (every defect named), its evaluators and trimcaching_gen. One suite per argument.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "check.hpp"
#include "trimcore/placement.hpp"
#include "trimcore/spec.hpp"

namespace {


using Flags = std::vector<std::uint8_t>;
using Blocks = std::vector<std::vector<std::int64_t>>;
using trimcore::GenOptions;
using trimcore::GenRule;
using trimcore::PlacementProblem;

const double inf = std::numeric_limits<double>::infinity();
const double nan_ = std::nan("");

// Runs `build`; true when it throws an InstanceDefect whose message starts with `field` + ":".
bool refuses(const std::function<void()>& build, const std::string& field) {
  try {
    build();
  } catch (const trimcore::InstanceDefect& e) {
    const std::string what = e.what();
    if (what.rfind(field + ":", 0) == 0) return true;
    std::fprintf(stderr, "  wrong field for %s: %s\n", field.c_str(), what.c_str());
    return false;
  }
  std::fprintf(stderr, "  %s: accepted\n", field.c_str());
  return false;
}

// 3 models over 4 blocks: 0 = {0, 1} (5), 1 = {0, 2} (6), 2 = {3} (8); 2 servers, 3 users.
const std::vector<double> kSizes = {4.0, 1.0, 2.0, 8.0};
const Blocks kModels = {{1, 0}, {0, 2}, {3}};

void problem() {
  const std::vector<double> pop = {0.5, 0.3, 0.2, 0.1, 0.0, 0.4, 0.0, 0.2, 0.3};  // [K=3][I=3]
  const std::vector<double> smax = {inf, 5.0, 0.0, 6.0, 8.0, 5.5};                  // [M=2][K=3]
  const auto p = PlacementProblem::from_max_size(kSizes, kModels, {7.0, 8.0}, pop, smax);
  CHECK(p.n_servers() == 2 && p.n_users() == 3 && p.n_models() == 3 && p.n_blocks() == 4);
  CHECK(p.model_size(0) == 5.0 && p.model_size(1) == 6.0 && p.model_size(2) == 8.0);
  CHECK(p.is_compact());
  // server 0: users by decreasing max_size = 0 (inf), 1 (5), 2 (0); model 0 (5) -> {0, 1}, 1 and 2 -> {0}
  // server 1: users 1 (8), 0 (6), 2 (5.5); model 0 -> all, 1 -> {1, 0}, 2 -> {1}
  CHECK((p.pair_len() == std::vector<std::int64_t>{2, 1, 1, 3, 2, 1}));
  CHECK((p.pair_ptr() == std::vector<std::int64_t>{0, 0, 0, 2, 2, 2}));
  CHECK((p.pair_users() == std::vector<std::int32_t>{0, 1, 1, 0, 2}));
  CHECK(p.total_popularity() == 0.5 + 0.3 + 0.2 + 0.1 + 0.0 + 0.4 + 0.0 + 0.2 + 0.3 ||
        std::fabs(p.total_popularity() - 2.0) < 1e-12);
  CHECK(refuses([&] { p.model_size(3); }, "model"));
  // the same eligibility given densely
  Flags elig(2 * 3 * 3, 0);
  for (std::size_t m = 0; m < 2; ++m)
    for (std::size_t k = 0; k < 3; ++k)
      for (std::size_t i = 0; i < 3; ++i) elig[(m * 3 + k) * 3 + i] = p.model_size(static_cast<std::int64_t>(i)) <= smax[m * 3 + k];
  const auto d = PlacementProblem::from_dense(kSizes, kModels, {7.0, 8.0}, pop, elig, 3);
  CHECK(!d.is_compact());
  CHECK((d.pair_len() == p.pair_len()));
  CHECK((d.pair_users() == std::vector<std::int32_t>{0, 1, 0, 0, 0, 1, 2, 0, 1, 1}));
  // a placement is judged identically on both forms
  const Flags x = {1, 0, 1, 0, 1, 1};
  CHECK(trimcore::hit_weight(p, x) == trimcore::hit_weight(d, x));
  // served: model 0 by server 0 to users 0,1 (0.5 + 0.1); model 2 by 0 to user 0 (0.2) and by 1 to user 1 (0.4);
  // model 1 by 1 to users 1, 0 (0.0 + 0.3)
  CHECK(std::fabs(trimcore::hit_weight(p, x) - (0.5 + 0.1 + 0.2 + 0.4 + 0.0 + 0.3)) < 1e-12);
  const std::vector<double> used = trimcore::storage_used(p, x);
  CHECK(used.size() == 2 && used[0] == 13.0 && used[1] == 14.0);  // {0,1,3} = 13; {0,2,3} = 14
  CHECK(refuses([&] { trimcore::hit_weight(p, Flags(5, 0)); }, "placement"));
  CHECK(refuses([&] { trimcore::storage_used(p, Flags{1, 0, 2, 0, 0, 0}); }, "placement"));
  // explicit pair lists (how Python stores a dense problem)
  const auto q = PlacementProblem::from_pairs(kSizes, kModels, {7.0, 8.0}, pop, d.pair_ptr(), d.pair_len(),
                                              d.pair_users(), 3);
  CHECK(trimcore::hit_weight(q, x) == trimcore::hit_weight(d, x));
}

void defects() {
  const std::vector<double> pop = {1.0, 0.0, 0.0};  // K = 1, I = 3
  const std::vector<double> cap = {10.0}, smax = {inf};
  auto lib = [&](std::vector<double> sizes, Blocks blocks) {
    return [=] { PlacementProblem::from_max_size(sizes, blocks, cap, pop, smax); };
  };
  CHECK(refuses(lib({4.0, 0.0, 2.0, 8.0}, kModels), "block_sizes"));
  CHECK(refuses(lib({4.0, -1.0, 2.0, 8.0}, kModels), "block_sizes"));
  CHECK(refuses(lib({4.0, nan_, 2.0, 8.0}, kModels), "block_sizes"));
  CHECK(refuses(lib({4.0, inf, 2.0, 8.0}, kModels), "block_sizes"));
  CHECK(refuses(lib(kSizes, {}), "model_blocks"));
  CHECK(refuses(lib(kSizes, {{0}, {}, {3}}), "model_blocks[1]"));
  CHECK(refuses(lib(kSizes, {{0}, {4}, {3}}), "model_blocks[1]"));
  CHECK(refuses(lib(kSizes, {{0}, {-1}, {3}}), "model_blocks[1]"));
  CHECK(refuses(lib(kSizes, {{0, 1, 0}, {2}, {3}}), "model_blocks[0]"));
  auto mk = [&](std::vector<double> c, std::vector<double> p, std::vector<double> s) {
    return [=] { PlacementProblem::from_max_size(kSizes, kModels, c, p, s); };
  };
  CHECK(refuses(mk({-1.0}, pop, smax), "capacity"));
  CHECK(refuses(mk({inf}, pop, smax), "capacity"));
  CHECK(refuses(mk({nan_}, pop, smax), "capacity"));
  CHECK(refuses(mk(cap, {1.0, -0.5, 0.0}, smax), "popularity"));
  CHECK(refuses(mk(cap, {1.0, nan_, 0.0}, smax), "popularity"));
  CHECK(refuses(mk(cap, {1.0, inf, 0.0}, smax), "popularity"));
  CHECK(refuses(mk(cap, {0.0, 0.0, 0.0}, smax), "popularity"));     // no positive total
  CHECK(refuses(mk(cap, {1.0, 0.0}, smax), "popularity"));          // not K*I
  CHECK(refuses(mk(cap, pop, {-1.0}), "max_size"));
  CHECK(refuses(mk(cap, pop, {nan_}), "max_size"));
  CHECK(refuses(mk(cap, pop, {-inf}), "max_size"));
  CHECK(refuses(mk(cap, pop, {inf, inf}), "popularity"));           // K = 2 from max_size, 3 popularities
  CHECK(refuses(mk({1.0, 1.0}, pop, {inf, inf, inf}), "max_size"));  // 3 entries for 2 servers
  auto dense = [&](Flags e, std::int64_t k, std::vector<double> p) {
    return [=] { PlacementProblem::from_dense(kSizes, kModels, cap, p, e, k); };
  };
  CHECK(refuses(dense(Flags(3, 1), -1, pop), "n_users"));
  CHECK(refuses(dense(Flags(3, 1), std::int64_t{1} << 31, pop), "n_users"));  // user ids are int32
  CHECK(refuses(dense(Flags(4, 1), 1, pop), "eligible"));
  CHECK(refuses(dense(Flags{1, 2, 0}, 1, pop), "eligible"));
  CHECK(refuses(dense(Flags(3, 1), 2, pop), "popularity"));
  // explicit pairs: extents, ids, repeats
  auto pairs = [&](std::vector<std::int64_t> ptr, std::vector<std::int64_t> len, std::vector<std::int32_t> users) {
    return [=] { PlacementProblem::from_pairs(kSizes, kModels, cap, {1.0, 0.0, 0.0, 0.0, 1.0, 0.0}, ptr, len, users, 2); };
  };
  CHECK(refuses(pairs({0, 0}, {1, 1, 1}, {0}), "pair_ptr"));
  CHECK(refuses(pairs({0, 0, 0}, {1, 1}, {0}), "pair_len"));
  CHECK(refuses(pairs({0, 0, 1}, {1, 1, 1}, {0}), "pair_ptr/pair_len"));
  CHECK(refuses(pairs({0, 0, std::numeric_limits<std::int64_t>::max()}, {1, 1, 1}, {0, 1}), "pair_ptr/pair_len"));
  CHECK(refuses(pairs({0, 0, 0}, {1, 1, 3}, {0, 1}), "pair_ptr/pair_len"));  // longer than K
  CHECK(refuses(pairs({0, 0, 0}, {1, 1, 1}, {2}), "pair_users"));
  CHECK(refuses(pairs({0, 0, 0}, {2, 1, 1}, {1, 0}), "pair_users"));  // unsorted
  CHECK(refuses(pairs({0, 0, 0}, {2, 1, 1}, {1, 1}), "pair_users"));  // repeated
  // the algorithm's own inputs
  const auto p = PlacementProblem::from_max_size(kSizes, kModels, cap, pop, smax);
  CHECK(refuses([&] { trimcore::trimcaching_gen(p, GenOptions{GenRule::ratio, true, Flags(2, 0)}); }, "warm_start"));
  CHECK(refuses([&] { trimcore::trimcaching_gen(p, GenOptions{GenRule::ratio, true, Flags{0, 3, 0}}); }, "warm_start"));
  CHECK(refuses([&] { trimcore::trimcaching_gen(p, GenOptions{static_cast<GenRule>(7), true, {}}); }, "rule"));
  CHECK(refuses([&] { trimcore::greedy_placement(p, GenRule::best_of_both, true); }, "rule"));
}

// One server, one user; models are single blocks of the given sizes with the given popularity.
PlacementProblem singles(const std::vector<double>& sizes, const std::vector<double>& pop, double capacity) {
  Blocks blocks;
  for (std::size_t i = 0; i < sizes.size(); ++i) blocks.push_back({static_cast<std::int64_t>(i)});
  return PlacementProblem::from_max_size(sizes, blocks, {capacity}, pop, {inf});
}

void gen() {
  {  // sharing: models 0 (5) and 1 (6) share block 0 and fit together in 7; model 2 (8) is never a candidate
    const auto p = PlacementProblem::from_max_size(kSizes, kModels, {7.0}, {0.5, 0.3, 0.2}, {inf});
    for (const GenRule rule : {GenRule::best_of_both, GenRule::ratio, GenRule::gain})
      for (const bool lazy : {true, false}) {
        const auto r = trimcore::trimcaching_gen(p, GenOptions{rule, lazy, {}});
        CHECK((r.placement == Flags{1, 1, 0}));
        CHECK(r.hit_weight == trimcore::hit_weight(p, r.placement));
        CHECK(r.hit_ratio == r.hit_weight / p.total_popularity());
        CHECK(r.kept == 0);
      }
    CHECK(trimcore::gen_candidates(p) == (std::vector<std::int64_t>{0, 1}));
  }
  {  // ratio beats gain: A (10, 0.5) alone vs B and C (5, 0.3 each)
    const auto p = singles({10.0, 5.0, 5.0}, {0.5, 0.3, 0.3}, 10.0);
    const auto ratio = trimcore::trimcaching_gen(p, GenOptions{GenRule::ratio, true, {}});
    const auto gain = trimcore::trimcaching_gen(p, GenOptions{GenRule::gain, true, {}});
    const auto both = trimcore::trimcaching_gen(p);
    CHECK((ratio.placement == Flags{0, 1, 1}) && (gain.placement == Flags{1, 0, 0}));
    CHECK(both.placement == ratio.placement && both.chosen_rule == GenRule::ratio);
  }
  {  // gain beats ratio: A (10, 0.5) vs B (1, 0.1) first, after which A no longer fits
    const auto p = singles({10.0, 1.0}, {0.5, 0.1}, 10.0);
    const auto both = trimcore::trimcaching_gen(p, GenOptions{GenRule::best_of_both, false, {}});
    CHECK((both.placement == Flags{1, 0}) && both.chosen_rule == GenRule::gain && both.hit_weight == 0.5);
  }
  {  // a tie goes to ratio
    const auto p = singles({2.0, 2.0}, {0.5, 0.5}, 2.0);
    const auto both = trimcore::trimcaching_gen(p);
    CHECK(both.chosen_rule == GenRule::ratio && (both.placement == Flags{1, 0}));  // equal scores: lower id
  }
  {  // warm start: kept first (if it still fits and serves), the greedy fills the rest
    const auto p = singles({10.0, 5.0, 5.0}, {0.5, 0.3, 0.3}, 10.0);
    const auto r = trimcore::trimcaching_gen(p, GenOptions{GenRule::ratio, true, Flags{1, 0, 0}});
    CHECK((r.placement == Flags{1, 0, 0}) && r.kept == 1);
    const auto s = trimcore::trimcaching_gen(p, GenOptions{GenRule::ratio, true, Flags{0, 0, 1}});
    CHECK((s.placement == Flags{0, 1, 1}) && s.kept == 1);
    const auto z = singles({10.0, 5.0, 5.0}, {0.5, 0.0, 0.3}, 10.0);  // model 1 serves nobody: dropped
    const auto t = trimcore::trimcaching_gen(z, GenOptions{GenRule::gain, true, Flags{0, 1, 1}});
    CHECK((t.placement == Flags{0, 0, 1}) && t.kept == 1);
  }
  {  // nobody reachable, zero capacity, no server: an empty placement, never a crash
    const auto far = PlacementProblem::from_max_size(kSizes, kModels, {7.0}, {0.5, 0.3, 0.2}, {0.0});
    CHECK((trimcore::trimcaching_gen(far).placement == Flags{0, 0, 0}));
    const auto full = PlacementProblem::from_max_size(kSizes, kModels, {0.0}, {0.5, 0.3, 0.2}, {inf});
    CHECK(trimcore::trimcaching_gen(full).hit_weight == 0.0);
    const auto none = PlacementProblem::from_max_size(kSizes, kModels, {}, {0.5, 0.3, 0.2}, {});
    CHECK(none.n_users() == 1 && trimcore::trimcaching_gen(none).placement.empty());
  }
}

// Random instances: lazy == plain, best_of_both = the better of the two runs, placements feasible.
void agreement() {
  std::uint64_t state = 12345;
  auto next = [&] {  // xorshift: deterministic, no <random> distribution differences across libraries
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  auto uniform = [&] { return static_cast<double>(next() >> 11) / 9007199254740992.0; };
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t J = 1 + next() % 70, I = 1 + next() % 9, M = 1 + next() % 4, K = 1 + next() % 12;
    std::vector<double> sizes(J);
    for (auto& s : sizes) s = 0.5 + 4.0 * uniform();
    Blocks blocks(I);
    for (auto& b : blocks) {
      for (std::size_t j = 0; j < J; ++j)
        if (next() % 3 == 0) b.push_back(static_cast<std::int64_t>(j));
      if (b.empty()) b.push_back(static_cast<std::int64_t>(next() % J));
    }
    std::vector<double> cap(M), pop(K * I), smax(M * K);
    for (auto& c : cap) c = 40.0 * uniform();
    for (auto& q : pop) q = next() % 4 == 0 ? 0.0 : uniform();
    pop[0] = 1.0;
    for (auto& s : smax) s = next() % 5 == 0 ? inf : 60.0 * uniform();
    const auto p = PlacementProblem::from_max_size(sizes, blocks, cap, pop, smax);
    Flags warm(M * I);
    for (auto& w : warm) w = next() % 4 == 0;
    for (const bool use_warm : {false, true}) {
      const Flags start = use_warm ? warm : Flags{};
      double value[2];
      for (const GenRule rule : {GenRule::ratio, GenRule::gain}) {
        const auto lazy = trimcore::trimcaching_gen(p, GenOptions{rule, true, start});
        const auto plain = trimcore::trimcaching_gen(p, GenOptions{rule, false, start});
        CHECK(lazy.placement == plain.placement);
        const std::vector<double> used = trimcore::storage_used(p, lazy.placement);
        for (std::size_t m = 0; m < M; ++m) CHECK(used[m] <= cap[m] * (1.0 + 1e-12));
        value[rule == GenRule::ratio ? 0 : 1] = lazy.hit_weight;
      }
      const auto both = trimcore::trimcaching_gen(p, GenOptions{GenRule::best_of_both, true, start});
      CHECK(both.hit_weight == std::max(value[0], value[1]));
      CHECK(both.chosen_rule == (value[1] > value[0] ? GenRule::gain : GenRule::ratio));
    }
  }
}

void spec() {
  using trimcore::SpecOptions;
  {  // sharing: models 0 (5) and 1 (6) share block 0 (4); in 7 bytes both fit on top of it
    const auto p = PlacementProblem::from_max_size(kSizes, kModels, {7.0}, {0.5, 0.3, 0.2}, {inf});
    const auto r = trimcore::trimcaching_spec(p);
    CHECK((r.placement == Flags{1, 1, 0}) && std::fabs(r.hit_weight - 0.8) < 1e-12 && r.guaranteed);
    CHECK(r.most_combinations == 2 && r.knapsacks == 1);
    SpecOptions atomic;
    atomic.atomic = true;  // independent caching: 5 + 6 > 7, the more popular one alone
    CHECK((trimcore::trimcaching_spec(p, atomic).placement == Flags{1, 0, 0}));
    for (const auto method : {trimcore::KnapsackMethod::fptas, trimcore::KnapsackMethod::grid}) {
      SpecOptions o;
      o.knapsack = method;
      const auto q = trimcore::trimcaching_spec(p, o);
      if (method == trimcore::KnapsackMethod::fptas) CHECK((q.placement == Flags{1, 1, 0}) && q.guaranteed);
      // the grid rounds the private sizes 1 and 2 up to 1366 + 2731 cells of 4096 over room 3: one only
      else CHECK((q.placement == Flags{1, 0, 0}) && !q.guaranteed && q.knapsack_grid == 1);
    }
  }
  {  // every option is checked
    const auto p = PlacementProblem::from_max_size(kSizes, kModels, {7.0, 9.0}, {0.5, 0.3, 0.2}, {inf, inf});
    auto with = [&](const std::function<void(SpecOptions&)>& change) {
      return [&p, change] {
        SpecOptions o;
        change(o);
        trimcore::trimcaching_spec(p, o);
      };
    };
    CHECK(refuses(with([](SpecOptions& o) { o.eps = 0.0; }), "eps"));
    CHECK(refuses(with([](SpecOptions& o) { o.eps = 1.0; }), "eps"));
    CHECK(refuses(with([](SpecOptions& o) { o.eps = nan_; }), "eps"));
    CHECK(refuses(with([](SpecOptions& o) { o.grid_cells = 0; }), "grid_cells"));
    CHECK(refuses(with([](SpecOptions& o) { o.grid_cells = (std::int64_t{1} << 22) + 1; }), "grid_cells"));
    CHECK(refuses(with([](SpecOptions& o) { o.max_combinations = 0; }), "max_combinations"));
    CHECK(refuses(with([](SpecOptions& o) { o.server_order = {0, 0}; }), "server_order"));
    CHECK(refuses(with([](SpecOptions& o) { o.server_order = {1}; }), "server_order"));
    CHECK(refuses(with([](SpecOptions& o) { o.server_order = {0, 2}; }), "server_order"));
    CHECK(refuses(with([](SpecOptions& o) { o.knapsack = static_cast<trimcore::KnapsackMethod>(9); }), "knapsack"));
    // too much sharing for the union enumeration, and an FPTAS table over the limit: refused
    const auto s = PlacementProblem::from_max_size({1.0, 1.0, 1.0, 5.0}, {{0, 3}, {1, 3}, {2, 3}, {0, 1}}, {20.0},
                                                   {0.3, 0.3, 0.3, 0.1}, {inf});
    CHECK(refuses([&] {
      SpecOptions o;
      o.max_combinations = 2;
      trimcore::trimcaching_spec(s, o);
    }, "server 0"));
    CHECK(refuses([&] {
      SpecOptions o;
      o.knapsack = trimcore::KnapsackMethod::fptas;
      o.fptas_hard_limit = 1.0;
      trimcore::trimcaching_spec(s, o);
    }, "knapsack"));
    SpecOptions order;
    order.server_order = {1, 0};
    CHECK(trimcore::trimcaching_spec(p, order).placement.size() == 6);
  }
}

// Spec's guarantee against brute force on tiny instances: at least (1 - eps)/2 of the optimum, feasible.
void spec_guarantee() {
  std::uint64_t state = 777;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  auto uniform = [&] { return static_cast<double>(next() >> 11) / 9007199254740992.0; };
  for (int trial = 0; trial < 150; ++trial) {
    const std::size_t J = 1 + next() % 8, I = 1 + next() % 5, M = 1 + next() % 2, K = 1 + next() % 5;
    std::vector<double> sizes(J);
    for (auto& x : sizes) x = trial % 2 ? static_cast<double>(1 + next() % 6) : 0.5 + 5.0 * uniform();
    Blocks blocks(I);
    for (auto& b : blocks) {
      for (std::size_t j = 0; j < J; ++j)
        if (next() % 2 == 0) b.push_back(static_cast<std::int64_t>(j));
      if (b.empty()) b.push_back(static_cast<std::int64_t>(next() % J));
    }
    std::vector<double> cap(M), pop(K * I), smax(M * K);
    for (auto& c : cap) c = 20.0 * uniform();
    for (auto& q : pop) q = uniform();
    for (auto& x : smax) x = next() % 4 == 0 ? inf : 25.0 * uniform();
    const auto p = PlacementProblem::from_max_size(sizes, blocks, cap, pop, smax);
    double best = 0.0;
    for (std::uint64_t bits = 0; bits < (std::uint64_t{1} << (M * I)); ++bits) {
      Flags x(M * I);
      for (std::size_t t = 0; t < M * I; ++t) x[t] = (bits >> t) & 1;
      const std::vector<double> used = trimcore::storage_used(p, x);
      bool fits = true;
      for (std::size_t m = 0; m < M; ++m) fits = fits && used[m] <= cap[m] * (1.0 + 1e-9);
      if (fits) best = std::max(best, trimcore::hit_weight(p, x));
    }
    for (const double eps : {0.1, 0.5}) {
      trimcore::SpecOptions o;
      o.eps = eps;
      const auto r = trimcore::trimcaching_spec(p, o);
      const std::vector<double> used = trimcore::storage_used(p, r.placement);
      for (std::size_t m = 0; m < M; ++m) CHECK(used[m] <= cap[m] * (1.0 + 1e-9));
      CHECK(r.hit_weight >= (1.0 - eps) / 2.0 * best - 1e-12);
      CHECK(r.guaranteed);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::map<std::string, std::function<void()>> suites = {
      {"problem", problem}, {"defects", defects}, {"gen", gen}, {"agreement", agreement},
      {"spec", spec}, {"spec_guarantee", spec_guarantee}};
  if (argc != 2 || !suites.count(argv[1])) {
    std::fprintf(stderr, "usage: %s {problem|defects|gen|agreement|spec|spec_guarantee}\n", argv[0]);
    return 2;
  }
  suites.at(argv[1])();
  return trimcore_test::report();
}
