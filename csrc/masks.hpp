// Packed mask store: one bit per (group, row), little bit order within a byte.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fixntk {

using idx_t = std::ptrdiff_t;

struct PackedMasks {
  const std::uint8_t* bits;  // (p, nbytes), group-major
  idx_t p;
  idx_t n;
  idx_t nbytes;

  const std::uint8_t* row(idx_t i) const { return bits + i * nbytes; }

  // Calls f(k) for every row k in mask i, in increasing order.
  template <class F>
  void for_each_row(idx_t i, F&& f) const {
    const std::uint8_t* b = row(i);
    for (idx_t byte = 0; byte < nbytes; ++byte) {
      unsigned v = b[byte];
      while (v) {
        const int t = __builtin_ctz(v);
        f(byte * 8 + t);
        v &= v - 1;
      }
    }
  }

  void indices(idx_t i, std::vector<std::int32_t>& out) const {
    out.clear();
    for_each_row(i, [&](idx_t k) { out.push_back(static_cast<std::int32_t>(k)); });
  }
};

}  // namespace fixntk
