// A C++ simulator stepping the online caching policies request by request (no Python):
//   g++ -std=c++17 -O3 -I csrc/include csrc/examples/online_step.cpp -o online_step
//   ./online_step [policy-code] [requests] [servers] [models] [lc_prior] [persist]
// It draws a Zipf trace, steps trimcore::online::Cache::on_request and prints the hit ratio, the
// mean cost, requests/s and a hash of every decision (outcome, served_by, evicted models), so two
// builds can be checked for identical decisions on a large trace. The same header backs trimcore._core.online_simulate.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "trimcore/online.hpp"

int main(int argc, char** argv) {
  using namespace trimcore;
  const int policy = argc > 1 ? std::atoi(argv[1]) : 2;
  const std::int64_t R = argc > 2 ? std::atoll(argv[2]) : 2000000;
  const std::int64_t N = argc > 3 ? std::atoll(argv[3]) : 100;
  const std::int64_t I = argc > 4 ? std::atoll(argv[4]) : 1000;
  const double lc_prior = argc > 5 ? std::atof(argv[5]) : 0.0;
  const bool persist = argc > 6 && std::atoi(argv[6]) != 0;
  std::mt19937_64 gen(1);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  // model-granular library: model i is block i
  std::vector<std::int64_t> ptr(I + 1), idx(I);
  std::vector<double> size(I), ones(I, 1.0), a0(I, 0.4), amax(I, 0.62), kappa(I, 0.25), price(I, 1.0);
  std::vector<std::int64_t> window(I, 32);
  for (std::int64_t i = 0; i < I; ++i) {
    ptr[i + 1] = i + 1;
    idx[i] = i;
    size[i] = (0.2 + 1.4 * unif(gen)) * 1e9;
  }
  std::vector<double> cap(N, 80e9 * (1 + 1e-9)), flops(N, 100e12), access(N, 0.01);
  std::vector<std::uint8_t> mt(I * I, 0);
  for (std::int64_t i = 0; i < I; ++i) mt[i * I + i] = 1;
  std::vector<double> rel(I * I, 0.2);
  for (std::int64_t i = 0; i < I; ++i) rel[i * I + i] = 1.0;
  const std::int64_t slots = R / (5 * N) + 1;
  std::vector<double> nu_pow(slots + 1);
  for (std::int64_t k = 0; k <= slots; ++k) nu_pow[k] = std::pow(0.9, static_cast<double>(k));
  online::Instance in;
  in.n_servers = N;
  in.n_models = I;
  in.n_tasks = I;
  in.blk_ptr = {ptr.data(), ptr.size()};
  in.blk_idx = {idx.data(), idx.size()};
  in.blk_size = {size.data(), size.size()};
  in.model_size = in.blk_size;
  in.cap = {cap.data(), cap.size()};
  in.model_tasks = {mt.data(), mt.size()};
  in.relevance = {rel.data(), rel.size()};
  in.window = {window.data(), window.size()};
  in.nu_pow = {nu_pow.data(), nu_pow.size()};
  in.prune_age = 66;
  in.a0 = {a0.data(), a0.size()};
  in.amax = {amax.data(), amax.size()};
  in.kappa = {kappa.data(), kappa.size()};
  in.phi = in.blk_size;
  in.edge_flops = {flops.data(), flops.size()};
  in.access = {access.data(), access.size()};
  in.cloud_flops = 1e15;
  in.cloud_lat = 0.1;
  in.load_bw = 2e9;
  in.w_L = 1;
  in.w_A = 10;
  in.w_S = 0.05e-9;
  in.w_C = 0.01;
  in.cloud_price = {price.data(), price.size()};
  in.lc_prior = lc_prior;
  in.persist = persist;
  online::Flags fl;
  fl.policy = static_cast<online::PolicyKind>(policy);
  fl.greedy_admission = true;
  fl.allow_substitution = false;
  // Zipf(0.8) over a random rank order per server
  std::vector<double> cdf(I);
  double acc = 0;
  for (std::int64_t i = 0; i < I; ++i) cdf[i] = (acc += 1.0 / std::pow(static_cast<double>(i + 1), 0.8));
  std::vector<std::int64_t> perm(N * I);
  for (std::int64_t s = 0; s < N; ++s) {
    for (std::int64_t i = 0; i < I; ++i) perm[s * I + i] = i;
    std::shuffle(perm.begin() + s * I, perm.begin() + (s + 1) * I, gen);
  }
  std::vector<online::Request> trace(R);
  for (std::int64_t r = 0; r < R; ++r) {
    const std::int64_t s = static_cast<std::int64_t>(unif(gen) * N);
    const auto rank = std::lower_bound(cdf.begin(), cdf.end(), unif(gen) * acc) - cdf.begin();
    const std::int64_t i = perm[s * I + std::min<std::int64_t>(rank, I - 1)];
    trace[r] = online::Request{r / (5 * N), s, i, i, 144.0, 144.0, R};
  }
  {  // next request of the same (server, model): what Belady looks ahead at
    std::vector<std::int64_t> next(N * I, R);
    for (std::int64_t r = R - 1; r >= 0; --r) {
      auto& slot_next = next[trace[r].server * I + trace[r].model];
      trace[r].next_use = slot_next;
      slot_next = r;
    }
  }
  online::Cache cache(in, fl);
  std::int64_t hits = 0;
  double cost = 0;
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a over outcome, served_by and the evictions
  auto mix = [&hash](std::int64_t v) {
    hash ^= static_cast<std::uint64_t>(v);
    hash *= 1099511628211ULL;
  };
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  for (std::size_t r = 0; r < trace.size(); ++r) {
    if (r + 16 < trace.size()) cache.prefetch_far(trace[r + 16]);  // optional hints, no effect on decisions
    if (r + 6 < trace.size()) cache.prefetch_near(trace[r + 6]);
    const online::Decision d = cache.on_request(trace[r]);
    hits += d.outcome == online::Outcome::Hit;
    cost += d.cost;
    mix(static_cast<std::int64_t>(d.outcome));
    mix(d.served_by);
    for (const std::int64_t v : cache.evicted()) mix(v);
    mix(-2);
  }
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;  // less inflated by other jobs
  std::printf("policy %d: %lld requests, hit ratio %.4f, mean cost %.4f, %.2f M requests/s, %.3f s (cpu %.3f s), decisions %016llx\n",
              policy, static_cast<long long>(R), static_cast<double>(hits) / R, cost / R, R / dt / 1e6, dt, cpu,
              static_cast<unsigned long long>(hash));
  return 0;
}
