// Gram blocks of the gated ReLU design over a set of rows, for the covariance mode:
// with z_S(k) = [m_i(k) x_k]_{i in S} the row of the design restricted to the groups S
// and row weights w_k >= 0 (all ones when absent),
//   C = sum_k w_k z_old(k) z_new(k)^T     (|old| d x |new| d)
//   S = sum_k w_k z_new(k) z_new(k)^T     (|new| d x |new| d, symmetric)
// the new rows and columns of a working set's Gram when the groups `fresh` join the
// groups `old` whose Gram is already known (unnormalised sums: a caller adds them up over
// row chunks and divides once). Formed by BLAS on the rows gathered kGramRows at a time,
// each scaled by sqrt(w_k), as the BCD solver's extend_gram does on all rows; row parts
// fixed by n run on the RowTeam's threads. With centres u_i (d, one per group of
// old + fresh, in that order), the rows are centred first: z_S(k) = [m_i(k) x_k - u_i],
// so that with u_i = sum_k w_k m_i(k) x_k / sum_k w_k the sums are those of the
// intercept's centred design, formed without the cancellation of M - (sum w) u u^T
// (a column at 1e6 with a spread of 1: that difference lost every digit).
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "blas.hpp"
#include "interrupt.hpp"
#include "masked_ops.hpp"
#include "masks.hpp"
#include "row_team.hpp"

namespace fixntk {

// The rows of a part (the parts fixed by n alone: the same sums on any number of
// threads), gathered kGramRows at a time: C += Z_old^T Z_new, S += Z_new^T Z_new (S's
// column-major upper triangle) over rows [k0, k1).
inline bool gram_extend_part(const double* X, idx_t d, const PackedMasks& M,
                             const std::vector<idx_t>& groups, idx_t m_old, idx_t m_new,
                             idx_t k0, idx_t k1, const double* w, const double* centre,
                             double* C, double* S, Interrupt* stop) {
  constexpr idx_t kGramRows = 512;
  const idx_t m_all = m_old + m_new;
  std::vector<double> Z(kGramRows * std::max<idx_t>(m_all, 1));
  for (idx_t r0 = k0; r0 < k1; r0 += kGramRows) {
    if (stop != nullptr && (*stop)()) return false;
    const idx_t rows = std::min(k1, r0 + kGramRows) - r0;
    for (idx_t r = 0; r < rows; ++r) {
      const idx_t row = r0 + r;
      const double f = w != nullptr ? std::sqrt(w[row]) : 1.0;
      const double* xk = X + row * d;
      double* z = Z.data() + r * m_all;
      for (std::size_t t = 0; t < groups.size(); ++t) {
        const std::uint8_t* bits = M.row(groups[t]);
        double* zt = z + static_cast<idx_t>(t) * d;
        const bool on = (bits[row >> 3] >> (row & 7)) & 1u;
        if (f == 0.0) {
          std::fill(zt, zt + d, 0.0);
        } else if (centre != nullptr) {
          const double* ut = centre + static_cast<idx_t>(t) * d;
          for (idx_t j = 0; j < d; ++j) zt[j] = f * ((on ? xk[j] : 0.0) - ut[j]);
        } else if (on) {
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
              im_all, 1.0, C, im_new);
    syrk_t(im_new, irows, 1.0, Z.data() + m_old, im_all, 1.0, S, im_new);
  }
  return true;
}

// out ((|old| + |fresh|) d x |fresh| d, row-major) = [C; S] for X (n x d, row-major),
// the packed masks M of its rows, row weights w (n) or nullptr and the groups' centres
// (|old| + |fresh|, d, row-major) or nullptr. With `stop`, asked
// before each chunk of rows: false once it fires (out is then not written). The rows are
// cut into parts of at least kGramPart rows (at most kGramParts, and fewer where their
// sums would take more than kGramPartBytes), summed apart on the RowTeam's threads and
// added in order.
inline bool masked_gram_extend(const double* X, idx_t n, idx_t d, const PackedMasks& M,
                               const std::vector<idx_t>& old, const std::vector<idx_t>& fresh,
                               const double* w, const double* centre, double* out,
                               Interrupt* stop = nullptr) {
  constexpr idx_t kGramPart = 8192, kGramParts = 16;
  constexpr double kGramPartBytes = 512.0 * (1 << 20);
  std::vector<idx_t> groups(old);
  groups.insert(groups.end(), fresh.begin(), fresh.end());
  const idx_t m_old = static_cast<idx_t>(old.size()) * d;
  const idx_t m_new = static_cast<idx_t>(fresh.size()) * d;
  const idx_t m_all = m_old + m_new;
  if (m_new == 0) return true;
  const idx_t block = m_old * m_new + m_new * m_new;  // one part's C and S
  const double bytes = 8.0 * static_cast<double>(block);
  const idx_t by_memory = std::max<idx_t>(1, static_cast<idx_t>(kGramPartBytes / bytes));
  const int parts = static_cast<int>(std::min<idx_t>({std::max<idx_t>(n / kGramPart, 1),
                                                      kGramParts, by_memory}));
  std::vector<double> sums(static_cast<std::size_t>(parts) * block, 0.0);
  const double work = 0.5 * static_cast<double>(n) * static_cast<double>(m_all) *
                      static_cast<double>(m_new);
  std::atomic<bool> stopped{false};
  RowTeam::instance().run(parts, work >= kParallelWork ? team_helpers(parts) : 0,
                          [&](int part, int) {
    double* C = sums.data() + static_cast<idx_t>(part) * block;
    if (!gram_extend_part(X, d, M, groups, m_old, m_new, n * part / parts,
                          n * (part + 1) / parts, w, centre, C, C + m_old * m_new, stop))
      stopped.store(true);
  });
  if (stopped.load() || (stop != nullptr && stop->raised())) return false;
  for (int part = 1; part < parts; ++part)
    for (idx_t a = 0; a < block; ++a) sums[a] += sums[static_cast<idx_t>(part) * block + a];
  std::copy(sums.begin(), sums.begin() + m_old * m_new, out);
  // dsyrk filled the column-major upper triangle = the row-major lower one (u >= a)
  const double* S = sums.data() + m_old * m_new;
  double* So = out + m_old * m_new;
  for (idx_t u = 0; u < m_new; ++u)
    for (idx_t a = 0; a <= u; ++a) So[u * m_new + a] = So[a * m_new + u] = S[u * m_new + a];
  return true;
}

}  // namespace fixntk
