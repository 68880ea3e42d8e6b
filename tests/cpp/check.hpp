// The unit tests' check macro: report a failed condition with its place and keep going; main
// returns non-zero when any check failed (see report()).
#pragma once

#include <cstdio>

namespace trimcore_test {

inline int failures = 0;

inline int report() {
  if (failures) std::fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}

}  // namespace trimcore_test

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
      ++trimcore_test::failures;                                                       \
    }                                                                                  \
  } while (0)
