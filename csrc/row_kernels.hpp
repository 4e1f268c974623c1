// Row kernels on a padded copy of X, the inner loops of the solver. The first ones take one
// output (R + l with stride c of an n x c residual; its gradient is G + l, stride c); the
// tiled ones at the end take several outputs at once (c >= 2):
//   gradient:  g = sum_{k in rows} r_k x_k      (d)
//   update:    r_k -= x_k^T delta  for k in rows
//   masked:    G_i = X^T D_i r for every group i (the certificate's full gradient)
// Each row of X is copied into 4 * NV doubles (zero padded, 32-byte aligned), so a row is
// NV 4-wide vectors and, with NV a compile-time constant, the accumulators live in
// registers. Vectors are GCC/Clang vector extensions: AVX2 in the x86-64-v3 build, SSE2 pairs
// otherwise. Sums run in a fixed order (rows in list order, two interleaved partial sums
// for short rows), so results do not depend on threads or timing.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "masks.hpp"

namespace fixntk {

typedef double v4d __attribute__((vector_size(32)));

constexpr int kMaxVec = 32;  // rows up to d = 128 use the padded kernels

class PaddedRows {
 public:
  PaddedRows() = default;
  PaddedRows(const double* X, idx_t n, idx_t d) : n_(n), d_(d) {
    const idx_t nv = (d + 3) / 4;
    if (nv < 1 || nv > kMaxVec || n < 1) return;
    nv_ = static_cast<int>(nv);
    const idx_t dp = 4 * nv;
    void* mem = std::aligned_alloc(32, static_cast<std::size_t>(n * dp) * sizeof(double));
    if (mem == nullptr) throw std::bad_alloc();
    buf_.reset(static_cast<double*>(mem));
    for (idx_t k = 0; k < n; ++k) {
      double* dst = buf_.get() + k * dp;
      std::memcpy(dst, X + k * d, static_cast<std::size_t>(d) * sizeof(double));
      std::memset(dst + d, 0, static_cast<std::size_t>(dp - d) * sizeof(double));
    }
  }
  bool enabled() const { return nv_ > 0; }
  int nv() const { return nv_; }
  idx_t d() const { return d_; }
  const double* data() const { return buf_.get(); }

