// Block sets as 64-bit words: union, difference, weighted popcount.
//
// Block j of a set lives in bit (j % 64) of word (j / 64). Sets of one library all have the
// same number of words; bits past the last block are zero.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "trimcore/portable.hpp"
#include "trimcore/array_view.hpp"

namespace trimcore {

using Word = std::uint64_t;

// Sum of weights[j] over the set bits j of `words`, in increasing j.
inline double weighted_popcount(const Word* words, std::size_t n_words, const double* weights) {
  double total = 0.0;
  for (std::size_t w = 0; w < n_words; ++w) {
    Word bits = words[w];
    while (bits) {
      const int b = ctz64(bits);
      total += weights[w * 64 + static_cast<std::size_t>(b)];
      bits &= bits - 1;
    }
  }
  return total;
}

// Sum of weights over the bits set in `add` but not in `have` (the incremental size of adding
// a model's blocks to a server that already stores `have`).
inline double weighted_difference(const Word* add, const Word* have, std::size_t n_words,
                                  const double* weights) {
  double total = 0.0;
  for (std::size_t w = 0; w < n_words; ++w) {
    Word bits = add[w] & ~have[w];
    while (bits) {
      const int b = ctz64(bits);
      total += weights[w * 64 + static_cast<std::size_t>(b)];
      bits &= bits - 1;
    }
  }
  return total;
}

// First defect of per-model bitsets over n_blocks blocks: the wrong number of words, or a bit past
// the last block (weighted_popcount would read block_sizes out of bounds). ok(): none.
struct BitsDefect {
  bool wrong_width = false;
  std::int64_t model = -1;  // the model with a bit past the last block
  bool ok() const { return !wrong_width && model < 0; }
};

inline BitsDefect check_model_bits(View2<const Word> bits, std::size_t n_blocks) {
  BitsDefect defect;
  if (bits.cols != (n_blocks + 63) / 64) {
    defect.wrong_width = true;
    return defect;
  }
  const std::size_t tail = n_blocks % 64;
  if (tail == 0 || bits.cols == 0) return defect;
  const Word mask = ~((Word{1} << tail) - 1);
  for (std::size_t i = 0; i < bits.rows; ++i)
    if (bits(i, bits.cols - 1) & mask) {
      defect.model = static_cast<std::int64_t>(i);
      return defect;
    }
  return defect;
}

inline void union_into(Word* dst, const Word* src, std::size_t n_words) {
  for (std::size_t w = 0; w < n_words; ++w) dst[w] |= src[w];
}

// True when every bit of `a` is also set in `b`.
inline bool is_subset(const Word* a, const Word* b, std::size_t n_words) {
  for (std::size_t w = 0; w < n_words; ++w)
    if (a[w] & ~b[w]) return false;
  return true;
}

// Storage used per server: size of the union of the blocks of the models placed on it.
// placement: bool[M, I]; model_bits: Word[I, n_words]; block_sizes: double[n_words * 64 or more
// valid entries for the set bits]; out: double[M].
inline void storage_used(View2<const std::uint8_t> placement, View2<const Word> model_bits,
                         const double* block_sizes, View<double> out) {
  std::vector<Word> acc(model_bits.cols);
  for (std::size_t m = 0; m < placement.rows; ++m) {
    std::fill(acc.begin(), acc.end(), Word{0});
    const std::uint8_t* row = placement.row(m);
    std::size_t i = 0;
    // placements are sparse: skip eight empty flags at a time
    for (; i + 8 <= placement.cols; i += 8) {
      Word flags;
      std::memcpy(&flags, row + i, sizeof flags);
      if (!flags) continue;
      for (std::size_t t = i; t < i + 8; ++t)
        if (row[t]) union_into(acc.data(), model_bits.row(t), model_bits.cols);
    }
    for (; i < placement.cols; ++i)
      if (row[i]) union_into(acc.data(), model_bits.row(i), model_bits.cols);
    out[m] = weighted_popcount(acc.data(), acc.size(), block_sizes);
  }
}

}  // namespace trimcore
