// Exact minimisation of one group's block of the group lasso:
//   min_w  1/2 w^T Q w - <v, w> + lam ||w||_F,   Q = U diag(s) U^T  (PSD, d x d), w in R^{d x c}.
// Optimality: w = 0 if ||v|| <= lam, else w = (Q + (lam/t) I)^{-1} v with t = ||w|| the root of
//   h(t) = sum_j ||(U^T v)_j||^2 / (s_j t + lam)^2 - 1,
// a convex decreasing function, so Newton's method from t = 0 increases monotonically to it.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "masks.hpp"

namespace fixntk {

// Cyclic Jacobi eigendecomposition of a symmetric d x d matrix A (row-major, destroyed).
// On return s holds the eigenvalues and U (row-major) the eigenvectors as columns.
inline void sym_eig(idx_t d, double* A, double* s, double* U) {
  std::fill(U, U + d * d, 0.0);
  for (idx_t a = 0; a < d; ++a) U[a * d + a] = 1.0;
  double scale = 0.0;
  for (idx_t a = 0; a < d * d; ++a) scale += A[a] * A[a];
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0;
    for (idx_t p = 0; p < d; ++p)
      for (idx_t q = p + 1; q < d; ++q) off += A[p * d + q] * A[p * d + q];
    if (off <= 1e-30 * scale || off == 0.0) break;
    for (idx_t p = 0; p < d; ++p) {
      for (idx_t q = p + 1; q < d; ++q) {
        const double apq = A[p * d + q];
        if (std::abs(apq) <= 1e-300) continue;
        const double theta = (A[q * d + q] - A[p * d + p]) / (2.0 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double cs = 1.0 / std::sqrt(t * t + 1.0), sn = t * cs;
        for (idx_t k = 0; k < d; ++k) {  // columns p, q of A
          const double akp = A[k * d + p], akq = A[k * d + q];
          A[k * d + p] = cs * akp - sn * akq;
          A[k * d + q] = sn * akp + cs * akq;
        }
        for (idx_t k = 0; k < d; ++k) {  // rows p, q of A
          const double apk = A[p * d + k], aqk = A[q * d + k];
          A[p * d + k] = cs * apk - sn * aqk;
          A[q * d + k] = sn * apk + cs * aqk;
        }
        for (idx_t k = 0; k < d; ++k) {
          const double ukp = U[k * d + p], ukq = U[k * d + q];
          U[k * d + p] = cs * ukp - sn * ukq;
          U[k * d + q] = sn * ukp + cs * ukq;
        }
      }
    }
  }
  for (idx_t a = 0; a < d; ++a) s[a] = std::max(A[a * d + a], 0.0);
}

// In both functions below, C > 0 fixes the number of outputs c at compile time (C = 1: the
// loops over outputs vanish and the loops over rows vectorise); C = 0 takes c at run time.

// v (d x c) += Q w for a symmetric Q (d x d): column b of Q times row b of w, so the inner
// loops run over contiguous memory; each entry still sums over b in increasing order.
template <int C>
inline void add_gram_product(idx_t d, idx_t c_run, const double* __restrict Q,
                             const double* __restrict w, double* __restrict v) {
  const idx_t c = C > 0 ? C : c_run;
  for (idx_t b = 0; b < d; ++b) {
    const double* qb = Q + b * d;
    const double* wb = w + b * c;
    for (idx_t a = 0; a < d; ++a)
      for (idx_t l = 0; l < c; ++l) v[a * c + l] += qb[a] * wb[l];
  }
}

// Solves the block problem; v (d x c) is read, w (d x c) written. work has room for d*c + d.
template <int C>
inline void exact_block_solve(idx_t d, idx_t c_run, const double* __restrict s,
                                const double* __restrict U, const double* __restrict v,
                                double lam, double* __restrict w, double* __restrict work) {
  const idx_t c = C > 0 ? C : c_run;
  double vnorm2 = 0.0;
  for (idx_t a = 0; a < d * c; ++a) vnorm2 += v[a] * v[a];
  if (vnorm2 <= lam * lam) {
    std::fill(w, w + d * c, 0.0);
    return;
  }
  double* vt = work;          // U^T v  (d x c)
  double* rowsq = work + d * c;
  double smax = 0.0;
  for (idx_t j = 0; j < d; ++j) smax = std::max(smax, s[j]);
  const double sfloor = 1e-12 * smax;
  // vt = U^T v, row a of U and of v at a time so the inner loops run over contiguous
  // memory (each entry still sums over a in increasing order)
  std::fill(vt, vt + d * c, 0.0);
  for (idx_t a = 0; a < d; ++a) {
    const double* ua = U + a * d;
    const double* va = v + a * c;
    for (idx_t j = 0; j < d; ++j) {
      const double u = ua[j];
      double* vj = vt + j * c;
      for (idx_t l = 0; l < c; ++l) vj[l] += u * va[l];
    }
  }
  for (idx_t j = 0; j < d; ++j) {
    double acc2 = 0.0;
    for (idx_t l = 0; l < c; ++l) {
      // Components in the null space of Q are round-off (v lies in range(Q)); drop them.
      if (s[j] <= sfloor) vt[j * c + l] = 0.0;
      acc2 += vt[j * c + l] * vt[j * c + l];
    }
    rowsq[j] = acc2;
  }
  double t = 0.0;
  for (int it = 0; it < 200; ++it) {
    double h = -1.0, dh = 0.0;
    for (idx_t j = 0; j < d; ++j) {
      if (rowsq[j] == 0.0) continue;
      const double den = s[j] * t + lam;
      const double q = rowsq[j] / (den * den);
      h += q;
      dh -= 2.0 * q * s[j] / den;
    }
    if (h <= 0.0 || dh >= 0.0) break;
    const double step = -h / dh;
    t += step;
    if (step <= 1e-14 * t) break;
  }
  if (!(t > 0.0) || !std::isfinite(t)) {
    std::fill(w, w + d * c, 0.0);
    return;
  }
  // w = U diag(t / (s t + lam)) vt
  for (idx_t j = 0; j < d; ++j) {
    const double f = t / (s[j] * t + lam);
    for (idx_t l = 0; l < c; ++l) vt[j * c + l] *= f;
  }
  for (idx_t a = 0; a < d; ++a) {
    double* wa = w + a * c;
    std::fill(wa, wa + c, 0.0);
    const double* ua = U + a * d;
    for (idx_t j = 0; j < d; ++j) {
      const double u = ua[j];
      const double* vj = vt + j * c;
      for (idx_t l = 0; l < c; ++l) wa[l] += u * vj[l];
    }
  }
}

}  // namespace fixntk
