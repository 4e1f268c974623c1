// Masked products of the gated ReLU design, never materialising the n x (p d) matrix:
//   predict:   out = sum_i D_i X W_i                       (n x c)
//   gradients: G_i = X^T D_i R  for every group i          (p x d x c)
//   gram:      Q   = X^T D_i X  over an index list          (d x d)
#pragma once
#include <algorithm>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "blas.hpp"
#include "interrupt.hpp"
#include "masks.hpp"
#include "row_kernels.hpp"
#include "row_team.hpp"

namespace fixntk {

// Unaligned loads and stores of 4 doubles (rows wider than the padded kernels start
// anywhere): by memcpy, which the compiler turns into one vector move.
// (By reference, not by value: a v4d returned by value changes the calling convention
// between the AVX2 and the baseline builds, which GCC warns about.)
inline void load4(v4d& v, const double* p) { __builtin_memcpy(&v, p, sizeof v); }
inline void store4(double* p, const v4d& v) { __builtin_memcpy(p, &v, sizeof v); }

// a b + c as the vector loops round it: one fused multiply-add where the build has them
// (x86-64-v3), a product and a sum otherwise. Written out in the scalar tails of the
// wide-row kernels: GCC vectorised some of them (gradient_tile's with one output,
// row_dot_sub's of 2-7 features) as products followed by in-order sums, each term
// rounded twice, so that two kernels meant to agree (one row and two rows at a time,
// the vector loops and the tail) did not to the bit.
inline double multiply_add(double a, double b, double c) {
#ifdef __FMA__
  return __builtin_fma(a, b, c);
#else
  return a * b + c;
#endif
}

// Rows wider than the padded kernels take (d > 128): g (d) += x r for one row and one
// output (several outputs: gather_gradient_range).
inline void row_outer_add(const double* __restrict xk, idx_t d, double r, double* __restrict g) {
  for (idx_t j = 0; j < d; ++j) g[j] += r * xk[j];
}

// r -= x^T delta for one row and one output. The dot product runs as 8 independent
// sums rather than one chain of d dependent multiply-adds: the chain ran at a quarter
// of the rate at d = 784.
inline void row_dot_sub(const double* __restrict xk, idx_t d, const double* __restrict delta,
                        double* __restrict rk) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  idx_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int u = 0; u < 8; ++u) a[u] += xk[j + u] * delta[j + u];
  for (; j < d; ++j) a[0] = multiply_add(xk[j], delta[j], a[0]);
  rk[0] -= ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// row_outer_add for four rows: g += r0 x0 + r1 x1 + r2 x2 + r3 x3, each entry taking
// the rows' terms one at a time in row order (the same bits as four row_outer_add), with
// one load and store of g per four rows: one row at a time stored g at every
// multiply-add.
inline void row_outer_add4(const double* const* xs, const double* r, idx_t d,
                           double* __restrict g) {
  const double* __restrict x0 = xs[0];
  const double* __restrict x1 = xs[1];
  const double* __restrict x2 = xs[2];
  const double* __restrict x3 = xs[3];
  const double r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
  for (idx_t j = 0; j < d; ++j) {
    double s = g[j];
    s += r0 * x0[j];
    s += r1 * x1[j];
    s += r2 * x2[j];
    s += r3 * x3[j];
    g[j] = s;
  }
}

// row_dot_sub for two rows, each load of delta serving both: each row's eight sums as in
// row_dot_sub, in two vectors of four (the same bits; GCC left the plain loop over two
// rows' sums scalar).
inline void row_dot_sub2(const double* __restrict x0, const double* __restrict x1, idx_t d,
                         const double* __restrict delta, double* __restrict r0,
                         double* __restrict r1) {
  v4d a0 = {0.0, 0.0, 0.0, 0.0}, a1 = a0, b0 = a0, b1 = a0;
  idx_t j = 0;
  for (; j + 8 <= d; j += 8) {
    v4d e0, e1, u0, u1, w0, w1;
    load4(e0, delta + j);
    load4(e1, delta + j + 4);
    load4(u0, x0 + j);
    load4(u1, x0 + j + 4);
    load4(w0, x1 + j);
    load4(w1, x1 + j + 4);
    a0 += u0 * e0;
    a1 += u1 * e1;
    b0 += w0 * e0;
    b1 += w1 * e1;
  }
  double a[8], b[8];
  store4(a, a0);
  store4(a + 4, a1);
  store4(b, b0);
  store4(b + 4, b1);
  for (; j < d; ++j) {
    a[0] = multiply_add(x0[j], delta[j], a[0]);
    b[0] = multiply_add(x1[j], delta[j], b[0]);
  }
  r0[0] -= ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  r1[0] -= ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
}

