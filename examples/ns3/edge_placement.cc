// An ns-3 edge network whose servers place models with trimcore every epoch.
//
// Edge servers are ns-3 nodes at fixed positions (a grid, or a site list such as the EUA
// Melbourne CBD sites, ConstantPositionMobilityModel); users are ns-3 nodes that random-walk in
// the same box (RandomWalk2dMobilityModel). Every epoch the program reads the users' positions,
// computes which server can deliver which model to which user within the user's latency limit
// (the radio model of trimcore/instance/radio.py and topology.py, variant "direct", ported
// operation for operation), and re-places the models with trimcore's C++ TrimCaching Gen
// warm-started from the previous epoch's placement. Users request models as Poisson processes
// with Zipf popularity; a request is
//   * a delivery hit when some server holding the model reaches the user in time, judged from the
//     user's position when the request arrives (the placement was computed at the epoch start);
//   * and it is also served for inference by the user's nearest server, whose GPU cache is
//     trimcore::online::Cache (least-context eviction): hit, load or cloud.
// The program prints both hit ratios per epoch over simulated time. --export=DIR writes each
// epoch's instance and placement (JSON) and the request trace (CSV), which
// tests/test_ns3_example.py compares with the Python API.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ns3/command-line.h"
#include "ns3/constant-position-mobility-model.h"
#include "ns3/double.h"
#include "ns3/mobility-helper.h"
#include "ns3/mobility-model.h"
#include "ns3/node-container.h"
#include "ns3/nstime.h"
#include "ns3/position-allocator.h"
#include "ns3/random-variable-stream.h"
#include "ns3/rectangle.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "ns3/string.h"

#include <trimcore/online.hpp>
#include <trimcore/placement.hpp>

using namespace ns3;

namespace {

namespace online = trimcore::online;
using trimcore::View;

// ---------------------------------------------------------------------------------------- radio
// trimcore/instance/radio.py + topology.downlink_rates / max_deliverable_size (variant "direct"):
// the same floating-point operations in the same order, so the sizes agree with Python's to the
// last few ulps (libm's pow/log10/log1p may differ from NumPy's by an ulp).
struct Radio {
  double bandwidth_hz = 20e6;        // B of one download
  double tx_power_dbm = 43.0;        // every server
  double noise_dbm_per_hz = -174.0;  // N0
  double min_distance_m = 1.0;       // path-loss clamp
};

constexpr double kPlInterceptDb = 128.1;  // radio.PL_INTERCEPT_DB
constexpr double kPlSlopeDb = 37.6;       // radio.PL_SLOPE_DB

double downlink_rate(const Radio& r, double distance_m) {
  const double pl = kPlInterceptDb + kPlSlopeDb * std::log10(std::max(distance_m, r.min_distance_m) / 1000.0);
  const double gain = std::pow(10.0, -pl / 10.0);
  const double power = std::pow(10.0, (r.tx_power_dbm - 30.0) / 10.0);
  const double noise = std::pow(10.0, (r.noise_dbm_per_hz - 30.0) / 10.0);
  const double alpha = power * gain / noise;  // radio.snr_bandwidth
  const double b = r.bandwidth_hz;
  const double ratio = alpha / b;             // radio._rate
  const double lg = (std::isinf(ratio) && b > 0) ? std::log(alpha) - std::log(b) : std::log1p(ratio);
  return b * lg / std::log(2.0);
}

// topology.max_deliverable_size, variant "direct": limit R / 8 bytes, 0 where the rate is 0.
double deliverable_size(double rate_bps, double limit_s) { return rate_bps > 0 ? limit_s * rate_bps / 8.0 : 0.0; }

double distance(const Vector& a, const Vector& b) { return std::hypot(a.x - b.x, a.y - b.y); }

// ---------------------------------------------------------------------------------------- inputs
struct Library {
  std::vector<double> block_sizes;                  // bytes
  std::vector<std::vector<std::int64_t>> model_blocks;  // ascending block ids per model
};

// Fine-tuned variants of a few base models: variant v of base b is b's backbone (shared by all of
// b's variants, 40-120 MB) plus its own head (2-20 MB). Sizes from an ns-3 random stream.
Library synthetic_library(std::uint32_t n_bases, std::uint32_t variants, Ptr<UniformRandomVariable> u) {
  Library lib;
  for (std::uint32_t b = 0; b < n_bases; ++b) {
    const auto backbone = static_cast<std::int64_t>(lib.block_sizes.size());
    lib.block_sizes.push_back(std::round(u->GetValue(40e6, 120e6)));
    for (std::uint32_t v = 0; v < variants; ++v) {
      lib.model_blocks.push_back({backbone, static_cast<std::int64_t>(lib.block_sizes.size())});
      lib.block_sizes.push_back(std::round(u->GetValue(2e6, 20e6)));
    }
  }
  return lib;
}

// The numbers of one line; a token that is not a number is refused, naming the file and line.
template <class T>
std::vector<T> numbers(const std::string& line, const char* field, const std::string& path, std::size_t line_no) {
  std::istringstream fields(line);
  std::vector<T> out;
  for (T v; fields >> v;) out.push_back(v);
  if (!fields.eof())
    throw std::invalid_argument(std::string(field) + ": expected numbers on line " + std::to_string(line_no) +
                                " of " + path);
  return out;
}

// A library file: the block sizes (bytes) on the first line, then one line of block ids per model.
Library read_library(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("library: cannot open " + path);
  Library lib;
  std::string line;
  for (std::size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line_no == 1) {
      lib.block_sizes = numbers<double>(line, "library", path, line_no);
      continue;
    }
    auto ids = numbers<std::int64_t>(line, "library", path, line_no);
    if (!ids.empty()) {
      std::sort(ids.begin(), ids.end());  // the online cache wants ascending ids (PlacementProblem takes any order)
      lib.model_blocks.push_back(std::move(ids));
    }
  }
  return lib;
}

