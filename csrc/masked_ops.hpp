// Masked products of the gated ReLU design, never materialising the n x (p d) matrix:
//   predict:   out = sum_i D_i X W_i                       (n x c)
//   gradients: G_i = X^T D_i R  for every group i          (p x d x c)
//   gram:      Q   = X^T D_i X  over an index list          (d x d)
#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

#include "masks.hpp"
#include "row_kernels.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fixntk {

// out (n x c) = sum over groups in `groups` of D_i X W_i, with W (p x d x c).
inline void masked_predict(const double* X, idx_t n, idx_t d, const PackedMasks& M,
                           const double* W, idx_t c, const std::vector<idx_t>& groups,
                           double* out) {
  std::fill(out, out + n * c, 0.0);
  const idx_t block = 256;
  const idx_t nblocks = (n + block - 1) / block;
#pragma omp parallel
  {
    std::vector<double> xw(c);
#pragma omp for schedule(static)
    for (idx_t b = 0; b < nblocks; ++b) {
      const idx_t k0 = b * block, k1 = std::min(n, k0 + block);
      for (idx_t i : groups) {
        const std::uint8_t* bits = M.row(i);
        const double* Wi = W + i * d * c;
        for (idx_t k = k0; k < k1; ++k) {
          if (!((bits[k >> 3] >> (k & 7)) & 1u)) continue;
          const double* xk = X + k * d;
          double* ok = out + k * c;
          for (idx_t j = 0; j < d; ++j) {
            const double xj = xk[j];
            const double* wr = Wi + j * c;
            for (idx_t l = 0; l < c; ++l) ok[l] += xj * wr[l];
          }
        }
      }
    }
  }
}

// G (p x d x c) = X^T D_i R for all groups (unscaled). Rows are taken in chunks that stay
// in cache while every group of the thread's share reads them, so X streams from memory
// once per thread rather than once per group.
// With P (a padded copy of X), the rows go through the vector kernels (tiles of outputs
// when c >= 2).
inline void masked_gradients(const double* X, idx_t n, idx_t d, const PackedMasks& M,
                             const double* R, idx_t c, double* G,
                             const PaddedRows* P = nullptr) {
  const bool padded = P != nullptr && P->enabled();
  const idx_t dc = d * c, p = M.p;
  const idx_t chunk = 512;  // rows; a multiple of 8 so chunks start on a byte
  std::fill(G, G + p * dc, 0.0);
#pragma omp parallel
  {
    int nt = 1, tid = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads();
    tid = omp_get_thread_num();
#endif
    const idx_t i0 = p * tid / nt, i1 = p * (tid + 1) / nt;
    for (idx_t k0 = 0; k0 < n; k0 += chunk) {
      const idx_t k1 = std::min(n, k0 + chunk);
      const idx_t b0 = k0 >> 3, b1 = (k1 + 7) >> 3;
      for (idx_t i = i0; i < i1; ++i) {
        const std::uint8_t* bits = M.row(i);
        double* g = G + i * dc;
        if (padded && c > 1) {
          pad_gradient_multi(*P, BitRows{bits, b0, b1}, R, c, g);
          continue;
        }
        if (padded) {
          with_nv(P->nv(), [&](auto N) {
            for (idx_t l = 0; l < c; ++l)
              pad_bits_gradient<decltype(N)::value>(P->data(), d, bits, b0, b1, R + l, c, g + l);
          });
          continue;
        }
        for (idx_t byte = b0; byte < b1; ++byte) {
          unsigned v = bits[byte];
          while (v) {
            const idx_t k = byte * 8 + __builtin_ctz(v);
            v &= v - 1;
            const double* xk = X + k * d;
            if (c == 1) {
              const double rk = R[k];
              for (idx_t j = 0; j < d; ++j) g[j] += rk * xk[j];
            } else {
              const double* rk = R + k * c;
              for (idx_t j = 0; j < d; ++j)
                for (idx_t l = 0; l < c; ++l) g[j * c + l] += xk[j] * rk[l];
            }
          }
        }
      }
    }
  }
}

// Rows per thread below which a block's row loops stay serial (fork/join costs more).
constexpr idx_t kParallelRows = 6144;

// g (d x c) += sum over idx[t0:t1] of x_k r_k^T.
inline void gather_gradient_range(const double* __restrict X, idx_t d, const std::int32_t* idx,
                                  idx_t t0, idx_t t1, const double* __restrict R, idx_t c,
                                  double* __restrict g) {
  for (idx_t t = t0; t < t1; ++t) {
    const idx_t k = idx[t];
    const double* __restrict xk = X + k * d;
    const double* __restrict rk = R + k * c;
    for (idx_t j = 0; j < d; ++j) {
      const double xj = xk[j];
      for (idx_t l = 0; l < c; ++l) g[j * c + l] += xj * rk[l];
    }
  }
}