// R_k -= x_k^T delta (one output) for k in idx[t0:t1], two rows at a time.
inline void update_rows(const double* X, idx_t d, const std::int32_t* idx, idx_t t0, idx_t t1,
                        const double* delta, double* R) {
  idx_t t = t0;
  for (; t + 2 <= t1; t += 2)
    row_dot_sub2(X + idx[t] * d, X + idx[t + 1] * d, d, delta, R + idx[t], R + idx[t + 1]);
  if (t < t1) row_dot_sub(X + idx[t] * d, d, delta, R + idx[t]);
}

// g (d) += sum over idx[t0:t1] of x_k R_k (one output), four rows at a time.
inline void gradient_rows(const double* X, idx_t d, const std::int32_t* idx, idx_t t0, idx_t t1,
                          const double* R, double* g) {
  idx_t t = t0;
  for (; t + 4 <= t1; t += 4) {
    const double* xs[4];
    double r[4];
    for (int q = 0; q < 4; ++q) {
      xs[q] = X + idx[t + q] * d;
      r[q] = R[idx[t + q]];
    }
    row_outer_add4(xs, r, d, g);
  }
  for (; t < t1; ++t) row_outer_add(X + idx[t] * d, d, R[idx[t]], g);
}

// r -= x^T delta for one row and c >= 2 outputs (delta d x c, row-major), as c
// contiguous multiply-adds per feature j into four interleaved accumulator rows (j mod
// 4; acc: 4 c doubles of scratch), added pairwise at the end. Dot products per output
// (8 partial sums each, read from delta with stride c) could not be vectorised and
// reduced each output across lanes: the update ran at a third of the gradient's
// rate (d = 784, 10 outputs).
inline void row_dot_sub_multi(const double* __restrict xk, idx_t d, const double* __restrict delta,
                              idx_t c, double* __restrict rk, double* __restrict acc) {
  std::fill(acc, acc + 4 * c, 0.0);
  double* __restrict a0 = acc;
  double* __restrict a1 = acc + c;
  double* __restrict a2 = acc + 2 * c;
  double* __restrict a3 = acc + 3 * c;
  idx_t j = 0;
  for (; j + 4 <= d; j += 4) {
    const double x0 = xk[j], x1 = xk[j + 1], x2 = xk[j + 2], x3 = xk[j + 3];
    const double* __restrict d0 = delta + j * c;
    for (idx_t l = 0; l < c; ++l) a0[l] += x0 * d0[l];
    for (idx_t l = 0; l < c; ++l) a1[l] += x1 * d0[c + l];
    for (idx_t l = 0; l < c; ++l) a2[l] += x2 * d0[2 * c + l];
    for (idx_t l = 0; l < c; ++l) a3[l] += x3 * d0[3 * c + l];
  }
  for (; j < d; ++j)
    for (idx_t l = 0; l < c; ++l) a0[l] += xk[j] * delta[j * c + l];
  for (idx_t l = 0; l < c; ++l) rk[l] -= (a0[l] + a1[l]) + (a2[l] + a3[l]);
}

// row_dot_sub_multi for up to 4 NT outputs, from delta padded to stride 4 NT (dp: d x
// 4 NT, zeros past c): two chains of 4 NT sums each (features j even and odd), held in
// registers across the row (the fixed trip counts let the compiler keep them there),
// where row_dot_sub_multi loads and stores its accumulators at every feature.
template <int NT>
inline void row_dot_sub_tiles(const double* __restrict xk, idx_t d, const double* __restrict dp,
                              idx_t c, double* __restrict rk) {
  constexpr int S = 4 * NT;
  double a[S], b[S];
  for (int u = 0; u < S; ++u) a[u] = b[u] = 0.0;
  idx_t j = 0;
  for (; j + 2 <= d; j += 2) {
    const double x0 = xk[j], x1 = xk[j + 1];
    const double* __restrict p0 = dp + j * S;
    for (int u = 0; u < S; ++u) a[u] += x0 * p0[u];
    for (int u = 0; u < S; ++u) b[u] += x1 * p0[S + u];
  }
  if (j < d) {
    const double x0 = xk[j];
    const double* __restrict p0 = dp + j * S;
    for (int u = 0; u < S; ++u) a[u] += x0 * p0[u];
  }
  for (idx_t l = 0; l < c; ++l) rk[l] -= a[l] + b[l];
}