struct Area {
  double width = 1000.0, height = 1000.0;
  std::vector<Vector> servers;
};

// A site file: "width height" on the first line, then "x y" (metres) per server.
Area read_sites(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("sites: cannot open " + path);
  Area area;
  std::string line;
  for (std::size_t line_no = 1; std::getline(in, line); ++line_no) {
    const auto v = numbers<double>(line, "sites", path, line_no);
    if (v.empty()) continue;
    const std::string where = " on line " + std::to_string(line_no) + " of " + path;
    if (v.size() != 2) throw std::invalid_argument("sites: expected two numbers" + where);
    if (line_no == 1) {
      if (!(v[0] > 0 && v[1] > 0 && std::isfinite(v[0]) && std::isfinite(v[1])))
        throw std::invalid_argument("sites: expected 'width height' (finite, > 0)" + where);
      area.width = v[0];
      area.height = v[1];
    } else if (!(v[0] >= 0 && v[0] <= area.width && v[1] >= 0 && v[1] <= area.height)) {
      throw std::invalid_argument("sites: expected a position inside the area" + where);
    } else {
      area.servers.emplace_back(v[0], v[1], 0.0);
    }
  }
  if (area.servers.empty()) throw std::invalid_argument("sites: no positions in " + path);
  return area;
}

// Servers at the centres of a rows x cols grid (Topology.grid's layout: server r * cols + c).
Area grid_area(std::uint32_t rows, std::uint32_t cols, double width, double height) {
  Area area{width, height, {}};
  for (std::uint32_t r = 0; r < rows; ++r)
    for (std::uint32_t c = 0; c < cols; ++c)
      area.servers.emplace_back((c + 0.5) * (width / cols), (r + 0.5) * (height / rows), 0.0);
  return area;
}

// ---------------------------------------------------------------------------------------- output
template <class T>
void json_list(std::ostream& out, const std::vector<T>& v) {
  out << '[';
  for (std::size_t k = 0; k < v.size(); ++k) out << (k ? "," : "") << +v[k];
  out << ']';
}

