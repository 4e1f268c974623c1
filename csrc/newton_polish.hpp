// Newton's method on the support of the group lasso in covariance form, shared by the
// BCD solver's polish (the support's Gram built from the rows) and the covariance-mode
// solver of fixntk.dask (the working set's Gram given):
//   P(w) = 1/2 <w, H w> - <b, w> + const + lam sum_t ||w_t||_F,
// with H (m x m, m = k d, symmetric, row-major) over k blocks of d rows, w and
// g = H w - b of shape (m, c). On the blocks where w is nonzero P is smooth:
//   grad_t = g_t + lam w_t / ||w_t||,
//   Hess   = H_SS (x) I_c + lam blockdiag((I - u_t u_t^T) / ||w_t||),   u_t = w_t / ||w_t||,
// and the steps take an Armijo backtracking line search on P. A group heading to zero
// is the block steps' business: the method stops at a step that fails to decrease P.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "blas.hpp"
#include "masks.hpp"

namespace fixntk {

inline double l2norm(const double* a, idx_t m) {
  double s = 0.0;
  for (idx_t k = 0; k < m; ++k) s += a[k] * a[k];
  return std::sqrt(s);
}

// g += H[:, block t] delta for delta (d x c): the rows of block t, H being symmetric.
inline void gram_block_axpy(const double* H, idx_t m, idx_t d, idx_t c, idx_t t,
                            const double* delta, double* g) {
  for (idx_t j = 0; j < d; ++j) {
    const double* h = H + (t * d + j) * m;
    for (idx_t l = 0; l < c; ++l) {
      const double dl = delta[j * c + l];
      if (dl == 0.0) continue;
      if (c == 1) {
        for (idx_t a = 0; a < m; ++a) g[a] += h[a] * dl;
      } else {
        for (idx_t a = 0; a < m; ++a) g[a * c + l] += h[a] * dl;
      }
    }
  }
}

// Epochs a block coordinate descent needs from `gap` down to `target`, extrapolated from
// its certified gaps gh (at epochs eh, the latest last; `epochs` spent now): the epochs
// per decade since the last certificate at least 10x the current gap (or the first one),
// at least 0.3 decades counted. The Newton polishes' cost rules weigh them against the
// polish's multiply-adds.
inline double epochs_left(const std::vector<double>& gh, const std::vector<long>& eh,
                          long epochs, double gap, double target) {
  std::size_t j = 0;
  for (std::size_t t = gh.size(); t-- > 0;)
    if (gh[t] >= 10.0 * gap) {
      j = t;
      break;
    }
  const double decades_done = std::log10(std::max(gh[j] / gap, 1.0 + 1e-12));
  const double per_decade =
      static_cast<double>(std::max<long>(epochs - eh[j], 1)) / std::max(decades_done, 0.3);
  return per_decade * std::log10(std::max(gap / target, 1.0));
}

// Newton steps on the blocks S (positions in H's block order, each nonzero in w), w and g
// updated in place (g kept equal to H w - b by column blocks of H). primal(w, g) gives P;
// stop() is asked before each step (each factors an |S| d c square matrix: one dpotrf).
// Ends after 20 steps, at round-off, at a step the line search cannot accept, or after a
// damped step (the support is then likely still changing).
template <class Primal, class Stop>
void newton_on_support(const double* H, idx_t m, idx_t d, idx_t c, double lam,
                       const std::vector<idx_t>& S, std::vector<double>& w,
                       std::vector<double>& g, Primal&& primal, Stop&& stop) {
  const idx_t e = d * c, s = S.size(), ms = s * e;  // unknowns: vec(W_t), index j * c + l
  if (s == 0) return;
  std::vector<double> Hn(ms * ms), grad(ms), step(ms), wtry(w.size()), gtry(g.size()), sd(e);
  const int ims = static_cast<int>(ms);
  for (int it = 0; it < 20; ++it) {
    if (stop()) return;
    double gmax = 0.0;
    for (idx_t a = 0; a < s; ++a) {
      const idx_t t = S[a];
      const double nr = l2norm(w.data() + t * e, e);
      if (!(nr > 0)) return;
      for (idx_t q = 0; q < e; ++q) {
        grad[a * e + q] = g[t * e + q] + lam * w[t * e + q] / nr;
        gmax = std::max(gmax, std::abs(grad[a * e + q]));
      }
    }
    if (gmax <= 1e-14 * (std::abs(lam) + 1.0)) return;
    // Hessian of the smooth part: H (x) I_c in this ordering.
    std::fill(Hn.begin(), Hn.end(), 0.0);
    for (idx_t a = 0; a < s; ++a)
      for (idx_t i = 0; i < d; ++i) {
        const double* hrow = H + (S[a] * d + i) * m;
        for (idx_t bb = 0; bb < s; ++bb)
          for (idx_t j = 0; j < d; ++j) {
            const double h = hrow[S[bb] * d + j];
            for (idx_t l = 0; l < c; ++l) Hn[(a * e + i * c + l) * ms + bb * e + j * c + l] = h;
          }
      }
    // ... plus the norm's curvature lam / ||w_t|| (I - u u^T) on each block.
    for (idx_t a = 0; a < s; ++a) {
      const idx_t t = S[a];
      const double nr = l2norm(w.data() + t * e, e);
      for (idx_t q = 0; q < e; ++q)
        for (idx_t r = 0; r < e; ++r) {
          const double uq = w[t * e + q] / nr, ur = w[t * e + r] / nr;
          Hn[(a * e + q) * ms + a * e + r] += lam / nr * ((q == r ? 1.0 : 0.0) - uq * ur);
        }
    }
    int info = 0;
    const char U = 'U';
    blas().dpotrf(&U, &ims, Hn.data(), &ims, &info);
    if (info != 0) return;
    for (idx_t a = 0; a < ms; ++a) step[a] = -grad[a];
    const int one = 1;
    blas().dpotrs(&U, &ims, &one, Hn.data(), &ims, step.data(), &ims, &info);
    if (info != 0) return;
    double slope = 0.0;
    for (idx_t a = 0; a < ms; ++a) slope += grad[a] * step[a];
    if (!(slope < 0)) return;
    const double f0 = primal(w, g);
    double alpha = 1.0;
    bool accepted = false;
    for (int ls = 0; ls < 30; ++ls) {
      wtry = w;
      gtry = g;
      for (idx_t a = 0; a < s; ++a) {
        for (idx_t q = 0; q < e; ++q) sd[q] = alpha * step[a * e + q];
        for (idx_t q = 0; q < e; ++q) wtry[S[a] * e + q] += sd[q];
        gram_block_axpy(H, m, d, c, S[a], sd.data(), gtry.data());
      }
      if (primal(wtry, gtry) <= f0 + 1e-4 * alpha * slope) {
        accepted = true;
        break;
      }
      alpha *= 0.5;
    }
    if (!accepted) return;
    w.swap(wtry);
    g.swap(gtry);
    if (alpha < 1.0) return;  // damped: the support is likely still changing
  }
}

}  // namespace fixntk
