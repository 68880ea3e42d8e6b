// Non-owning views of contiguous arrays (C++17 has no std::span).
#pragma once
#include <cstddef>
#include <cstdint>

namespace trimcore {

template <class T>
struct View {
  T* data = nullptr;
  std::size_t size = 0;
  T& operator[](std::size_t i) const { return data[i]; }
  T* begin() const { return data; }
  T* end() const { return data + size; }
};

// Row-major 2-D view.
template <class T>
struct View2 {
  T* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
  T& operator()(std::size_t r, std::size_t c) const { return data[r * cols + c]; }
  T* row(std::size_t r) const { return data + r * cols; }
};

}  // namespace trimcore