// row_dot_sub_tiles for two rows at once: each load of the padded delta serves both
// (delta, d x 4 NT doubles, leaves L1 at 784 features and 3 tiles: one row at a time
// read it from L2 for 3 multiply-adds per feature). Each row keeps its own two chains,
// so every output sums the same terms in the same order: the same bits as one row at a
// time. d = 784, 10 outputs, one thread: 9 -> 13 Gflop/s over 1500-row groups of 3000
// rows (X in the last-level cache).
template <int NT>
inline void row_dot_sub_tiles2(const double* __restrict x0, const double* __restrict x1, idx_t d,
                               const double* __restrict dp, idx_t c, double* __restrict r0,
                               double* __restrict r1) {
  constexpr int S = 4 * NT;
  v4d a0[NT], b0[NT], a1[NT], b1[NT];
  for (int u = 0; u < NT; ++u) a0[u] = b0[u] = a1[u] = b1[u] = v4d{0.0, 0.0, 0.0, 0.0};
  idx_t j = 0;
  for (; j + 2 <= d; j += 2) {
    const double* __restrict p0 = dp + j * S;
    for (int u = 0; u < NT; ++u) {
      v4d e, f;
      load4(e, p0 + 4 * u);
      load4(f, p0 + S + 4 * u);
      a0[u] += x0[j] * e;
      b0[u] += x0[j + 1] * f;
      a1[u] += x1[j] * e;
      b1[u] += x1[j + 1] * f;
    }
  }
  if (j < d) {
    const double* __restrict p0 = dp + j * S;
    for (int u = 0; u < NT; ++u) {
      v4d e;
      load4(e, p0 + 4 * u);
      a0[u] += x0[j] * e;
      a1[u] += x1[j] * e;
    }
  }
  double s0[S], s1[S];
  for (int u = 0; u < NT; ++u) {
    store4(s0 + 4 * u, a0[u] + b0[u]);
    store4(s1 + 4 * u, a1[u] + b1[u]);
  }
  for (idx_t l = 0; l < c; ++l) {
    r0[l] -= s0[l];
    r1[l] -= s1[l];
  }
}

// R_k -= x_k^T delta (d x c, c >= 2) for k in idx[t0:t1]: up to 16 outputs by the tiles
// in registers (delta padded once per range), more by row_dot_sub_multi.
inline void update_rows_multi(const double* __restrict X, idx_t d, const std::int32_t* idx,
                              idx_t t0, idx_t t1, const double* __restrict delta, idx_t c,
                              double* __restrict R) {
  thread_local std::vector<double> buf;
  if (c > 16) {
    buf.resize(4 * c);  // row_dot_sub_multi's accumulators
    for (idx_t t = t0; t < t1; ++t)
      row_dot_sub_multi(X + idx[t] * d, d, delta, c, R + idx[t] * c, buf.data());
    return;
  }
  const int nt = static_cast<int>((c + 3) / 4);
  const idx_t S = 4 * nt;
  buf.assign(d * S, 0.0);  // delta padded to stride S
  for (idx_t j = 0; j < d; ++j)
    for (idx_t l = 0; l < c; ++l) buf[j * S + l] = delta[j * c + l];
  auto rows = [&](auto N) {
    constexpr int NT = decltype(N)::value;
    idx_t t = t0;
    for (; t + 2 <= t1; t += 2)
      row_dot_sub_tiles2<NT>(X + idx[t] * d, X + idx[t + 1] * d, d, buf.data(), c,
                             R + idx[t] * c, R + idx[t + 1] * c);
    if (t < t1) row_dot_sub_tiles<NT>(X + idx[t] * d, d, buf.data(), c, R + idx[t] * c);
  };
  switch (nt) {
    case 1: rows(std::integral_constant<int, 1>{}); break;
    case 2: rows(std::integral_constant<int, 2>{}); break;
    case 3: rows(std::integral_constant<int, 3>{}); break;
    default: rows(std::integral_constant<int, 4>{}); break;
  }
}

// Multiply-adds below which a phase over all groups runs on one thread: waking a sleeping
// helper (RowTeam) costs tens of microseconds, and small problems (a few hundred rows)
// made almost every call one.
constexpr double kParallelWork = 1 << 20;

