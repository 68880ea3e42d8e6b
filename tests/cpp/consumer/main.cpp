// A simulator's first use of the core: union-of-blocks storage of a placement and a knapsack,
// with the core's own input checks, then the one-line placement API (a validated problem and
// TrimCaching Gen). Prints one line the test compares with the Python API.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "trimcore/bitset.hpp"
#include "trimcore/knapsack.hpp"
#include "trimcore/placement.hpp"

int main() {
  // three models over four blocks: 0 = {0, 1}, 1 = {0, 2}, 2 = {3}; block sizes 4, 1, 2, 8
  const std::vector<trimcore::Word> bits = {0b0011, 0b0101, 0b1000};
  const double sizes[] = {4.0, 1.0, 2.0, 8.0};
  const std::vector<std::uint8_t> placement = {1, 1, 0, 0, 1, 1};  // 2 servers x 3 models
  std::vector<double> used(2);
  trimcore::storage_used({placement.data(), 2, 3}, {bits.data(), 3, 1}, sizes, {used.data(), 2});

  const double values[] = {60, 100, 120}, weights[] = {10, 20, 30};
  trimcore::KnapsackDefect defect;
  const auto chosen = trimcore::knapsack_fptas(values, weights, 3, 50.0, 0.1, &defect);
  if (!defect.ok()) {
    std::fprintf(stderr, "knapsack refused: %s\n", trimcore::describe(defect).c_str());
    return 1;
  }
  // a bad input is refused with a defect naming the field, never undefined behaviour
  const double bad[] = {1.0, -1.0};
  trimcore::knapsack_fptas(bad, weights, 2, 50.0, 0.1, &defect);
  // the same library on 2 servers of 7 and 8 bytes, 2 users; server m reaches user k with models up to
  // max_size[m * 2 + k] bytes
  const auto problem = trimcore::PlacementProblem::from_max_size(
      {4.0, 1.0, 2.0, 8.0}, {{0, 1}, {0, 2}, {3}}, {7.0, 8.0}, {0.5, 0.2, 0.1, 0.1, 0.3, 0.4}, {6.0, 5.0, 0.0, 8.0});
  const trimcore::GenResult gen = trimcore::trimcaching_gen(problem);  // best of both rules, lazy
  int refused = 0;
  try {
    trimcore::PlacementProblem::from_max_size({4.0}, {{0}}, {-1.0}, {1.0}, {1.0});
  } catch (const trimcore::InstanceDefect&) {
    refused = 1;  // "capacity: expected finite values >= 0, got -1 at server 0"
  }
  std::printf("storage %g %g knapsack", used[0], used[1]);
  for (auto i : chosen) std::printf(" %lld", static_cast<long long>(i));
  std::printf(" refused %d gen", defect.ok() ? 0 : 1);
  for (const auto flag : gen.placement) std::printf("%d", flag);
  std::printf(" %s %.17g refused %d\n", gen.chosen_rule == trimcore::GenRule::gain ? "gain" : "ratio", gen.hit_ratio,
              refused);
  return 0;
}
