// Gram blocks of the gated ReLU design over a set of rows, for the covariance mode:
// with z_S(k) = [m_i(k) x_k]_{i in S} the row of the design restricted to the groups S
// and row weights w_k >= 0 (all ones when absent),
//   C = sum_k w_k z_old(k) z_new(k)^T     (|old| d x |new| d)
//   S = sum_k w_k z_new(k) z_new(k)^T     (|new| d x |new| d, symmetric)
// the new rows and columns of a working set's Gram when the groups `fresh` join the
// groups `old` whose Gram is already known (unnormalised sums: a caller adds them up over
// row chunks and divides once). Formed by BLAS on the rows gathered kGramRows at a time,
// each scaled by sqrt(w_k), as the BCD solver's extend_gram does on all rows.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "blas.hpp"
#include "interrupt.hpp"
#include "masks.hpp"

namespace fixntk {

// out ((|old| + |fresh|) d x |fresh| d, row-major) = [C; S] for X (n x d, row-major),
// the packed masks M of its rows and row weights w (n) or nullptr. With `stop`, asked
// before each chunk of rows: false once it fires (out is then not written).
inline bool masked_gram_extend(const double* X, idx_t n, idx_t d, const PackedMasks& M,
                               const std::vector<idx_t>& old, const std::vector<idx_t>& fresh,
                               const double* w, double* out, Interrupt* stop = nullptr) {
  constexpr idx_t kGramRows = 512;
  std::vector<idx_t> groups(old);
  groups.insert(groups.end(), fresh.begin(), fresh.end());
  const idx_t m_old = static_cast<idx_t>(old.size()) * d;
  const idx_t m_new = static_cast<idx_t>(fresh.size()) * d;
  const idx_t m_all = m_old + m_new;
  std::vector<double> C(m_old * m_new, 0.0), S(m_new * m_new, 0.0);
  std::vector<double> Z(kGramRows * std::max<idx_t>(m_all, 1));
  for (idx_t k0 = 0; k0 < n && m_new > 0; k0 += kGramRows) {
    if (stop != nullptr && (*stop)()) return false;
    const idx_t k1 = std::min(n, k0 + kGramRows), rows = k1 - k0;
    for (idx_t r = 0; r < rows; ++r) {
      const idx_t row = k0 + r;
      const double f = w != nullptr ? std::sqrt(w[row]) : 1.0;
      const double* xk = X + row * d;
      double* z = Z.data() + r * m_all;
      for (std::size_t t = 0; t < groups.size(); ++t) {
        const std::uint8_t* bits = M.row(groups[t]);
        double* zt = z + static_cast<idx_t>(t) * d;
        if (f != 0.0 && ((bits[row >> 3] >> (row & 7)) & 1u)) {
          for (idx_t j = 0; j < d; ++j) zt[j] = f * xk[j];
        } else {
          std::fill(zt, zt + d, 0.0);
        }
      }
    }
    const int im_all = static_cast<int>(m_all), im_new = static_cast<int>(m_new);
    const int irows = static_cast<int>(rows);
    if (m_old > 0)
      gemm_tn(static_cast<int>(m_old), im_new, irows, 1.0, Z.data(), im_all, Z.data() + m_old,
              im_all, 1.0, C.data(), im_new);
    syrk_t(im_new, irows, 1.0, Z.data() + m_old, im_all, 1.0, S.data(), im_new);
  }
  std::copy(C.begin(), C.end(), out);
  // dsyrk filled the column-major upper triangle = the row-major lower one (u >= a)
  double* So = out + m_old * m_new;
  for (idx_t u = 0; u < m_new; ++u)
    for (idx_t a = 0; a <= u; ++a) So[u * m_new + a] = So[a * m_new + u] = S[u * m_new + a];
  return true;
}

}  // namespace fixntk