// out (n x c) = sum over groups in `groups` of D_i X W_i, with W (p x d x c).
// Row blocks of X go through one BLAS product with every group's weights at once,
// T = W_g X_b^T ((g c) x rows), and the masks then select and sum T's rows: n d g c
// flops at BLAS speed plus n g c masked additions, where a loop per group and row ran
// at about 50 Mflop/s (a dependent chain of d multiply-adds per row and group, one
// unpredictable branch per mask bit). Without BLAS (not registered) the plain loop.
// With `stop`, asked before each row block (each group without BLAS), the blocks left
// when it fires are skipped (out is then incomplete).
inline void masked_predict(const double* X, idx_t n, idx_t d, const PackedMasks& M,
                           const double* W, idx_t c, const std::vector<idx_t>& groups,
                           double* out, Interrupt* stop = nullptr) {
  std::fill(out, out + n * c, 0.0);
  const idx_t g = static_cast<idx_t>(groups.size()), gc = g * c;
  if (g == 0 || n == 0 || d == 0) return;
  if (!blas().ready()) {
    for (idx_t i : groups) {
      if (stop != nullptr && (*stop)()) return;
      const std::uint8_t* bits = M.row(i);
      const double* Wi = W + i * d * c;
      for (idx_t k = 0; k < n; ++k) {
        if (!((bits[k >> 3] >> (k & 7)) & 1u)) continue;
        for (idx_t l = 0; l < c; ++l) {
          double acc = 0.0;
          for (idx_t j = 0; j < d; ++j) acc += X[k * d + j] * Wi[j * c + l];
          out[k * c + l] += acc;
        }
      }
    }
    return;
  }
  // Wg ((g c) x d, row-major): row t c + l holds W[groups[t], :, l].
  std::vector<double> Wg(static_cast<std::size_t>(gc * d));
  for (idx_t t = 0; t < g; ++t)
    for (idx_t j = 0; j < d; ++j)
      for (idx_t l = 0; l < c; ++l) Wg[(t * c + l) * d + j] = W[groups[t] * d * c + j * c + l];
  // rows per block: a multiple of 64 (whole mask bytes per thread), T at most ~8 MB
  idx_t rows = std::min<idx_t>((idx_t{1} << 20) / gc, (n + 63) & ~idx_t{63});
  rows = std::max<idx_t>(64, std::min<idx_t>(4096, rows)) & ~idx_t{63};
  std::unique_ptr<double[]> T(new double[static_cast<std::size_t>(gc * rows)]);
  const char Tr = 'T', Nr = 'N';
  const double one = 1.0, zero = 0.0;
  for (idx_t k0 = 0; k0 < n; k0 += rows) {
    if (stop != nullptr && (*stop)()) return;
    const idx_t m = std::min(rows, n - k0);
    const int mi = static_cast<int>(m), gci = static_cast<int>(gc), di = static_cast<int>(d);
    // column-major: T^T (m x gc, ld m) = X_b (op T of the d x m view) * Wg (d x gc view)
    blas().dgemm(&Tr, &Nr, &mi, &gci, &di, &one, X + k0 * d, &di, Wg.data(), &di, &zero,
                 T.get(), &mi);
    const idx_t pieces = std::max<idx_t>(1, m / 512);
    // threads only where the block's work (m g c additions) pays for waking them
    const int helpers = m * gc * d >= kParallelWork ? team_helpers(static_cast<int>(pieces)) : 0;
    RowTeam::instance().run(static_cast<int>(pieces), helpers, [&](int q, int) {
      // rows [a, b) of the block; a is a multiple of 8, so whole mask bytes
      const idx_t a = (m * q / pieces) & ~idx_t{7};
      const idx_t b = q + 1 == pieces ? m : (m * (q + 1) / pieces) & ~idx_t{7};
      for (idx_t t = 0; t < g; ++t) {
        const std::uint8_t* bits = M.row(groups[t]);
        for (idx_t l = 0; l < c; ++l) {
          const double* tr = T.get() + (t * c + l) * m;
          for (idx_t r = a; r < b; ++r) {
            const idx_t k = k0 + r;
            // a select, not a product: 0 * inf would put NaN on rows the mask drops
            out[k * c + l] += ((bits[k >> 3] >> (k & 7)) & 1u) ? tr[r] : 0.0;
          }
        }
      }
    });
  }
}