// g (d x c) = sum_{k in idx} x_k r_k^T over an explicit row list (the working set's groups).
// Long lists are split over the threads, each summing a contiguous part; the parts are
// added in thread order, so the result does not depend on scheduling.
// One range of rows, by the vector kernels when P is given (tiles of outputs when c >= 2).
inline void gather_range(const double* X, const PaddedRows* P, idx_t d, const std::int32_t* idx,
                         idx_t t0, idx_t t1, const double* R, idx_t c, double* g) {
  if (P != nullptr && P->enabled() && c > 1) {
    pad_gradient_multi(*P, IndexRows{idx, t0, t1}, R, c, g);
    return;
  }
  if (P != nullptr && P->enabled()) {
    with_nv(P->nv(), [&](auto N) {
      for (idx_t l = 0; l < c; ++l)
        pad_gradient_range<decltype(N)::value>(P->data(), d, idx, t0, t1, R + l, c, g + l);
    });
    return;
  }
  gather_gradient_range(X, d, idx, t0, t1, R, c, g);
}

inline void gather_gradient(const double* X, idx_t d, const std::int32_t* idx, idx_t cnt,
                            const double* R, idx_t c, double* g,
                            const PaddedRows* P = nullptr) {
  const idx_t dc = d * c;
  std::fill(g, g + dc, 0.0);
#ifdef _OPENMP
  const int nt = std::min<idx_t>(omp_get_max_threads(), cnt / kParallelRows);
  if (nt > 1 && !omp_in_parallel()) {
    std::vector<double> part(nt * dc, 0.0);
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num();
      gather_range(X, P, d, idx, cnt * t / nt, cnt * (t + 1) / nt, R, c, part.data() + t * dc);
    }
    for (int t = 0; t < nt; ++t)
      for (idx_t a = 0; a < dc; ++a) g[a] += part[t * dc + a];
    return;
  }
#endif
  gather_range(X, P, d, idx, 0, cnt, R, c, g);
}

// R_k -= x_k^T delta for k in idx[t0:t1] (delta is d x c).
inline void gather_update_range(const double* __restrict X, const PaddedRows* P, idx_t d,
                                const std::int32_t* idx, idx_t t0, idx_t t1,
                                const double* __restrict delta, idx_t c, double* __restrict R) {
  if (P != nullptr && P->enabled() && c > 1) {
    pad_update_multi(*P, IndexRows{idx, t0, t1}, delta, c, R);
    return;
  }
  if (P != nullptr && P->enabled()) {
    with_nv(P->nv(), [&](auto N) {
      for (idx_t l = 0; l < c; ++l)
        pad_update_range<decltype(N)::value>(P->data(), d, idx, t0, t1, delta + l, c, R + l, c);
    });
    return;
  }
  for (idx_t t = t0; t < t1; ++t) {
    const idx_t k = idx[t];
    const double* __restrict xk = X + k * d;
    double* __restrict rk = R + k * c;
    for (idx_t l = 0; l < c; ++l) {
      double acc = 0.0;
      for (idx_t j = 0; j < d; ++j) acc += xk[j] * delta[j * c + l];
      rk[l] -= acc;
    }
  }
}

// R_k -= x_k^T delta for k in idx; rows are distinct, so threads share it.
inline void gather_update(const double* X, idx_t d, const std::int32_t* idx, idx_t cnt,
                          const double* delta, idx_t c, double* R,
                          const PaddedRows* P = nullptr) {
#ifdef _OPENMP
  const int nt = std::min<idx_t>(omp_get_max_threads(), cnt / kParallelRows);
  if (nt > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num();
      gather_update_range(X, P, d, idx, cnt * t / nt, cnt * (t + 1) / nt, delta, c, R);
    }
    return;
  }
#endif
  gather_update_range(X, P, d, idx, 0, cnt, delta, c, R);
}

// Q (d x d) = sum_{k in idx} x_k x_k^T (full symmetric matrix).
inline void gram_from_indices(const double* X, idx_t d, const std::vector<std::int32_t>& idx,
                              double* Q) {
  std::fill(Q, Q + d * d, 0.0);
  for (std::int32_t k : idx) {
    const double* xk = X + static_cast<idx_t>(k) * d;
    for (idx_t a = 0; a < d; ++a) {
      const double xa = xk[a];
      double* qa = Q + a * d;
      for (idx_t b = a; b < d; ++b) qa[b] += xa * xk[b];
    }
  }
  for (idx_t a = 0; a < d; ++a)
    for (idx_t b = 0; b < a; ++b) Q[a * d + b] = Q[b * d + a];
}

}  // namespace fixntk