const char* outcome_name(online::Outcome o) {
  switch (o) {
    case online::Outcome::Hit: return "hit";
    case online::Outcome::Substitute: return "substitute";
    case online::Outcome::Load: return "load";
    case online::Outcome::Cloud: return "cloud";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------- scenario
struct Options {
  std::uint32_t users = 20, rows = 2, cols = 3, epochs = 6, bases = 3, variants = 4;
  std::uint64_t seed = 1;
  double width = 1000.0, height = 1000.0, epoch_s = 60.0, speed = 5.0, rate = 0.2, zipf = 0.8;
  double limit_low = 1.0, limit_high = 5.0, capacity = 300e6, gpu_memory = 250e6, slot_s = 1.0, nu = 0.9;
  std::string sites, library, export_dir, policy = "lc";
};

// The causal policies of trimcore::online::Cache a simulator can step (names as in Python).
online::PolicyKind policy_kind(const std::string& name) {
  static const std::pair<const char*, online::PolicyKind> kinds[] = {
      {"lc", online::PolicyKind::LC},     {"lru", online::PolicyKind::LRU},       {"lfu", online::PolicyKind::LFU},
      {"fifo", online::PolicyKind::FIFO}, {"random", online::PolicyKind::Random}, {"cloud", online::PolicyKind::Cloud}};
  for (const auto& [n, kind] : kinds)
    if (name == n) return kind;
  throw std::invalid_argument("policy: expected lc, lru, lfu, fifo, random or cloud, got '" + name + "'");
}

// The online cache's instance with the defaults of trimcore.CachingProblem (DEFAULT_OPTIONS):
// model i serves task i only, no substitution, least-context eviction. The arrays live here for
// as long as the Cache that views them.
struct CacheInputs {
  std::vector<std::int64_t> blk_ptr, blk_idx, window;
  std::vector<double> blk_size, model_size, cap, relevance, nu_pow, a0, amax, kappa, phi, edge_flops, access,
      cloud_price;
  std::vector<std::uint8_t> model_tasks;
  online::Instance inst;
};

template <class T>
View<const T> view(const std::vector<T>& v) {
  return {v.data(), v.size()};
}

std::unique_ptr<CacheInputs> cache_inputs(const Library& lib, std::size_t n_servers, double gpu_memory, double nu,
                                          std::int64_t horizon_slots) {
  auto c = std::make_unique<CacheInputs>();
  const std::size_t I = lib.model_blocks.size();
  c->blk_ptr.push_back(0);
  for (const auto& blocks : lib.model_blocks) {
    double size = 0.0;  // ascending order, one after the other (CachingProblem.model_size)
    for (const auto j : blocks) {
      c->blk_idx.push_back(j);
      size += lib.block_sizes[static_cast<std::size_t>(j)];
    }
    c->blk_ptr.push_back(static_cast<std::int64_t>(c->blk_idx.size()));
    c->model_size.push_back(size);
  }
  c->blk_size = lib.block_sizes;
  c->cap.assign(n_servers, gpu_memory * (1.0 + 1e-9));  // memory (1 + MEMORY_RTOL)
  c->model_tasks.assign(I * I, 0);
  c->relevance.assign(I * I, 0.2);  // rho_cross
  for (std::size_t i = 0; i < I; ++i) {
    c->model_tasks[i * I + i] = 1;
    c->relevance[i * I + i] = 1.0;
  }
  c->window.assign(I, 32);
  // nu ** age for ages 0 .. horizon, and the first age pruned (nu ** age < prune_eps = 1e-3)
  std::int64_t prune_age = -1;
  for (std::int64_t a = 0; a <= horizon_slots; ++a) {
    c->nu_pow.push_back(std::pow(nu, static_cast<double>(a)));
    if (prune_age < 0 && c->nu_pow.back() < 1e-3) prune_age = a;
  }
  c->a0.assign(I, 0.40);
  c->amax.assign(I, 0.62);
  c->kappa.assign(I, 0.25);
  c->phi = c->model_size;  // flops_per_token: 2 P_i with P_i = s_i / 2 (fp16)
  c->edge_flops.assign(n_servers, 100e12);
  c->access.assign(n_servers, 0.010);
  c->cloud_price.assign(I, 1.0);
  online::Instance& in = c->inst;
  in.n_servers = static_cast<std::int64_t>(n_servers);
  in.n_models = in.n_tasks = static_cast<std::int64_t>(I);
  in.blk_ptr = view(c->blk_ptr);
  in.blk_idx = view(c->blk_idx);
  in.blk_size = view(c->blk_size);
  in.model_size = view(c->model_size);
  in.cap = view(c->cap);
  in.model_tasks = view(c->model_tasks);
  in.relevance = view(c->relevance);
  in.window = view(c->window);
  in.nu_pow = view(c->nu_pow);
  in.prune_age = prune_age < 0 ? horizon_slots + 2 : prune_age;
  in.a0 = view(c->a0);
  in.amax = view(c->amax);
  in.kappa = view(c->kappa);
  in.curve = 0;
  in.log_beta = 0.05;
  in.eta_sub = 0.9;
  in.rho_sub = 0.5;
  in.ell_ex = 64.0;
  in.phi = view(c->phi);
  in.edge_flops = view(c->edge_flops);
  in.access = view(c->access);
  in.cloud_flops = 1e15;
  in.cloud_lat = 0.100;
  in.load_bw = 2e9;
  in.w_L = 1.0;
  in.w_A = 10.0;
  in.w_S = 0.05e-9;
  in.w_E = 0.0;
  in.w_C = 0.01;
  in.energy_per_flop = 1e-12;
  in.cloud_price = view(c->cloud_price);
  in.persist = false;
  in.lc_prior = 0.0;
  return c;
}

constexpr double kTokens = 144.0;  // tokens in / out per request (CachingProblem's default)

class Scenario {
 public:
  explicit Scenario(const Options& o) : o_(o) {
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(o.seed);  // the replication: every stream below depends on it
    int64_t stream = 0;
    auto uniform = [&stream] {
      auto u = CreateObject<UniformRandomVariable>();
      u->SetStream(stream++);
      return u;
    };
    Check(o);
    area_ = o.sites.empty() ? grid_area(o.rows, o.cols, o.width, o.height) : read_sites(o.sites);
    lib_ = o.library.empty() ? synthetic_library(o.bases, o.variants, uniform()) : read_library(o.library);
    M_ = area_.servers.size();
    K_ = o.users;
    I_ = lib_.model_blocks.size();
    if (I_ == 0) throw std::invalid_argument("library: expected at least one model");

    servers_.Create(static_cast<std::uint32_t>(M_));
    auto sites = CreateObject<ListPositionAllocator>();
    for (const auto& p : area_.servers) sites->Add(p);
    MobilityHelper fixed;
    fixed.SetPositionAllocator(sites);
    fixed.SetMobilityModel("ns3::ConstantPositionMobilityModel");
    fixed.Install(servers_);

    users_.Create(K_);
    MobilityHelper walk;
    auto x = uniform(), y = uniform();
    x->SetAttribute("Max", DoubleValue(area_.width));
    y->SetAttribute("Max", DoubleValue(area_.height));
    auto start = CreateObject<RandomRectanglePositionAllocator>();
    start->SetX(x);
    start->SetY(y);
    walk.SetPositionAllocator(start);
    std::ostringstream speed;
    speed << "ns3::ConstantRandomVariable[Constant=" << std::setprecision(17) << o.speed << "]";
    walk.SetMobilityModel("ns3::RandomWalk2dMobilityModel", "Bounds",
                          RectangleValue(Rectangle(0, area_.width, 0, area_.height)), "Mode", StringValue("Time"),
                          "Time", TimeValue(Seconds(10.0)), "Speed", StringValue(speed.str()));
    walk.Install(users_);
    stream += walk.AssignStreams(users_, stream);

    // per user: a latency limit U[low, high] s, a random ranking of the models, Zipf(zipf) over it
    auto limit = uniform(), pick = uniform();
    std::vector<double> zipf(I_);
    double total = 0.0;
    for (std::size_t r = 0; r < I_; ++r) total += zipf[r] = 1.0 / std::pow(static_cast<double>(r + 1), o.zipf);
    popularity_.assign(K_ * I_, 0.0);
    cdf_.assign(K_ * I_, 0.0);
    for (std::size_t k = 0; k < K_; ++k) {
      limit_.push_back(limit->GetValue(o.limit_low, o.limit_high));
      std::vector<std::size_t> rank(I_);
      for (std::size_t i = 0; i < I_; ++i) rank[i] = i;
      for (std::size_t i = I_; i > 1; --i)  // Fisher-Yates
        std::swap(rank[i - 1], rank[pick->GetInteger(0, static_cast<uint32_t>(i - 1))]);
      for (std::size_t r = 0; r < I_; ++r) popularity_[k * I_ + rank[r]] = o.rate * zipf[r] / total;
      rank_.push_back(std::move(rank));
    }
    for (std::size_t k = 0; k < K_; ++k) {  // the CDF over ranks, for inverse-transform sampling
      double acc = 0.0;
      for (std::size_t r = 0; r < I_; ++r) cdf_[k * I_ + r] = acc += zipf[r] / total;
    }
    // Refuse a bad instance before simulating (trimcore names the field: capacity, block_sizes, ...).
    trimcore::PlacementProblem::from_max_size(lib_.block_sizes, lib_.model_blocks, std::vector<double>(M_, o.capacity),
                                              popularity_, std::vector<double>(M_ * K_, 0.0));
    choose_ = uniform();
    arrival_ = CreateObject<ExponentialRandomVariable>();
    arrival_->SetStream(stream++);
    arrival_->SetAttribute("Mean", DoubleValue(1.0 / o.rate));

    const auto horizon = static_cast<std::int64_t>(std::ceil(o.epochs * o.epoch_s / o.slot_s)) + 1;
    cache_in_ = cache_inputs(lib_, M_, o.gpu_memory, o.nu, horizon);
    online::Flags flags;
    flags.policy = policy_kind(o.policy);
    flags.allow_substitution = false;
    flags.rng_seed = o.seed;  // the random policy's victims
    cache_ = std::make_unique<online::Cache>(cache_in_->inst, flags);

    if (!o.export_dir.empty()) {
      std::filesystem::create_directories(o.export_dir);
      trace_.open(std::filesystem::path(o.export_dir) / "requests.csv");
      if (!trace_) throw std::runtime_error("export: cannot write requests.csv in " + o.export_dir);
      trace_ << "epoch,time_s,user,user_x,user_y,model,server,slot,delivery_hit,outcome,served_by\n";
      trace_ << std::setprecision(17);
    }
  }

  void Run() {
    std::cout << "# trimcore on ns-3: " << M_ << " servers, " << K_ << " users, " << I_ << " models ("
              << lib_.block_sizes.size() << " blocks), seed " << o_.seed << ", " << o_.epochs << " epochs of "
              << o_.epoch_s << " s\n";
    std::cout << "epoch  time_s  requests  delivery_hit  gpu_hit  planned_hit  kept  pairs\n";
    for (std::uint32_t e = 0; e < o_.epochs; ++e)
      Simulator::Schedule(Seconds(e * o_.epoch_s), &Scenario::Epoch, this, e);
    for (std::size_t k = 0; k < K_; ++k) NextRequest(k);
    Simulator::Schedule(Seconds(o_.epochs * o_.epoch_s), &Scenario::Report, this);
    Simulator::Stop(Seconds(o_.epochs * o_.epoch_s));
    Simulator::Run();
    Simulator::Destroy();
    if (trace_.is_open() && !trace_.flush()) throw std::runtime_error("export: cannot write requests.csv");
    std::cout << std::fixed << std::setprecision(4) << "total  requests " << all_.requests << "  delivery_hit "
              << all_.ratio(all_.delivered) << "  gpu_hit " << all_.ratio(all_.gpu_hits) << "\n";
  }

 private:
  struct Tally {
    std::uint64_t requests = 0, delivered = 0, gpu_hits = 0;
    double ratio(std::uint64_t n) const {
      return requests ? static_cast<double>(n) / static_cast<double>(requests) : 0.0;
    }
  };

  // The options trimcore does not see (it validates the placement and cache instances itself).
  static void Check(const Options& o) {
    auto need = [](bool ok, const char* field, const char* what) {
      if (!ok) throw std::invalid_argument(std::string(field) + ": expected " + what);
    };
    need(o.users >= 1, "users", ">= 1");
    need(o.epochs >= 1, "epochs", ">= 1");
    need(o.rows >= 1 && o.cols >= 1, "rows/cols", ">= 1");
    need(o.bases >= 1 && o.variants >= 1, "bases/variants", ">= 1");
    need(std::isfinite(o.width) && o.width > 0 && std::isfinite(o.height) && o.height > 0, "width/height",
         "finite values > 0");
    need(std::isfinite(o.epoch_s) && o.epoch_s > 0, "epochLength", "a finite number > 0");
    need(std::isfinite(o.rate) && o.rate > 0, "rate", "a finite number > 0");
    need(std::isfinite(o.slot_s) && o.slot_s > 0, "slot", "a finite number > 0");
    need(std::isfinite(o.speed) && o.speed >= 0, "speed", "a finite number >= 0");
    need(std::isfinite(o.zipf) && o.zipf >= 0, "zipf", "a finite number >= 0");
    need(o.limit_low >= 0 && o.limit_low <= o.limit_high && std::isfinite(o.limit_high), "limitLow/limitHigh",
         "0 <= limitLow <= limitHigh, finite");
    need(o.nu >= 0 && o.nu <= 1, "nu", "a number in [0, 1]");
    need(o.epochs * o.epoch_s / o.slot_s < 1e9, "slot", "at most 1e9 slots over the run");
  }

  // Inside the box: ns-3's walk may leave it by a rounding error at a rebound (Topology refuses that).
  Vector UserPosition(std::size_t k) const {
    Vector p = users_.Get(static_cast<std::uint32_t>(k))->GetObject<MobilityModel>()->GetPosition();
    p.x = std::clamp(p.x, 0.0, area_.width);
    p.y = std::clamp(p.y, 0.0, area_.height);
    return p;
  }

  double MaxSize(std::size_t m, std::size_t k, const Vector& user) const {
    return deliverable_size(downlink_rate(radio_, distance(area_.servers[m], user)), limit_[k]);
  }

  void Epoch(std::uint32_t e) {
    if (e > 0) Report();
    epoch_ = e;
    std::vector<Vector> pos(K_);
    for (std::size_t k = 0; k < K_; ++k) pos[k] = UserPosition(k);
    std::vector<double> max_size(M_ * K_);
    for (std::size_t m = 0; m < M_; ++m)
      for (std::size_t k = 0; k < K_; ++k) max_size[m * K_ + k] = MaxSize(m, k, pos[k]);
    const auto problem = trimcore::PlacementProblem::from_max_size(
        lib_.block_sizes, lib_.model_blocks, std::vector<double>(M_, o_.capacity), popularity_, max_size);
    trimcore::GenOptions options;
    options.warm_start = placement_;  // empty at epoch 0: a cold start
    const trimcore::GenResult result = trimcore::trimcaching_gen(problem, options);
    if (!o_.export_dir.empty()) Export(e, pos, max_size, result);
    placement_ = result.placement;
    size_.resize(I_);
    for (std::size_t i = 0; i < I_; ++i) size_[i] = problem.model_size(static_cast<std::int64_t>(i));
    planned_ = result.hit_ratio;
    kept_ = result.kept;
    now_ = Tally{};
  }

  void Report() {
    std::int64_t pairs = 0;
    for (const auto v : placement_) pairs += v;
    std::cout << std::fixed << std::setprecision(4) << std::setw(5) << epoch_ << std::setw(8) << std::setprecision(0)
              << epoch_ * o_.epoch_s << std::setw(10) << now_.requests << std::setprecision(4) << std::setw(14)
              << now_.ratio(now_.delivered) << std::setw(9) << now_.ratio(now_.gpu_hits) << std::setw(13) << planned_
              << std::setw(6) << kept_ << std::setw(7) << pairs << "\n";
  }

  void NextRequest(std::size_t k) {
    Simulator::Schedule(Seconds(arrival_->GetValue()), &Scenario::Request, this, k);
  }

  void Request(std::size_t k) {
    const double t = Simulator::Now().GetSeconds();
    NextRequest(k);
    const double u = choose_->GetValue();
    const double* cdf = &cdf_[k * I_];
    const auto r = static_cast<std::size_t>(std::upper_bound(cdf, cdf + I_ - 1, u) - cdf);
    const std::size_t i = rank_[k][r];
    const Vector pos = UserPosition(k);
    // a delivery hit: some server holding the model reaches the user in time (radio at request time)
    bool delivered = false;
    std::size_t nearest = 0;
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t m = 0; m < M_; ++m) {
      if (!delivered && placement_[m * I_ + i] && size_[i] <= MaxSize(m, k, pos)) delivered = true;
      const double d = distance(area_.servers[m], pos);
      if (d < best) best = d, nearest = m;  // lowest index on ties
    }
    online::Request rq;
    rq.slot = static_cast<std::int64_t>(std::floor(t / o_.slot_s));
    rq.server = static_cast<std::int64_t>(nearest);
    rq.model = rq.task = static_cast<std::int64_t>(i);
    rq.tokens_in = rq.tokens_out = kTokens;
    const online::Decision d = cache_->on_request(rq);
    const bool gpu_hit = d.outcome == online::Outcome::Hit;
    for (Tally* tally : {&now_, &all_}) {
      ++tally->requests;
      tally->delivered += delivered;
      tally->gpu_hits += gpu_hit;
    }
    if (trace_.is_open())
      trace_ << epoch_ << ',' << t << ',' << k << ',' << pos.x << ',' << pos.y << ',' << i << ',' << nearest << ','
             << rq.slot << ',' << int(delivered) << ',' << outcome_name(d.outcome) << ',' << d.served_by << '\n';
  }

  void Export(std::uint32_t e, const std::vector<Vector>& pos, const std::vector<double>& max_size,
              const trimcore::GenResult& result) const {
    char name[32];
    std::snprintf(name, sizeof name, "epoch_%03u.json", e);
    const auto path = std::filesystem::path(o_.export_dir) / name;
    std::ofstream out(path);
    out << std::setprecision(17);  // every double round-trips
    std::vector<double> sx, sy, ux, uy;
    for (const auto& p : area_.servers) sx.push_back(p.x), sy.push_back(p.y);
    for (const auto& p : pos) ux.push_back(p.x), uy.push_back(p.y);
    out << "{\"epoch\":" << e << ",\"time_s\":" << e * o_.epoch_s << ",\"n_servers\":" << M_ << ",\"n_users\":" << K_
        << ",\"n_models\":" << I_ << ",\"width\":" << area_.width << ",\"height\":" << area_.height;
    out << ",\"radio\":{\"bandwidth_hz\":" << radio_.bandwidth_hz << ",\"tx_power_dbm\":" << radio_.tx_power_dbm
        << ",\"noise_dbm_per_hz\":" << radio_.noise_dbm_per_hz << ",\"min_distance_m\":" << radio_.min_distance_m
        << "}";
    out << ",\"block_sizes\":";
    json_list(out, lib_.block_sizes);
    out << ",\"model_blocks\":[";
    for (std::size_t i = 0; i < I_; ++i) {
      out << (i ? "," : "");
      json_list(out, lib_.model_blocks[i]);
    }
    out << "],\"capacity\":";
    json_list(out, std::vector<double>(M_, o_.capacity));
    out << ",\"policy\":\"" << o_.policy << "\",\"rng_seed\":" << o_.seed;
    out << ",\"gpu_memory\":" << o_.gpu_memory << ",\"nu\":" << o_.nu << ",\"slot_s\":" << o_.slot_s;
    out << ",\"popularity\":";
    json_list(out, popularity_);
    out << ",\"latency_limit_s\":";
    json_list(out, limit_);
    out << ",\"server_x\":";
    json_list(out, sx);
    out << ",\"server_y\":";
    json_list(out, sy);
    out << ",\"user_x\":";
    json_list(out, ux);
    out << ",\"user_y\":";
    json_list(out, uy);
    out << ",\"max_size\":";
    json_list(out, max_size);
    out << ",\"warm_start\":";
    json_list(out, placement_);
    out << ",\"placement\":";
    json_list(out, result.placement);
    out << ",\"hit_weight\":" << result.hit_weight << ",\"hit_ratio\":" << result.hit_ratio
        << ",\"kept\":" << result.kept << ",\"chosen_rule\":\""
        << (result.chosen_rule == trimcore::GenRule::gain ? "gain" : "ratio") << "\"}\n";
    out.flush();
    if (!out) throw std::runtime_error("export: cannot write " + path.string());
  }

  Options o_;
  Radio radio_;
  Area area_;
  Library lib_;
  std::size_t M_ = 0, K_ = 0, I_ = 0;
  NodeContainer servers_, users_;
  std::vector<double> limit_, popularity_, cdf_, size_;
  std::vector<std::vector<std::size_t>> rank_;
  Ptr<UniformRandomVariable> choose_;
  Ptr<ExponentialRandomVariable> arrival_;
  std::unique_ptr<CacheInputs> cache_in_;  // declared before cache_: the cache views its arrays
  std::unique_ptr<online::Cache> cache_;
  std::vector<std::uint8_t> placement_;    // the current epoch's placement [M * I]
  std::uint32_t epoch_ = 0;
  double planned_ = 0.0;
  std::int64_t kept_ = 0;
  Tally now_, all_;
  std::ofstream trace_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CommandLine cmd(__FILE__);
  cmd.Usage("Edge servers (ns-3 nodes) place shared-block models with trimcore's Gen every epoch while users "
            "random-walk; prints the hit ratio per epoch.");
  cmd.AddValue("seed", "ns-3 run number (RngSeedManager::SetRun): the replication", o.seed);
  cmd.AddValue("epochs", "number of placement epochs", o.epochs);
  cmd.AddValue("epochLength", "epoch length in s", o.epoch_s);
  cmd.AddValue("users", "number of users", o.users);
  cmd.AddValue("rows", "server grid rows (without --sites)", o.rows);
  cmd.AddValue("cols", "server grid columns (without --sites)", o.cols);
  cmd.AddValue("width", "area width in m (without --sites)", o.width);
  cmd.AddValue("height", "area height in m (without --sites)", o.height);
  cmd.AddValue("sites", "server site file: 'width height', then 'x y' per server (metres)", o.sites);
  cmd.AddValue("library", "model library file: block sizes, then block ids per model (one line each)", o.library);
  cmd.AddValue("bases", "base models of the synthetic library (without --library)", o.bases);
  cmd.AddValue("variants", "fine-tuned variants per base (without --library)", o.variants);
  cmd.AddValue("speed", "user speed in m/s", o.speed);
  cmd.AddValue("rate", "requests per user per s (Poisson)", o.rate);
  cmd.AddValue("zipf", "Zipf exponent of each user's model ranking", o.zipf);
  cmd.AddValue("limitLow", "lowest latency limit in s", o.limit_low);
  cmd.AddValue("limitHigh", "highest latency limit in s", o.limit_high);
  cmd.AddValue("capacity", "storage per server in bytes (placement)", o.capacity);
  cmd.AddValue("gpuMemory", "GPU memory per server in bytes (online cache)", o.gpu_memory);
  cmd.AddValue("policy", "GPU cache policy: lc, lru, lfu, fifo, random or cloud", o.policy);
  cmd.AddValue("slot", "online-cache slot length in s", o.slot_s);
  cmd.AddValue("nu", "vanishing factor of in-context examples per slot", o.nu);
  cmd.AddValue("export", "directory for each epoch's instance and placement (JSON) and the trace (CSV)",
               o.export_dir);
  cmd.Parse(argc, argv);
  try {
    if (o.seed == 0) throw std::invalid_argument("seed: expected >= 1 (an ns-3 run number)");
    Scenario scenario(o);
    scenario.Run();
  } catch (const std::invalid_argument& e) {  // trimcore's defects derive from it and name the field
    std::cerr << "edge_placement: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {  // e.g. an export directory that cannot be written
    std::cerr << "edge_placement: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