// Outputs per register tile of gradient_tile (CT accumulators of 4 doubles, one x
// vector and one broadcast: 14 of AVX2's 16 registers).
constexpr idx_t kGradientTile = 12;
// Rows per block of gradient_tile: each row of a block is read 4 features at a time,
// across the block before the next 4; 8 rows keep the hardware prefetchers on all the
// rows' streams (16 ran at half the rate with X beyond the last-level cache, 32 at a
// quarter).
constexpr idx_t kGradientRows = 8;

// gt[l0 + l] (rows of d doubles, l < CT) += sum over idx[t0:t1] of R_k,l0+l x_k: for each
// block of kGradientRows rows and each 4 features, the CT sums in registers across the
// block. Each entry adds its terms in row order, one multiply-add each. d = 784, 10
// outputs, one thread, 1500-row groups: 15 -> 22 Gflop/s with X in the last-level cache
// or beyond it, 23 -> 29 within L2 (four rows at a time through gt in memory before).
template <int CT>
inline void gradient_tile(const double* __restrict X, idx_t d, const std::int32_t* idx, idx_t t0,
                          idx_t t1, const double* __restrict R, idx_t c, idx_t l0,
                          double* __restrict gt) {
  const double* xr[kGradientRows];
  const double* rr[kGradientRows];
  for (idx_t a = t0; a < t1; a += kGradientRows) {
    const idx_t m = std::min(t1 - a, kGradientRows);
    for (idx_t t = 0; t < m; ++t) {
      xr[t] = X + idx[a + t] * d;
      rr[t] = R + idx[a + t] * c + l0;
    }
    idx_t j = 0;
    for (; j + 4 <= d; j += 4) {
      v4d acc[CT];
      for (int l = 0; l < CT; ++l) load4(acc[l], gt + (l0 + l) * d + j);
      for (idx_t t = 0; t < m; ++t) {
        v4d x;
        load4(x, xr[t] + j);
        for (int l = 0; l < CT; ++l) acc[l] += rr[t][l] * x;
      }
      for (int l = 0; l < CT; ++l) store4(gt + (l0 + l) * d + j, acc[l]);
    }
    for (; j < d; ++j)
      for (idx_t t = 0; t < m; ++t)
        for (int l = 0; l < CT; ++l)
          gt[(l0 + l) * d + j] = multiply_add(rr[t][l], xr[t][j], gt[(l0 + l) * d + j]);
  }
}

// g (d x c) += sum over idx[t0:t1] of x_k r_k^T.
inline void gather_gradient_range(const double* __restrict X, idx_t d, const std::int32_t* idx,
                                  idx_t t0, idx_t t1, const double* __restrict R, idx_t c,
                                  double* __restrict g) {
  if (c == 1) {
    gradient_rows(X, d, idx, t0, t1, R, g);
    return;
  }
  // several outputs: each output's sums in a contiguous row of gt (c x d), added to g
  // (d x c) at the end (gt, c d doubles, leaves L1 at 10 outputs of 784 features).
  // Outputs in tiles of up to 12, each held in registers for 4 features at a time over
  // a block of rows (gradient_tile); every entry takes its rows' terms one at a time in
  // row order, as a plain loop would.
  thread_local std::vector<double> gt;
  gt.assign(c * d, 0.0);
  for (idx_t l0 = 0; l0 < c;) {
    const idx_t ct = std::min<idx_t>(c - l0, kGradientTile);
    with_int<1, kGradientTile>(static_cast<int>(ct), [&](auto C) {
      gradient_tile<decltype(C)::value>(X, d, idx, t0, t1, R, c, l0, gt.data());
    });
    l0 += ct;
  }
  for (idx_t j = 0; j < d; ++j)
    for (idx_t l = 0; l < c; ++l) g[j * c + l] += gt[l * d + j];
}

