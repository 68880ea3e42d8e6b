// Compiler intrinsics with portable fallbacks, so the core builds with any C++17 compiler.
// -DTRIMCORE_NO_INTRINSICS forces the fallbacks (the ctest suite runs both).
#pragma once
#include <cstdint>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

namespace trimcore {

// Index of the lowest set bit of a non-zero word.
inline int ctz64(std::uint64_t x) {
#if !defined(TRIMCORE_NO_INTRINSICS) && (defined(__GNUC__) || defined(__clang__))
  return __builtin_ctzll(x);
#elif !defined(TRIMCORE_NO_INTRINSICS) && defined(_MSC_VER) && defined(_M_X64)
  unsigned long index;
  _BitScanForward64(&index, x);
  return static_cast<int>(index);
#else
  int n = 0;
  while (!(x & 1u)) {
    x >>= 1;
    ++n;
  }
  return n;
#endif
}

// A hint that `p` is about to be read (or written); no effect where the compiler has no such hint.
inline void prefetch_read(const void* p) {
#if !defined(TRIMCORE_NO_INTRINSICS) && (defined(__GNUC__) || defined(__clang__))
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}

inline void prefetch_write(const void* p) {
#if !defined(TRIMCORE_NO_INTRINSICS) && (defined(__GNUC__) || defined(__clang__))
  __builtin_prefetch(p, 1);
#else
  (void)p;
#endif
}

}  // namespace trimcore
