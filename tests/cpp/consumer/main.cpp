// A simulator's first use of the core: union-of-blocks storage of a placement and a knapsack,
// with the core's own input checks. Prints one line the test compares with the Python API.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "trimcore/bitset.hpp"
#include "trimcore/knapsack.hpp"

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
  std::printf("storage %g %g knapsack", used[0], used[1]);
  for (auto i : chosen) std::printf(" %lld", static_cast<long long>(i));
  std::printf(" refused %d\n", defect.ok() ? 0 : 1);
  return 0;
}