// G (p x d x c) = X^T D_i R for all groups (unscaled). Rows are taken in chunks that stay
// in cache while every group of the thread's share reads them, so X streams from memory
// once per thread rather than once per group.
// With P (a padded copy of X), the rows go through the vector kernels (tiles of outputs
// when c >= 2). With `stop`, the chunks left when it fires are skipped (G incomplete).
// With a list of groups (`only`, m of them), G (m x d x c) holds theirs, in list order.
inline void masked_gradients(const double* X, idx_t n, idx_t d, const PackedMasks& M,
                             const double* R, idx_t c, double* G,
                             const PaddedRows* P = nullptr, Interrupt* stop = nullptr,
                             const idx_t* only = nullptr, idx_t m = 0) {
  const bool padded = P != nullptr && P->enabled();
  const idx_t dc = d * c, p = only != nullptr ? m : M.p;
  const idx_t chunk = 512;  // rows; a multiple of 8 so chunks start on a byte
  std::fill(G, G + p * dc, 0.0);
  // Chunks of groups, a few per thread (each group's sum is the same in any chunk).
  const bool big = 0.5 * static_cast<double>(n) * static_cast<double>(p * dc) >= kParallelWork;
  const int threads = big ? team_helpers(static_cast<int>(std::min<idx_t>(p, 4096))) + 1 : 1;
  const int nc = static_cast<int>(std::min<idx_t>(p, 4 * threads));
  RowTeam::instance().run(nc, threads - 1, [&](int q, int) {
    const idx_t i0 = p * q / nc, i1 = p * (q + 1) / nc;
    for (idx_t k0 = 0; k0 < n; k0 += chunk) {
      if (stop != nullptr && (*stop)()) break;
      const idx_t k1 = std::min(n, k0 + chunk);
      const idx_t b0 = k0 >> 3, b1 = (k1 + 7) >> 3;
      for (idx_t i = i0; i < i1; ++i) {
        const std::uint8_t* bits = M.row(only != nullptr ? only[i] : i);
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
        // the chunk's rows of the group through the gathered loops
        thread_local std::vector<std::int32_t> rows;
        rows.clear();
        for (idx_t byte = b0; byte < b1; ++byte)
          for (unsigned v = bits[byte]; v; v &= v - 1)
            rows.push_back(static_cast<std::int32_t>(byte * 8 + __builtin_ctz(v)));
        gather_gradient_range(X, d, rows.data(), 0, static_cast<idx_t>(rows.size()), R, c, g);
      }
    }
  });
}

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

// The chunks of a block step's row loops (RowTeam): about kChunkWork multiply-adds each,
// at least kChunkRows rows, at most kMaxChunks, fixed by the row count and the width
// alone. The gradient sums each chunk apart and adds the chunks in order, so a solve
// gives the same bits on any number of threads.
constexpr double kChunkWork = 1 << 15;
constexpr idx_t kChunkRows = 256;
constexpr idx_t kMaxChunks = 64;

inline int row_chunks(idx_t cnt, idx_t width) {
  const double by_work = static_cast<double>(cnt) * static_cast<double>(width) / kChunkWork;
  const idx_t n = std::min<idx_t>({static_cast<idx_t>(by_work), cnt / kChunkRows, kMaxChunks});
  return static_cast<int>(std::max<idx_t>(n, 1));
}

// g (d x c) = sum_{k in idx} x_k r_k^T over an explicit row list (the working set's groups),
// in chunks shared by the RowTeam's threads.
inline void gather_gradient(const double* X, idx_t d, const std::int32_t* idx, idx_t cnt,
                            const double* R, idx_t c, double* g,
                            const PaddedRows* P = nullptr) {
  const idx_t dc = d * c;
  std::fill(g, g + dc, 0.0);
  const int n = row_chunks(cnt, dc);
  if (n == 1) {
    gather_range(X, P, d, idx, 0, cnt, R, c, g);
    return;
  }
  // Reused (a solve makes thousands of these calls); the chunks, on any thread, write
  // through this pointer (a thread_local named inside the lambda would be the helper's).
  thread_local std::vector<double> buffer;
  buffer.assign(n * dc, 0.0);
  double* part = buffer.data();
  RowTeam::instance().run(n, team_helpers(n), [&](int k, int) {
    gather_range(X, P, d, idx, cnt * k / n, cnt * (k + 1) / n, R, c, part + k * dc);
  });
  for (int k = 0; k < n; ++k)
    for (idx_t a = 0; a < dc; ++a) g[a] += part[k * dc + a];
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
  if (c == 1) {
    update_rows(X, d, idx, t0, t1, delta, R);
    return;
  }
  update_rows_multi(X, d, idx, t0, t1, delta, c, R);
}

