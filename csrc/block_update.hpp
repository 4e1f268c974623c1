// Exact minimisation of one group's block of the group lasso:
//   min_w  1/2 w^T Q w - <v, w> + lam ||w||_F,   Q = U diag(s) U^T  (PSD, d x d), w in R^{d x c}.
// Optimality: w = 0 if ||v|| <= lam, else w = (Q + (lam/t) I)^{-1} v with t = ||w|| the root of
//   h(t) = sum_j ||(U^T v)_j||^2 / (s_j t + lam)^2 - 1,
// a convex decreasing function, so Newton's method from any point left of the root
// increases monotonically to it (group_norm_root).
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "blas.hpp"
#include "masks.hpp"

namespace fixntk {

// Eigendecomposition of symmetric d x d matrices by LAPACK's dsyevd (divide and conquer;
// for d = 256 about 150x faster than the cyclic Jacobi it replaces, and orthogonal to
// round-off). One object per thread: it owns the LAPACK workspace, sized once by a
// workspace query. BLAS runs one thread inside a solve, so the result does not depend on
// the thread count.
class SymEig {
 public:
  explicit SymEig(idx_t d) : d_(static_cast<int>(d)), a_(d * d), w_(d) {
    const char V = 'V', L = 'L';
    const int query = -1;
    double lwork = 0.0;
    int liwork = 0, info = 0;
    blas().dsyevd(&V, &L, &d_, a_.data(), &d_, w_.data(), &lwork, &query, &liwork, &query,
                  &info);
    work_.resize(std::max<std::size_t>(1, static_cast<std::size_t>(lwork)));
    iwork_.resize(std::max(1, liwork));
  }

  // A (d x d, symmetric, row-major) is read. On return s holds the eigenvalues (negative
  // round-off clamped to 0: A is a Gram matrix) and U (row-major) the orthonormal
  // eigenvectors as columns, A = U diag(s) U^T. False if LAPACK did not converge.
  bool operator()(const double* A, double* s, double* U) {
    const idx_t d = d_;
    std::copy(A, A + d * d, a_.begin());
    const char V = 'V', L = 'L';
    const int lwork = static_cast<int>(work_.size()), liwork = static_cast<int>(iwork_.size());
    int info = 0;
    blas().dsyevd(&V, &L, &d_, a_.data(), &d_, w_.data(), work_.data(), &lwork, iwork_.data(),
                  &liwork, &info);
    if (info != 0) return false;
    // a_ holds the eigenvectors column-major (eigenvector j at a_[j d ...]): transpose.
    for (idx_t j = 0; j < d; ++j) {
      s[j] = std::max(w_[j], 0.0);
      for (idx_t k = 0; k < d; ++k) U[k * d + j] = a_[j * d + k];
    }
    return true;
  }

