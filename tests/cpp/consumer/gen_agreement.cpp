// Agreement of the C++ TrimCaching Gen with the Python API on instances Python exported (a consumer
// program: it only includes <trimcore/placement.hpp>)
// (tests/gen_export.py writes them, with the Python API's results, as whitespace-separated text):
//
//   gen_agreement FILE...           prints one "run ..." line per run of every file, computed here
//   gen_agreement --check FILE...   also compares with the file's own "run" lines (exit 1 on a difference)
//
// The file:  trimcore-gen 1 / form compact|dense / blocks J sizes... / models I (n ids...)... /
// capacity M c... / popularity K (K*I values) / max_size (M*K) | eligible (M*K*I 0/1) /
// warm (M*I 0/1) / runs R / R x "run rule lazy warm chosen_rule kept hit_ratio placement"
// where placement is M*I characters 0/1; then, optionally, specruns S / S x "spec knapsack eps atomic
// hit_ratio placement" (TrimCaching Spec; atomic = independent caching). Reals are Python reprs
// (strtod reads them exactly).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "trimcore/placement.hpp"
#include "trimcore/spec.hpp"

namespace {

struct Reader {
  std::istream& in;
  std::string word() {
    std::string w;
    if (!(in >> w)) throw std::runtime_error("unexpected end of file");
    return w;
  }
  void expect(const std::string& w) {
    const std::string got = word();
    if (got != w) throw std::runtime_error("expected '" + w + "', got '" + got + "'");
  }
  std::int64_t integer() { return std::stoll(word()); }
  double real() {
    const std::string w = word();
    char* end = nullptr;
    const double v = std::strtod(w.c_str(), &end);
    if (end != w.c_str() + w.size()) throw std::runtime_error("not a number: " + w);
    return v;
  }
  std::vector<double> reals(std::int64_t n) {
    std::vector<double> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = real();
    return v;
  }
  std::vector<std::uint8_t> flags(std::int64_t n) {
    std::vector<std::uint8_t> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = static_cast<std::uint8_t>(integer());
    return v;
  }
};

const char* name(trimcore::GenRule rule) {
  return rule == trimcore::GenRule::ratio ? "ratio" : rule == trimcore::GenRule::gain ? "gain" : "best_of_both";
}

trimcore::GenRule rule_of(const std::string& s) {
  if (s == "ratio") return trimcore::GenRule::ratio;
  if (s == "gain") return trimcore::GenRule::gain;
  if (s == "best_of_both") return trimcore::GenRule::best_of_both;
  throw std::runtime_error("unknown rule " + s);
}

std::string real_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Runs every run of one file; returns the number of runs that differ from the file's (check mode).
int run_file(const std::string& path, bool check) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot open " + path);
  Reader r{file};
  r.expect("trimcore-gen");
  r.expect("1");
  r.expect("form");
  const std::string form = r.word();
  r.expect("blocks");
  const std::vector<double> sizes = r.reals(r.integer());
  r.expect("models");
  std::vector<std::vector<std::int64_t>> models(static_cast<std::size_t>(r.integer()));
  for (auto& m : models) {
    m.resize(static_cast<std::size_t>(r.integer()));
    for (auto& j : m) j = r.integer();
  }
  const auto I = static_cast<std::int64_t>(models.size());
  r.expect("capacity");
  const std::int64_t M = r.integer();
  const std::vector<double> capacity = r.reals(M);
  r.expect("popularity");
  const std::int64_t K = r.integer();
  const std::vector<double> popularity = r.reals(K * I);
  // the one-line API: a validated problem, then the algorithm
  const auto build = [&] {
    if (form == "compact") {
      r.expect("max_size");
      return trimcore::PlacementProblem::from_max_size(sizes, models, capacity, popularity, r.reals(M * K));
    }
    r.expect("eligible");
    return trimcore::PlacementProblem::from_dense(sizes, models, capacity, popularity, r.flags(M * K * I), K);
  };
  const trimcore::PlacementProblem problem = build();
  r.expect("warm");
  const std::vector<std::uint8_t> warm = r.flags(M * I);
  r.expect("runs");
  const std::int64_t runs = r.integer();
  int differ = 0;
  for (std::int64_t t = 0; t < runs; ++t) {
    r.expect("run");
    trimcore::GenOptions options;
    options.rule = rule_of(r.word());
    options.lazy = r.integer() != 0;
    const bool warm_run = r.integer() != 0;
    if (warm_run) options.warm_start = warm;
    const std::string want_rule = r.word();
    const std::int64_t want_kept = r.integer();
    const double want_ratio = r.real();
    const std::string want_x = r.word();
    const trimcore::GenResult got = trimcore::trimcaching_gen(problem, options);
    std::string x(got.placement.size(), '0');
    for (std::size_t p = 0; p < x.size(); ++p) x[p] = got.placement[p] ? '1' : '0';
    std::printf("run %s %d %d %s %lld %s %s\n", name(options.rule), options.lazy ? 1 : 0, warm_run ? 1 : 0,
                name(got.chosen_rule), static_cast<long long>(got.kept), real_text(got.hit_ratio).c_str(), x.c_str());
    if (check && (x != want_x || want_rule != name(got.chosen_rule) || want_kept != got.kept || want_ratio != got.hit_ratio)) {
      std::fprintf(stderr, "%s: run %lld differs from the Python API's\n", path.c_str(), static_cast<long long>(t));
      ++differ;
    }
  }
  // optional: TrimCaching Spec runs, "spec knapsack eps atomic hit_ratio placement" ("refused -" when
  // Python refused the instance, e.g. too many unions of shared blocks)
  std::string more;
  if (!(file >> more)) return differ;
  if (more != "specruns") throw std::runtime_error("expected 'specruns', got '" + more + "'");
  const std::int64_t spec_runs = r.integer();
  for (std::int64_t t = 0; t < spec_runs; ++t) {
    r.expect("spec");
    trimcore::SpecOptions o;
    const std::string method = r.word();
    o.knapsack = method == "fptas" ? trimcore::KnapsackMethod::fptas
                 : method == "grid" ? trimcore::KnapsackMethod::grid
                                    : trimcore::KnapsackMethod::automatic;
    o.eps = r.real();
    o.atomic = r.integer() != 0;
    const std::string want_ratio = r.word(), want_x = r.word();
    std::string got_ratio = "refused", x = "-";
    double ratio = 0.0;
    try {
      const trimcore::SpecResult got = trimcore::trimcaching_spec(problem, o);
      ratio = got.hit_ratio;
      got_ratio = real_text(ratio);
      x.assign(got.placement.size(), '0');
      for (std::size_t p = 0; p < x.size(); ++p) x[p] = got.placement[p] ? '1' : '0';
    } catch (const trimcore::InstanceDefect&) {  // refused, as Python refused it (checked below)
    }
    std::printf("spec %s %s %d %s %s\n", method.c_str(), real_text(o.eps).c_str(), o.atomic ? 1 : 0, got_ratio.c_str(),
                x.c_str());
    const bool same = want_ratio == "refused" ? got_ratio == "refused"
                                              : got_ratio != "refused" && x == want_x && std::strtod(want_ratio.c_str(), nullptr) == ratio;
    if (check && !same) {
      std::fprintf(stderr, "%s: spec run %lld differs from the Python API's\n", path.c_str(), static_cast<long long>(t));
      ++differ;
    }
  }
  return differ;
}

}  // namespace

int main(int argc, char** argv) {
  bool check = false;
  int first = 1;
  if (argc > 1 && std::string(argv[1]) == "--check") {
    check = true;
    first = 2;
  }
  if (first >= argc) {
    std::fprintf(stderr, "usage: %s [--check] FILE...\n", argv[0]);
    return 2;
  }
  int differ = 0;
  for (int a = first; a < argc; ++a) {
    try {
      differ += run_file(argv[a], check);
    } catch (const std::exception& e) {  // InstanceDefect included: a file the core refuses
      std::fprintf(stderr, "%s: %s\n", argv[a], e.what());
      return 1;
    }
  }
  return differ ? 1 : 0;
}
