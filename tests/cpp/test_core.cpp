// Unit tests of the C++ core, one suite per argument (run by ctest, under ASan + UBSan in CI).
// Every precondition check is driven with the inputs that used to reach undefined behaviour.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "trimcore/bitset.hpp"
#include "trimcore/coverage.hpp"
#include "trimcore/greedy.hpp"
#include "trimcore/knapsack.hpp"
#include "trimcore/max_coverage.hpp"

namespace {


using Ids = std::vector<std::int64_t>;
using trimcore::KnapsackDefect;
using trimcore::KnapsackField;

void knapsack() {
  {  // the textbook instance: the optimum {1, 2} is within any eps
    const double v[] = {60, 100, 120}, w[] = {10, 20, 30};
    KnapsackDefect d;
    CHECK((trimcore::knapsack_fptas(v, w, 3, 50.0, 0.1, &d) == Ids{1, 2}) && d.ok());
    const std::int64_t wi[] = {10, 20, 30};
    CHECK((trimcore::knapsack_grid(v, wi, 3, 50, &d) == Ids{1, 2}) && d.ok());
  }
  {  // denormal values: mu = eps * v_max / n underflowed to 0 and inf was cast to int64
    const double v[] = {5e-324, 5e-324}, w[] = {1, 1};
    KnapsackDefect d;
    CHECK(trimcore::knapsack_fptas(v, w, 2, 1.0, 0.5, &d).size() == 1 && d.ok());
    const double mixed[] = {5e-324, 1e-310, 2e-320};
    const double w3[] = {1, 1, 1};
    CHECK((trimcore::knapsack_fptas(mixed, w3, 3, 1.0, 0.5, &d) == Ids{1}) && d.ok());
    const double huge[] = {1e308, 1.7e308};
    CHECK((trimcore::knapsack_fptas(huge, w, 2, 1.0, 0.5, &d) == Ids{1}) && d.ok());
  }
  {  // all-zero values: 0 / 0 cast to an index (a heap overflow under ASan)
    const double v[] = {0, 0}, w[] = {1, 1};
    KnapsackDefect d;
    CHECK(trimcore::knapsack_fptas(v, w, 2, 1.0, 0.5, &d).empty());
    CHECK(d.field == KnapsackField::Values && d.item == 0);
    CHECK(trimcore::describe(d).find("values") == 0);
    bool thrown = false;
    try {
      trimcore::knapsack_fptas(v, w, 2, 1.0, 0.5);  // no defect slot: a C++ caller gets an exception
    } catch (const std::invalid_argument& e) {
      thrown = std::string(e.what()).find("values") == 0;
    }
    CHECK(thrown);
  }
  {
    const double v[] = {1, 2}, w[] = {1, -1}, nan = std::nan("");
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(trimcore::check_knapsack_fptas(v, w, 2, 1.0, 0.5).field == KnapsackField::Weights);
    CHECK(trimcore::check_knapsack_fptas(v, w, 2, 1.0, 0.5).item == 1);
    const double ok_w[] = {1, 1}, nan_v[] = {1, nan};
    CHECK(trimcore::check_knapsack_fptas(nan_v, ok_w, 2, 1.0, 0.5).field == KnapsackField::Values);
    CHECK(trimcore::check_knapsack_fptas(v, ok_w, 2, inf, 0.5).field == KnapsackField::Capacity);
    CHECK(trimcore::check_knapsack_fptas(v, ok_w, 2, 1.0, 0.0).field == KnapsackField::Eps);
    CHECK(trimcore::check_knapsack_fptas(v, ok_w, 2, 1.0, 1.0).field == KnapsackField::Eps);
    CHECK(trimcore::check_knapsack_fptas(v, ok_w, 2, 1.0, nan).field == KnapsackField::Eps);
    // n / eps beyond int64 and a table whose row of doubles alone is 8 GB: refused before allocating
    CHECK(trimcore::check_knapsack_fptas(v, ok_w, 2, 1.0, 1e-300).field == KnapsackField::Table);
    CHECK(trimcore::check_knapsack_fptas(v, ok_w, 1, 1.0, 1e-9).field == KnapsackField::Table);
    CHECK(trimcore::knapsack_fptas(v, ok_w, 0, 1.0, 0.5).empty());
    CHECK(trimcore::knapsack_fptas(v, ok_w, 2, -1.0, 0.5).empty());  // nothing fits a negative capacity
  }
  {
    const double v[] = {1, 1};
    const std::int64_t w[] = {1, 4}, neg[] = {1, -1};
    KnapsackDefect d;
    CHECK(trimcore::knapsack_grid(v, w, 2, 3, &d).empty() && d.field == KnapsackField::Weights && d.item == 1);
    CHECK(trimcore::check_knapsack_grid(v, neg, 2, 3).field == KnapsackField::Weights);
    CHECK(trimcore::check_knapsack_grid(v, w, 2, -1).field == KnapsackField::Capacity);
    CHECK(trimcore::check_knapsack_grid(v, w, 2, std::numeric_limits<std::int64_t>::max()).field ==
          KnapsackField::Table);
  }
}

trimcore::PairCoverage view(const std::vector<std::int64_t>& ptr, const std::vector<std::int64_t>& len,
                            const std::vector<std::int32_t>& users, std::size_t m, std::size_t k, std::size_t i) {
  return trimcore::PairCoverage::of(m, k, i, ptr, len, users);
}

void coverage() {
  using Field = trimcore::CoverageDefect::Field;
  const std::vector<std::int32_t> users = {0, 1, 2, 0, 1, 2};
  {  // two servers, one model, three users; server 1 lists user 2 only
    const std::vector<std::int64_t> ptr = {0, 5}, len = {2, 1};
    const auto cov = view(ptr, len, users, 2, 3, 1);
    CHECK(trimcore::check_pair_coverage(cov).ok());
    const std::uint8_t place[] = {1, 1};
    const double weight[] = {1.0, 2.0, 4.0};
    CHECK(trimcore::hit_weight({place, 2, 1}, cov, {weight, 1, 3}) == 7.0);
    const std::uint8_t one[] = {0, 1};
    CHECK(trimcore::hit_weight({one, 2, 1}, cov, {weight, 1, 3}) == 4.0);
    // gains skip covered requests; all servers in one pass equal the per-server calls
    const std::uint8_t covered[] = {0, 1, 0};
    double gains[2] = {-1, -1}, each = -1;
    trimcore::all_server_gains(cov, {weight, 1, 3}, covered, gains);
    CHECK(gains[0] == 1.0 && gains[1] == 4.0);
    trimcore::server_gains(cov, 1, {weight, 1, 3}, covered, &each);
    CHECK(each == gains[1]);
    // factored demand: users 0 and 2 in group 1 (weight 2), user 1 in group 0 (weight 0.5), rates 0.5, 4, 2
    const double by_group[] = {0.5, 2.0};
    const std::int32_t group[] = {1, 0, 1};
    const double rate[] = {0.5, 4.0, 2.0};  // p = 1, 2, 4: the dense weights above
    const trimcore::DemandView factored{by_group, 2, group, rate};
    CHECK(trimcore::hit_weight({place, 2, 1}, cov, factored) == 7.0);
    double fgains[2] = {-1, -1};
    trimcore::all_server_gains(cov, factored, covered, fgains);
    CHECK(fgains[0] == gains[0] && fgains[1] == gains[1]);
    const std::uint8_t only0[] = {1, 0};
    trimcore::all_server_gains_placed(cov, factored, {only0, 2, 1}, fgains);
    CHECK(fgains[0] == 0.0 && fgains[1] == 4.0);  // server 0 covers users 0, 1: server 1's user 2 is left
  }
  const std::int64_t big = std::int64_t{1} << 62;
  {  // ptr + len overflows int64: the old `ptr + len > size` test passed it
    const std::vector<std::int64_t> ptr = {0, big}, len = {1, big};
    const auto d = trimcore::check_pair_coverage(view(ptr, len, users, 2, 3, 1));
    CHECK(d.field == Field::Extent && d.index == 1);
  }
  {
    const std::vector<std::int64_t> ptr = {-1, 0}, len = {1, 1};
    CHECK(trimcore::check_pair_coverage(view(ptr, len, users, 2, 3, 1)).field == Field::Extent);
    const std::vector<std::int64_t> ptr2 = {0, 0}, len2 = {1, -1};
    CHECK(trimcore::check_pair_coverage(view(ptr2, len2, users, 2, 3, 1)).field == Field::Extent);
    const std::vector<std::int64_t> ptr3 = {0, 4}, len3 = {1, 3};  // ends one past the list
    CHECK(trimcore::check_pair_coverage(view(ptr3, len3, users, 2, 3, 1)).field == Field::Extent);
    const std::vector<std::int64_t> ptr4 = {0, 0}, len4 = {4, 1};  // longer than there are users
    CHECK(trimcore::check_pair_coverage(view(ptr4, len4, users, 2, 3, 1)).field == Field::Extent);
  }
  {
    const std::vector<std::int32_t> bad = {0, 1, 3};
    const std::vector<std::int64_t> ptr = {0, 0}, len = {3, 1};
    const auto d = trimcore::check_pair_coverage(view(ptr, len, bad, 2, 3, 1));
    CHECK(d.field == Field::User && d.index == 2 && d.value == 3);
    const std::vector<std::int32_t> negative = {0, -1};
    CHECK(trimcore::check_pair_coverage(view(ptr, {2, 1}, negative, 2, 3, 1)).field == Field::User);
  }
}

void bitset() {
  using trimcore::Word;
  const std::vector<Word> bits = {0b011, 0b110};  // 2 models over 3 blocks
  CHECK(trimcore::check_model_bits({bits.data(), 2, 1}, 3).ok());
  CHECK(trimcore::check_model_bits({bits.data(), 2, 1}, 2).model == 1);  // bit 2 past 2 blocks
  CHECK(trimcore::check_model_bits({bits.data(), 1, 2}, 3).wrong_width);
  const double sizes[] = {1.0, 2.0, 4.0};
  const std::uint8_t place[] = {1, 1, 0, 1};
  std::vector<double> out(2);
  trimcore::storage_used({place, 2, 2}, {bits.data(), 2, 1}, sizes, {out.data(), 2});
  CHECK(out[0] == 7.0 && out[1] == 6.0);
}

void csr() {
  const std::int64_t good[] = {0, 2, 2, 3}, down[] = {0, 2, 1, 3}, off[] = {1, 2, 3};
  CHECK(trimcore::check_csr_offsets(good, 4, 3) == -1);
  CHECK(trimcore::check_csr_offsets(down, 4, 3) == 2);
  CHECK(trimcore::check_csr_offsets(off, 3, 3) == 3);
  CHECK(trimcore::check_csr_offsets(good, 4, 4) == 4);
  CHECK(trimcore::check_csr_offsets(good, 0, 0) == 0);
  const std::int32_t ids[] = {0, 1, 1}, twice[] = {0, 0, 1}, outside[] = {0, 1, 7}, negative[] = {0, -3, 1};
  CHECK(trimcore::check_set_csr(3, good, ids, 2).set < 0);
  CHECK(trimcore::check_set_csr(3, good, twice, 2).set == 0);
  const auto d = trimcore::check_set_csr(3, good, outside, 2);
  CHECK(d.set == 2 && d.out_of_range && d.element == 7);
  CHECK(trimcore::check_set_csr(3, good, negative, 2).out_of_range);
}

void max_coverage() {
  // sets {0, 1}, {1, 2}, {3}: budget 2; set 1 first (3.5), then sets 0 and 2 tie at 1: the lower id
  const std::int64_t ptr[] = {0, 2, 4, 5};
  const std::int32_t ids[] = {0, 1, 1, 2, 3};
  const double weights[] = {1.0, 2.0, 1.5, 1.0}, costs[] = {1.0, 1.0, 1.0};
  for (int threads : {1, 2}) {
    trimcore::CsrDefect d;
    const Ids chosen = trimcore::max_coverage_greedy(3, ptr, ids, 4, weights, costs, 2.0, 1e-12, trimcore::Rule::Gain,
                                                     &d, threads);
    CHECK(d.set < 0 && (chosen == Ids{1, 0}));
    std::vector<double> gains(3);
    CHECK(trimcore::coverage_gains(3, ptr, ids, 4, weights, nullptr, gains.data(), threads));
    CHECK(gains[0] == 3.0 && gains[1] == 3.5 && gains[2] == 1.0);
  }
  const std::int32_t bad[] = {0, 1, 1, 9, 3};
  trimcore::CsrDefect d;
  CHECK(trimcore::max_coverage_greedy(3, ptr, bad, 4, weights, costs, 2.0, 1e-12, trimcore::Rule::Gain, &d).empty());
  CHECK(d.set == 1 && d.out_of_range && d.element == 9);
  std::vector<double> gains(3);
  CHECK(!trimcore::coverage_gains(3, ptr, bad, 4, weights, nullptr, gains.data()));
  // offsets a C++ caller got wrong, zero threads, no defect slot: refused, never read out of bounds
  const std::int64_t down[] = {0, 4, 2, 5}, late[] = {1, 2, 4, 5};
  for (const std::int64_t* offsets : {down, late}) {
    CHECK(trimcore::max_coverage_greedy(3, offsets, ids, 4, weights, costs, 2.0, 1e-12, trimcore::Rule::Gain, &d).empty());
    CHECK(d.bad_shape);
    CHECK(!trimcore::coverage_gains(3, offsets, ids, 4, weights, nullptr, gains.data()));
  }
  CHECK(trimcore::max_coverage_greedy(3, ptr, ids, 4, weights, costs, 2.0, 1e-12, trimcore::Rule::Gain, &d, 0).empty());
  CHECK(d.bad_shape);
  bool thrown = false;
  try {
    trimcore::max_coverage_greedy(3, ptr, bad, 4, weights, costs, 2.0, 1e-12, trimcore::Rule::Gain, nullptr);
  } catch (const std::invalid_argument&) {
    thrown = true;
  }
  CHECK(thrown);
  // the numbers are the core's to check too: NaN, inf or negative weights and costs, a bad budget or rtol
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  const double nan_w[] = {1.0, nan, 1.5, 1.0}, neg_c[] = {1.0, -1.0, 1.0}, inf_c[] = {1.0, 1.0, inf};
  CHECK(trimcore::max_coverage_greedy(3, ptr, ids, 4, nan_w, costs, 2.0, 1e-12, trimcore::Rule::Ratio, &d).empty());
  CHECK(d.value == trimcore::CoverageValue::Weights && d.element == 1);
  CHECK(trimcore::describe_value(d).find("weights:") == 0);
  CHECK(trimcore::max_coverage_greedy(3, ptr, ids, 4, weights, neg_c, 2.0, 1e-12, trimcore::Rule::Ratio, &d).empty());
  CHECK(d.value == trimcore::CoverageValue::Costs && d.element == 1);
  CHECK(trimcore::max_coverage_greedy(3, ptr, ids, 4, weights, inf_c, 2.0, 1e-12, trimcore::Rule::Ratio, &d).empty());
  CHECK(d.value == trimcore::CoverageValue::Costs && d.element == 2);
  for (const double budget : {nan, inf, -1.0}) {
    CHECK(trimcore::max_coverage_greedy(3, ptr, ids, 4, weights, costs, budget, 1e-12, trimcore::Rule::Gain, &d).empty());
    CHECK(d.value == trimcore::CoverageValue::Budget);
  }
  for (const double rtol : {nan, -1e-9, 1.0}) {
    CHECK(trimcore::max_coverage_greedy(3, ptr, ids, 4, weights, costs, 2.0, rtol, trimcore::Rule::Gain, &d).empty());
    CHECK(d.value == trimcore::CoverageValue::Rtol);
  }
  CHECK(trimcore::check_coverage_values(weights, 4, costs, 3, 2.0, 1e-12).set < 0);
  thrown = false;
  try {
    trimcore::max_coverage_greedy(3, ptr, ids, 4, nan_w, costs, 2.0, 1e-12, trimcore::Rule::Gain, nullptr);
  } catch (const std::invalid_argument& e) {
    thrown = std::string(e.what()).find("weights") != std::string::npos;
  }
  CHECK(thrown);
}

}  // namespace

int main(int argc, char** argv) {
  const std::map<std::string, std::function<void()>> suites = {
      {"knapsack", knapsack}, {"coverage", coverage}, {"bitset", bitset}, {"csr", csr}, {"max_coverage", max_coverage}};
  if (argc != 2 || !suites.count(argv[1])) {
    std::fprintf(stderr, "usage: %s {knapsack|coverage|bitset|csr|max_coverage}\n", argv[0]);
    return 2;
  }
  suites.at(argv[1])();
  return trimcore_test::report();
}