// R_k -= x_k^T delta for k in idx; rows are distinct, so the chunks share R.
inline void gather_update(const double* X, idx_t d, const std::int32_t* idx, idx_t cnt,
                          const double* delta, idx_t c, double* R,
                          const PaddedRows* P = nullptr) {
  const int n = row_chunks(cnt, d * c);
  if (n == 1) {
    gather_update_range(X, P, d, idx, 0, cnt, delta, c, R);
    return;
  }
  RowTeam::instance().run(n, team_helpers(n), [&](int k, int) {
    gather_update_range(X, P, d, idx, cnt * k / n, cnt * (k + 1) / n, delta, c, R);
  });
}

// One output, plain row loops (rows wider than the padded kernels): the deferred update
// R_k -= x_k^T delta over the sorted rows upd[0:nu] of one block step, then the gradient
// g (d) = sum_{k in idx} x_k R_k over the sorted rows idx[0:ng] of the next, in one sweep
// over the union of the two lists. A row in both is read once: X out of cache makes the
// block steps' row loops memory-bound (W784: 88% of a solve in those two loops), and two
// consecutive groups share about half their rows. The chunks are those of
// gather_gradient (positions in idx, fixed by ng and d); chunk k also applies the updates
// of the rows between its first row and the next chunk's (the first chunk from row 0,
// the last to the end), so every row is updated by one chunk, before any read of it.
// Each R_k and each chunk's sum is computed exactly as by gather_update followed by
// gather_gradient: the same bits, on any number of threads.
inline void update_then_gather_range(const double* __restrict X, idx_t d, const std::int32_t* upd,
                                     idx_t a0, idx_t a1, const double* __restrict delta,
                                     const std::int32_t* idx, idx_t t0, idx_t t1,
                                     double* __restrict R, double* __restrict g) {
  // four gradient rows at a time, after the updates of every row up to the last of them
  // (two at a time): a row in both lists is still in cache when the gradient reads it
  idx_t a = a0, t = t0;
  auto updates_to = [&](idx_t k) {
    idx_t b = a;
    while (b < a1 && upd[b] <= k) ++b;
    update_rows(X, d, upd, a, b, delta, R);
    a = b;
  };
  for (; t + 4 <= t1; t += 4) {
    updates_to(idx[t + 3]);
    gradient_rows(X, d, idx, t, t + 4, R, g);
  }
  for (; t < t1; ++t) {
    updates_to(idx[t]);
    gradient_rows(X, d, idx, t, t + 1, R, g);
  }
  update_rows(X, d, upd, a, a1, delta, R);
}

// The same sweep on the padded rows P when given (pad_update_then_gather_range).
inline void update_then_gather_chunk(const double* X, const PaddedRows* P, idx_t d,
                                     const std::int32_t* upd, idx_t a0, idx_t a1,
                                     const double* delta, const std::int32_t* idx, idx_t t0,
                                     idx_t t1, double* R, double* g) {
  if (P != nullptr && P->enabled()) {
    with_nv(P->nv(), [&](auto N) {
      pad_update_then_gather_range<decltype(N)::value>(P->data(), d, upd, a0, a1, delta, idx,
                                                       t0, t1, R, g);
    });
    return;
  }
  update_then_gather_range(X, d, upd, a0, a1, delta, idx, t0, t1, R, g);
}

inline void update_then_gather(const double* X, idx_t d, const std::int32_t* upd, idx_t nu,
                               const double* delta, const std::int32_t* idx, idx_t ng,
                               double* R, double* g, const PaddedRows* P = nullptr) {
  std::fill(g, g + d, 0.0);
  const int n = row_chunks(ng, d);
  // chunk k: gradient rows idx[ng k / n : ng (k + 1) / n], updates upd[cut[k] : cut[k + 1]]
  auto cut = [&](int k) -> idx_t {
    if (k == 0) return 0;
    if (k == n) return nu;
    const std::int32_t first = idx[ng * k / n];
    return std::lower_bound(upd, upd + nu, first) - upd;
  };
  if (n == 1) {
    update_then_gather_chunk(X, P, d, upd, 0, nu, delta, idx, 0, ng, R, g);
    return;
  }
  thread_local std::vector<double> buffer;
  buffer.assign(n * d, 0.0);
  double* part = buffer.data();
  RowTeam::instance().run(n, team_helpers(n), [&](int k, int) {
    update_then_gather_chunk(X, P, d, upd, cut(k), cut(k + 1), delta, idx, ng * k / n,
                             ng * (k + 1) / n, R, part + k * d);
  });
  for (int k = 0; k < n; ++k)
    for (idx_t a = 0; a < d; ++a) g[a] += part[k * d + a];
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