 private:
  int d_;
  std::vector<double> a_, w_, work_;
  std::vector<int> iwork_;
};

// The norm t = ||w|| of a block's solution: the root of
// h(t) = sum_m sq_m / (s_m t + lam)^2 - 1 (eigenvalues s, squared projections sq of the
// block gradient), by Newton's method. h is convex and decreasing, so from any point left
// of the root the iterates increase to it. The start is the hint t0 (the block's norm
// before the step: late in a solve the root moves little) when h(t0) >= 0, else the
// Newton step from t0, which lands left of the root by convexity, else 0. Shared by the
// one-Gram and the per-output block solves.
inline void norm_root_terms(idx_t m, const double* __restrict s, const double* __restrict sq,
                            double lam, double t, double& h, double& dh) {
  double hs = -1.0, dhs = 0.0;
#pragma omp simd reduction(+ : hs, dhs)
  for (idx_t j = 0; j < m; ++j) {
    const double r = 1.0 / (s[j] * t + lam);
    const double q = sq[j] * r * r;
    hs += sq[j] == 0.0 ? 0.0 : q;
    dhs -= sq[j] == 0.0 ? 0.0 : 2.0 * q * s[j] * r;
  }
  h = hs;
  dh = dhs;
}

inline double group_norm_root(idx_t m, const double* __restrict s, const double* __restrict sq,
                              double lam, double t0 = 0.0) {
  double t = 0.0, h = 0.0, dh = 0.0;
  if (t0 > 0.0 && std::isfinite(t0)) {
    norm_root_terms(m, s, sq, lam, t0, h, dh);
    if (h >= 0.0)
      t = t0;
    else if (dh < 0.0)
      t = std::max(t0 - h / dh, 0.0);
  }
  for (int it = 0; it < 200; ++it) {
    norm_root_terms(m, s, sq, lam, t, h, dh);
    if (t == 0.0 && !(std::isfinite(h) && std::isfinite(dh))) {
      // a lam so small (1e-120 of lambda_max) that h'(0) ~ 1/lam^3 overflows: the
      // Newton step from 0 was 0 and the block stayed at 0 (tester DG). Start instead
      // from (||v|| - lam) / max s, left of the root (h >= 0 there: every s_j t + lam is
      // at most ||v||).
      double v2 = 0.0, top = 0.0;
      for (idx_t j = 0; j < m; ++j) {
        v2 += sq[j];
        top = std::max(top, s[j]);
      }
      const double start = top > 0.0 ? (std::sqrt(v2) - lam) / top : 0.0;
      if (start > 0.0) {
        t = start;
        continue;
      }
    }
    if (h <= 0.0 || dh >= 0.0) break;
    const double step = -h / dh;
    t += step;
    if (step <= 1e-14 * t) break;
  }
  return t;
}

// out[a] = sum_j M[a d + j] x[j] for the d rows of a row-major d x d matrix M, four rows
// at a time: one row's vectorised sum waits on its multiply-add's latency, four interleave.
inline void rows_dot(idx_t d, const double* __restrict M, const double* __restrict x,
                     double* __restrict out) {
  idx_t a = 0;
  for (; a + 4 <= d; a += 4) {
    const double* m0 = M + a * d;
    const double* m1 = m0 + d;
    const double* m2 = m1 + d;
    const double* m3 = m2 + d;
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (idx_t j = 0; j < d; ++j) {
      s0 += m0[j] * x[j];
      s1 += m1[j] * x[j];
      s2 += m2[j] * x[j];
      s3 += m3[j] * x[j];
    }
    out[a] = s0;
    out[a + 1] = s1;
    out[a + 2] = s2;
    out[a + 3] = s3;
  }
  for (; a < d; ++a) {
    const double* ma = M + a * d;
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (idx_t j = 0; j < d; ++j) acc += ma[j] * x[j];
    out[a] = acc;
  }
}

// C > 0 fixes the number of outputs c at compile time (C = 1: the loops over outputs
// vanish and the loops over rows vectorise); C = 0 takes c at run time.

// The block's correlation in the eigenbasis, vt = U^T (v + Q w) = U^T v + diag(s) U^T w
// (w = nullptr: a zero block), both products in one pass over U's rows (row a of U, of v
// and of w at a time, so the inner loops run over contiguous memory and each entry sums
// over a in increasing order). Q itself is never read: a block step streams U twice
// (here and for the solution), not Q once and U twice. vt and wt are d x c.
template <int C>
inline void eigen_correlation(idx_t d, idx_t c_run, const double* __restrict s,
                              const double* __restrict U, const double* __restrict v,
                              const double* __restrict w, double* __restrict vt,
                              double* __restrict wt) {
  const idx_t c = C > 0 ? C : c_run;
  std::fill(vt, vt + d * c, 0.0);
  if (w == nullptr) {
    for (idx_t a = 0; a < d; ++a) {
      const double* ua = U + a * d;
      const double* va = v + a * c;
      for (idx_t j = 0; j < d; ++j)
        for (idx_t l = 0; l < c; ++l) vt[j * c + l] += ua[j] * va[l];
    }
    return;
  }
  std::fill(wt, wt + d * c, 0.0);
  for (idx_t a = 0; a < d; ++a) {
    const double* ua = U + a * d;
    const double* va = v + a * c;
    const double* wa = w + a * c;
    for (idx_t j = 0; j < d; ++j)
      for (idx_t l = 0; l < c; ++l) {
        vt[j * c + l] += ua[j] * va[l];
        wt[j * c + l] += ua[j] * wa[l];
      }
  }
  for (idx_t j = 0; j < d; ++j)
    for (idx_t l = 0; l < c; ++l) vt[j * c + l] += s[j] * wt[j * c + l];
}

// Solves the block problem with Q = U diag(s) U^T for the correlation v + Q w_old (v: the
// block's gradient term, d x c; w_old: the block before the step, nullptr when zero); w
// (d x c) is written. work has room for 2 d c + d; t0 is the block's norm before the step
// (group_norm_root's hint).
template <int C>
inline void exact_block_solve(idx_t d, idx_t c_run, const double* __restrict s,
                              const double* __restrict U, const double* __restrict v,
                              const double* __restrict w_old, double lam,
                              double* __restrict w, double* __restrict work, double t0 = 0.0) {
  const idx_t c = C > 0 ? C : c_run;
  double* vt = work;  // U^T (v + Q w_old)  (d x c)
  double* rowsq = work + d * c;
  eigen_correlation<C>(d, c, s, U, v, w_old, vt, work + d * c + d);
  double vnorm2 = 0.0;  // ||U^T x|| = ||x||: U is orthogonal
  for (idx_t a = 0; a < d * c; ++a) vnorm2 += vt[a] * vt[a];
  if (vnorm2 <= lam * lam) {
    std::fill(w, w + d * c, 0.0);
    return;
  }
  double smax = 0.0;
  for (idx_t j = 0; j < d; ++j) smax = std::max(smax, s[j]);
  const double sfloor = 1e-12 * smax;
  for (idx_t j = 0; j < d; ++j) {
    double acc2 = 0.0;
    for (idx_t l = 0; l < c; ++l) {
      // Components in the null space of Q are round-off (v lies in range(Q)); drop them.
      if (s[j] <= sfloor) vt[j * c + l] = 0.0;
      acc2 += vt[j * c + l] * vt[j * c + l];
    }
    rowsq[j] = acc2;
  }
  const double t = group_norm_root(d, s, rowsq, lam, t0);
  if (!(t > 0.0) || !std::isfinite(t)) {
    std::fill(w, w + d * c, 0.0);
    return;
  }
  // w = U diag(t / (s t + lam)) vt
  for (idx_t j = 0; j < d; ++j) {
    const double f = t / (s[j] * t + lam);
    for (idx_t l = 0; l < c; ++l) vt[j * c + l] *= f;
  }
  if constexpr (C == 1) {  // one output: w's entries are dot products of U's rows with vt
    rows_dot(d, U, vt, w);
    return;
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

// ---- One Gram per output (output weights) ------------------------------------------
// The block problem min_w sum_l (1/2 w_l^T Q_l w_l - v_l^T w_l) + lam ||w||_F, with
// Q_l = U_l diag(s_l) U_l^T (Q, U: c blocks of d x d; s: c blocks of d) and w_l, v_l the
// columns of the d x c blocks w, v. Optimality: w = 0 if ||v|| <= lam, else
// w_l = (Q_l + (lam/t) I)^{-1} v_l with t = ||w|| the root of
//   h(t) = sum_l sum_j (U_l^T v_l)_j^2 / (s_lj t + lam)^2 - 1,
// convex and decreasing (group_norm_root finds it).

// Solves the block problem above for the correlation v + [Q_l w_old_l]_l (v, w_old, w:
// d x c; w_old nullptr when the block is zero); w is written. work has room for
// 2 d c + 3 d; t0 is the block's norm before the step (group_norm_root's hint). Q_l is
// never read: U_l^T (v_l + Q_l w_l) = U_l^T v_l + diag(s_l) U_l^T w_l in one pass over
// U_l's rows, and the solution U_l z_l as dot products of its rows with z_l.
inline void exact_block_solve_outputs(idx_t d, idx_t c, const double* __restrict s,
                                      const double* __restrict U, const double* __restrict v,
                                      const double* __restrict w_old, double lam,
                                      double* __restrict w, double* __restrict work,
                                      double t0 = 0.0) {
  double* vt = work;          // vt[l d + j] = (U_l^T (v_l + Q_l w_old_l))_j
  double* sq = work + d * c;  // its squares
  double* cv = work + 2 * d * c;  // one output's column of v, then of w
  double* cw = cv + d;            // one output's column of w_old
  double* wt = cw + d;            // U_l^T w_old_l
  double vnorm2 = 0.0;
  for (idx_t l = 0; l < c; ++l) {
    const double* Ul = U + l * d * d;
    const double* sl = s + l * d;
    double* vl = vt + l * d;
    for (idx_t a = 0; a < d; ++a) cv[a] = v[a * c + l];
    std::fill(vl, vl + d, 0.0);
    if (w_old == nullptr) {
      for (idx_t a = 0; a < d; ++a) {
        const double* ua = Ul + a * d;
        const double va = cv[a];
#pragma omp simd
        for (idx_t j = 0; j < d; ++j) vl[j] += ua[j] * va;
      }
    } else {
      for (idx_t a = 0; a < d; ++a) cw[a] = w_old[a * c + l];
      std::fill(wt, wt + d, 0.0);
      for (idx_t a = 0; a < d; ++a) {
        const double* ua = Ul + a * d;
        const double va = cv[a], wa = cw[a];
#pragma omp simd
        for (idx_t j = 0; j < d; ++j) {
          vl[j] += ua[j] * va;
          wt[j] += ua[j] * wa;
        }
      }
      for (idx_t j = 0; j < d; ++j) vl[j] += sl[j] * wt[j];
    }
    double smax = 0.0;
    for (idx_t j = 0; j < d; ++j) smax = std::max(smax, sl[j]);
    // components in the null space of Q_l are round-off (v_l lies in its range)
    for (idx_t j = 0; j < d; ++j) {
      vnorm2 += vl[j] * vl[j];
      if (sl[j] <= 1e-12 * smax) vl[j] = 0.0;
      sq[l * d + j] = vl[j] * vl[j];
    }
  }
  if (vnorm2 <= lam * lam) {  // ||U_l^T x|| = ||x||: each U_l is orthogonal
    std::fill(w, w + d * c, 0.0);
    return;
  }
  const double t = group_norm_root(d * c, s, sq, lam, t0);
  if (!(t > 0.0) || !std::isfinite(t)) {
    std::fill(w, w + d * c, 0.0);
    return;
  }
  for (idx_t l = 0; l < c; ++l) {
    const double* sl = s + l * d;
    double* zl = vt + l * d;  // z_l = diag(t / (s_l t + lam)) U_l^T v_l, in place
    for (idx_t j = 0; j < d; ++j) zl[j] *= t / (sl[j] * t + lam);
    rows_dot(d, U + l * d * d, zl, cv);
    for (idx_t a = 0; a < d; ++a) w[a * c + l] = cv[a];
  }
}

}  // namespace fixntk