 private:
  struct Free {
    void operator()(double* p) const { std::free(p); }
  };
  idx_t n_ = 0, d_ = 0;
  int nv_ = 0;
  std::unique_ptr<double, Free> buf_;
};

// f(std::integral_constant<int, v>) for a runtime v in [Lo, Hi] (v below Lo: Lo; above
// Hi: Hi), by a chain of compile-time cases.
template <int Lo, int Hi, class F>
inline void with_int(int v, F&& f) {
  if constexpr (Lo == Hi) {
    f(std::integral_constant<int, Lo>{});
  } else if (v <= Lo) {
    f(std::integral_constant<int, Lo>{});
  } else {
    with_int<Lo + 1, Hi>(v, std::forward<F>(f));
  }
}

// Calls f(std::integral_constant<int, NV>) for the runtime nv in 1..kMaxVec.
template <class F>
inline void with_nv(int nv, F&& f) {
  if (nv >= 1 && nv <= kMaxVec) with_int<1, kMaxVec>(nv, std::forward<F>(f));
}

template <int NV>
inline const v4d* vrow(const double* Xp, idx_t k) {
  return reinterpret_cast<const v4d*>(Xp + k * (4 * NV));
}

// Rows listed this far ahead are requested from memory before they are needed: the row
// lists skip through X, which defeats the hardware prefetcher once X leaves the cache.
constexpr idx_t kAhead = 16;

template <int NV>
inline void prefetch_row(const double* Xp, idx_t k) {
  const char* p = reinterpret_cast<const char*>(Xp + k * (4 * NV));
  for (int b = 0; b < 32 * NV; b += 64) __builtin_prefetch(p + b);
}

// Adds the first d entries of the NV accumulators to g[0], g[gs], g[2 gs], ...
template <int NV>
inline void add_out(const v4d* a, idx_t d, double* g, idx_t gs) {
  double tmp[4 * NV];
  std::memcpy(tmp, a, sizeof(tmp));
  for (idx_t j = 0; j < d; ++j) g[j * gs] += tmp[j];
}

// dl (NV vectors) = the d entries delta[0], delta[ds], ... zero padded, as a row is.
template <int NV>
inline void pad_delta(const double* delta, idx_t ds, idx_t d, v4d* dl) {
  double dpad[4 * NV] = {0.0};
  for (idx_t j = 0; j < d; ++j) dpad[j] = delta[j * ds];
  std::memcpy(dl, dpad, sizeof(dpad));
}

// x^T delta for a padded row x and the padded delta dl (the update's dot product, one
// expression for every kernel that updates rows, so they agree to the bit).
template <int NV>
inline double pad_row_dot(const v4d* x, const v4d* dl) {
  v4d s = x[0] * dl[0];
  for (int v = 1; v < NV; ++v) s += x[v] * dl[v];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// g[j rs] += sum over idx[t0:t1] of R[k rs] x_kj  (rs = c: one output of R and of G).
template <int NV>
inline void pad_gradient_range(const double* __restrict Xp, idx_t d, const std::int32_t* idx,
                               idx_t t0, idx_t t1, const double* __restrict R, idx_t rs,
                               double* __restrict g) {
  v4d a[NV], b[NV];
  for (int v = 0; v < NV; ++v) a[v] = b[v] = v4d{0.0, 0.0, 0.0, 0.0};
  idx_t t = t0;
  if constexpr (NV <= 6) {  // two rows in flight: twice the independent FMA chains
    for (; t + 2 <= t1; t += 2) {
      if (t + kAhead + 1 < t1) {
        prefetch_row<NV>(Xp, idx[t + kAhead]);
        prefetch_row<NV>(Xp, idx[t + kAhead + 1]);
      }
      const idx_t k0 = idx[t], k1 = idx[t + 1];
      const v4d* x0 = vrow<NV>(Xp, k0);
      const v4d* x1 = vrow<NV>(Xp, k1);
      const double r0 = R[k0 * rs], r1 = R[k1 * rs];
      for (int v = 0; v < NV; ++v) {
        a[v] += r0 * x0[v];
        b[v] += r1 * x1[v];
      }
    }
  }
  for (; t < t1; ++t) {
    const idx_t k = idx[t];
    const v4d* x = vrow<NV>(Xp, k);
    const double r = R[k * rs];
    for (int v = 0; v < NV; ++v) a[v] += r * x[v];
  }
  for (int v = 0; v < NV; ++v) a[v] += b[v];
  add_out<NV>(a, d, g, rs);
}

// R[k rs] -= x_k^T delta for k in idx[t0:t1]; delta has d entries, ds apart.
template <int NV>
inline void pad_update_range(const double* __restrict Xp, idx_t d, const std::int32_t* idx,
                             idx_t t0, idx_t t1, const double* delta, idx_t ds,
                             double* __restrict R, idx_t rs) {
  v4d dl[NV];
  pad_delta<NV>(delta, ds, d, dl);
  for (idx_t t = t0; t < t1; ++t) {
    if (t + kAhead < t1) prefetch_row<NV>(Xp, idx[t + kAhead]);
    const idx_t k = idx[t];
    R[k * rs] -= pad_row_dot<NV>(vrow<NV>(Xp, k), dl);
  }
}

// One output (rs = 1): the update r_k -= x_k^T delta over the sorted rows upd[a0:a1] of
// one block step, then the gradient g += sum_{k in idx[t0:t1]} r_k x_k over the sorted
// rows of the next, in one sweep over the union of the two lists, so that a row in both
// is read from memory once (update_then_gather in masked_ops.hpp splits the lists into
// chunks). Each r_k and the sum are computed exactly as by pad_update_range followed by
// pad_gradient_range (the same row dot product; the sum's rows in list order, in the same
// two chains for short rows): the same bits.
template <int NV>
inline void pad_update_then_gather_range(const double* __restrict Xp, idx_t d,
                                         const std::int32_t* upd, idx_t a0, idx_t a1,
                                         const double* delta, const std::int32_t* idx,
                                         idx_t t0, idx_t t1, double* __restrict R,
                                         double* __restrict g) {
  v4d dl[NV], a[NV], b[NV];
  pad_delta<NV>(delta, 1, d, dl);
  for (int v = 0; v < NV; ++v) a[v] = b[v] = v4d{0.0, 0.0, 0.0, 0.0};
  idx_t u = a0;
  auto update_to = [&](idx_t k) {  // the updates of the rows up to k
    for (; u < a1 && upd[u] <= k; ++u) {
      if (u + kAhead < a1) prefetch_row<NV>(Xp, upd[u + kAhead]);
      R[upd[u]] -= pad_row_dot<NV>(vrow<NV>(Xp, upd[u]), dl);
    }
  };
  idx_t t = t0;
  if constexpr (NV <= 6) {  // pad_gradient_range's two chains, row for row
    for (; t + 2 <= t1; t += 2) {
      if (t + kAhead + 1 < t1) {
        prefetch_row<NV>(Xp, idx[t + kAhead]);
        prefetch_row<NV>(Xp, idx[t + kAhead + 1]);
      }
      const idx_t k0 = idx[t], k1 = idx[t + 1];
      update_to(k0);
      const v4d* x0 = vrow<NV>(Xp, k0);
      const double r0 = R[k0];
      for (int v = 0; v < NV; ++v) a[v] += r0 * x0[v];
      update_to(k1);
      const v4d* x1 = vrow<NV>(Xp, k1);
      const double r1 = R[k1];
      for (int v = 0; v < NV; ++v) b[v] += r1 * x1[v];
    }
  }
  for (; t < t1; ++t) {
    if (t + kAhead < t1) prefetch_row<NV>(Xp, idx[t + kAhead]);
    const idx_t k = idx[t];
    update_to(k);
    const v4d* x = vrow<NV>(Xp, k);
    const double r = R[k];
    for (int v = 0; v < NV; ++v) a[v] += r * x[v];
  }
  update_to(std::numeric_limits<std::int32_t>::max());  // the rows after the last read
  for (int v = 0; v < NV; ++v) a[v] += b[v];
  add_out<NV>(a, d, g, 1);
}

// g[j rs] += sum of R[k rs] x_kj over the rows k in [8 b0, 8 b1) whose bit is set.
template <int NV>
inline void pad_bits_gradient(const double* __restrict Xp, idx_t d, const std::uint8_t* bits,
                              idx_t b0, idx_t b1, const double* __restrict R, idx_t rs,
                              double* __restrict g) {
  v4d a[NV];
  for (int v = 0; v < NV; ++v) a[v] = v4d{0.0, 0.0, 0.0, 0.0};
  // 64 rows per word (bytes read little-endian, as on x86-64 and arm64); the last word may
  // be partial.
  for (idx_t byte = b0; byte < b1; byte += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, bits + byte, static_cast<std::size_t>(std::min<idx_t>(8, b1 - byte)));
    while (w) {
      const idx_t k = byte * 8 + __builtin_ctzll(w);
      w &= w - 1;
      const v4d* x = vrow<NV>(Xp, k);
      const double r = R[k * rs];
      for (int v = 0; v < NV; ++v) a[v] += r * x[v];
    }
  }
  add_out<NV>(a, d, g, rs);
}

// ---- Several outputs at once (c > 1) -------------------------------------------------
// g (d x c) += sum over rows k of x_k r_k^T, tiled: a tile holds VT vectors of the row
// (4 VT entries of x) times OB outputs, VT * OB <= 12 accumulators in registers, so each
// row is loaded once per tile instead of once per output. Rows come from a row source:
// an index list (the working set's groups) or the set bits of a mask range (the
// certificate's full gradient).
struct IndexRows {
  const std::int32_t* idx;
  idx_t t0, t1;
  template <class F>
  void each(const F& f) const {
    for (idx_t t = t0; t < t1; ++t) f(static_cast<idx_t>(idx[t]));
  }
};

struct BitRows {
  const std::uint8_t* bits;
  idx_t b0, b1;
  template <class F>
  void each(const F& f) const {
    for (idx_t byte = b0; byte < b1; byte += 8) {
      std::uint64_t w = 0;
      std::memcpy(&w, bits + byte, static_cast<std::size_t>(std::min<idx_t>(8, b1 - byte)));
      while (w) {
        f(byte * 8 + __builtin_ctzll(w));
        w &= w - 1;
      }
    }
  }
};

constexpr int kTileAcc = 12;  // accumulators of one tile (of 16 vector registers)
constexpr int kMaxVT = 6;     // vectors per tile

template <int VT, int OB, class Rows>
inline void tile_gradient(const double* __restrict Xp, idx_t dp, int v0, idx_t d,
                          const Rows& rows, const double* __restrict R, idx_t c, idx_t l0,
                          double* __restrict g) {
  v4d a[VT][OB];
  for (int v = 0; v < VT; ++v)
    for (int o = 0; o < OB; ++o) a[v][o] = v4d{0.0, 0.0, 0.0, 0.0};
  rows.each([&](idx_t k) {
    const v4d* x = reinterpret_cast<const v4d*>(Xp + k * dp) + v0;
    const double* r = R + k * c + l0;
    v4d xv[VT];
    for (int v = 0; v < VT; ++v) xv[v] = x[v];
    for (int o = 0; o < OB; ++o) {
      const double ro = r[o];
      for (int v = 0; v < VT; ++v) a[v][o] += ro * xv[v];
    }
  });
  for (int v = 0; v < VT; ++v) {
    double tmp[4];
    for (int o = 0; o < OB; ++o) {
      std::memcpy(tmp, &a[v][o], sizeof(tmp));
      for (int e = 0; e < 4; ++e) {
        const idx_t j = 4 * (v0 + v) + e;
        if (j < d) g[j * c + l0 + o] += tmp[e];
      }
    }
  }
}

// Calls f(std::integral_constant<int, VT>, std::integral_constant<int, OB>) for the
// runtime vt in 1..kMaxVT and ob in {1, 2, 4}.
template <class F>
inline void with_tile(int vt, int ob, F&& f) {
  auto with_ob = [&](auto V) {
    switch (ob) {
      case 1: f(V, std::integral_constant<int, 1>{}); break;
      case 2: f(V, std::integral_constant<int, 2>{}); break;
      default: f(V, std::integral_constant<int, 4>{}); break;
    }
  };
  switch (vt) {
    case 1: with_ob(std::integral_constant<int, 1>{}); break;
    case 2: with_ob(std::integral_constant<int, 2>{}); break;
    case 3: with_ob(std::integral_constant<int, 3>{}); break;
    case 4: with_ob(std::integral_constant<int, 4>{}); break;
    case 5: with_ob(std::integral_constant<int, 5>{}); break;
    default: with_ob(std::integral_constant<int, 6>{}); break;
  }
}

// Calls f(V, O, v0, l0) for the tiles of a row of nv vectors times c outputs: outputs in
// tiles of 4 (then 2, then 1: measured, tiles of 4 outputs run at about 1.7 times the rate
// of one output at a time, tiles of 3 no faster than 1), each output tile's vectors split
// evenly into tiles of at most per(OB); V and O are the tile's integral_constant sizes.
template <class Per, class F>
inline void for_each_tile(int nv, idx_t c, const Per& per, const F& f) {
  for (idx_t l0 = 0; l0 < c;) {
    const int ob = c - l0 >= 4 ? 4 : c - l0 >= 2 ? 2 : 1;
    const int nt = (nv + per(ob) - 1) / per(ob);
    for (int b = 0; b < nt; ++b) {
      const int v0 = nv * b / nt, v1 = nv * (b + 1) / nt;
      with_tile(v1 - v0, ob, [&](auto V, auto O) { f(V, O, v0, l0); });
    }
    l0 += ob;
  }
}

// g (d x c) += sum over rows of x_k r_k^T for c >= 2, in tiles of kTileAcc accumulators.
template <class Rows>
inline void pad_gradient_multi(const PaddedRows& P, const Rows& rows, const double* R,
                               idx_t c, double* g) {
  const idx_t dp = 4 * static_cast<idx_t>(P.nv());
  for_each_tile(P.nv(), c, [](int ob) { return std::min(kTileAcc / ob, kMaxVT); },
                [&](auto V, auto O, int v0, idx_t l0) {
                  tile_gradient<decltype(V)::value, decltype(O)::value>(
                      P.data(), dp, v0, P.d(), rows, R, c, l0, g);
                });
}

// R[k c + l] -= x_k^T delta[:, l] for c >= 2, tile by tile: a tile holds 4 JT entries of
// the row times OB <= 4 outputs of delta as JT * 4 vectors over the outputs (registers);
// each entry x_kj is broadcast and multiplies its row of delta, so a row costs no
// horizontal sums, and the OB outputs of R are updated together.
template <int JT, int OB, class Rows>
inline void tile_update(const double* __restrict Xp, idx_t dp, int v0, idx_t d,
                        const Rows& rows, const double* __restrict delta, idx_t c, idx_t l0,
                        double* __restrict R) {
  v4d D[4 * JT];
  for (int j = 0; j < 4 * JT; ++j) {
    double t[4] = {0.0, 0.0, 0.0, 0.0};
    const idx_t jj = 4 * v0 + j;
    if (jj < d)
      for (int o = 0; o < OB; ++o) t[o] = delta[jj * c + l0 + o];
    std::memcpy(&D[j], t, sizeof(t));
  }
  rows.each([&](idx_t k) {
    const double* x = Xp + k * dp + 4 * v0;
    v4d s[JT];
    for (int v = 0; v < JT; ++v) {
      s[v] = x[4 * v] * D[4 * v];
      for (int e = 1; e < 4; ++e) s[v] += x[4 * v + e] * D[4 * v + e];
    }
    for (int v = 1; v < JT; ++v) s[0] += s[v];
    double* r = R + k * c + l0;
    if constexpr (OB == 4) {
      v4d cur;
      std::memcpy(&cur, r, sizeof(cur));
      cur -= s[0];
      std::memcpy(r, &cur, sizeof(cur));
    } else {
      for (int o = 0; o < OB; ++o) r[o] -= s[0][o];
    }
  });
}

// The same for OB = 1 or 2 outputs (the last of c = 3, 5, 6, 7...): each output's row
// of delta held as JT vectors over the row's entries, and R[k, l] -= the dot product of
// x_k with it (a horizontal sum a row). The broadcasts of tile_update cost a row as
// much for 1 output as for 4: on 5 classes its tile of the fifth output took half the
// time of the first four's.
template <int JT, int OB, class Rows>
inline void tile_update_dot(const double* __restrict Xp, idx_t dp, int v0, idx_t d,
                            const Rows& rows, const double* __restrict delta, idx_t c,
                            idx_t l0, double* __restrict R) {
  v4d D[OB][JT];
  for (int o = 0; o < OB; ++o)
    for (int v = 0; v < JT; ++v) {
      double t[4] = {0.0, 0.0, 0.0, 0.0};
      for (int e = 0; e < 4; ++e) {
        const idx_t jj = 4 * (v0 + v) + e;
        if (jj < d) t[e] = delta[jj * c + l0 + o];
      }
      std::memcpy(&D[o][v], t, sizeof(t));
    }
  rows.each([&](idx_t k) {
    const v4d* x = reinterpret_cast<const v4d*>(Xp + k * dp) + v0;
    double* r = R + k * c + l0;
    for (int o = 0; o < OB; ++o) {
      v4d s = x[0] * D[o][0];
      for (int v = 1; v < JT; ++v) s += x[v] * D[o][v];
      r[o] -= (s[0] + s[1]) + (s[2] + s[3]);
    }
  });
}

// R (n x c) -= X delta over the rows, for c >= 2: tiles of 4 outputs hold at most 3
// vectors of the row's entries (12 vectors of delta in registers); tiles of fewer
// outputs go by dot products (tile_update_dot), up to kMaxVT vectors a tile.
template <class Rows>
inline void pad_update_multi(const PaddedRows& P, const Rows& rows, const double* delta,
                             idx_t c, double* R) {
  const idx_t dp = 4 * static_cast<idx_t>(P.nv());
  // (a dot tile holds OB * JT + OB vectors: the whole row of up to 24 entries in one
  // pass over the rows)
  const auto per = [](int ob) { return ob == 4 ? 3 : kMaxVT; };
  for_each_tile(P.nv(), c, per, [&](auto V, auto O, int v0, idx_t l0) {
    if constexpr (decltype(V)::value <= 3 && decltype(O)::value == 4)
      tile_update<decltype(V)::value, 4>(P.data(), dp, v0, P.d(), rows, delta, c, l0, R);
    else if constexpr (decltype(O)::value < 4)
      tile_update_dot<decltype(V)::value, decltype(O)::value>(P.data(), dp, v0, P.d(),
                                                              rows, delta, c, l0, R);
  });
}

}  // namespace fixntk
