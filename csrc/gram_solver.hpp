// Covariance mode: the group lasso of a working set of k groups (d coefficients and c
// outputs each) solved from its Gram alone, no rows:
//   min_w  1/2 <w, H w> - <b, w> + y2 / 2 + lam sum_t ||w_t||_F,
// with H = A^T A / n (m x m, m = k d), b = A^T Y / n (m x c) and y2 = ||Y||^2 / n for the
// working set's design A = [D_i X]_{i in S} (weighted, centred versions alike: a caller
// with sample weights and an intercept passes the Gram of the weighted, centred design).
// This is 1/(2n) ||Y - A w||^2 + lam sum ||w_t|| written without the rows.
// Solved by the BCD solver's exact block updates (exact_block_solve on each block's
// Gram H_tt = U diag(s) U^T, eigendecompositions by SymEig) on the gradient of the smooth
// part g = H w - b, kept up to date by one column block of H per move, in a fresh shuffled
// order every epoch and with Anderson extrapolation of the iterates (g is affine in w,
// so the extrapolated g is the same combination), and Newton steps on the support once it
// settles (maybe_newton). Stopped on the duality gap of this
// problem (the formulas of the BCD solver's gram_stats): with R = Y - A w,
//   ||R||^2 / n = y2 - <b, w> + <w, g>,   <Y, R> / n = y2 - <b, w>,
//   theta = R / s,  s = max(1, max_t ||g_t|| / lam),
//   gap = P(w) - (<Y, R> / n / s - ||R||^2 / (2 n s^2)).
// g is recomputed exactly (one product with H) before every certificate.
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "bcd_solver.hpp"
#include "blas.hpp"
#include "block_update.hpp"
#include "interrupt.hpp"
#include "newton_polish.hpp"

namespace fixntk {

struct GramOptions {
  double lam = 0.0;
  double gap_target = 0.0;  // absolute gap to reach
  long max_epochs = 100000;
  int check_every = 5;      // certificate every this many epochs
  int anderson_k = 5;       // iterates combined by Anderson extrapolation (0: off)
  std::uint64_t seed = 0;   // of the shuffled orders
  bool newton = true;       // Newton polish on a settled support (see maybe_newton)
};

struct GramReport {
  double primal = 0.0;
  double dual = 0.0;
  double gap = 0.0;
  long n_epochs = 0;
  bool converged = false;
  bool interrupted = false;
};

class GramGroupLasso {
 public:
  // H (m x m, symmetric, row-major), b (m x c), all borrowed for the object's lifetime.
  GramGroupLasso(const double* H, const double* b, double y2, idx_t k, idx_t d, idx_t c,
                 GramOptions opt, std::function<bool()> should_stop)
      : H_(H), b_(b), y2_(y2), k_(k), d_(d), c_(c), m_(k * d), opt_(opt),
        stop_(std::move(should_stop)) {}

  // W (k x d x c, row-major) is the starting point and the result.
  GramReport run(double* W) {
    const idx_t k = k_, d = d_, c = c_, e = d * c, mc = m_ * c;
    GramReport rep;
    if (!prepare()) {
      rep.interrupted = true;
      return rep;
    }
    std::vector<double> g(mc), v(e), wnew(e), delta(e), work(2 * e + d);
    wnorm_.assign(k, 0.0);
    for (idx_t t = 0; t < k; ++t) wnorm_[t] = GroupLassoBCD::norm(W + t * e, e);
    const int K = opt_.anderson_k;
    std::vector<double> hist_w, hist_g;
    if (K > 0) {
      hist_w.assign((K + 1) * mc, 0.0);
      hist_g.assign((K + 1) * mc, 0.0);
    }
    int n_hist = 0;
    std::vector<idx_t> order(k);
    for (idx_t t = 0; t < k; ++t) order[t] = t;
    exact_gradient(W, g.data());
    stats(W, g.data(), rep);
    record(rep);
    if (rep.gap <= opt_.gap_target) {
      rep.converged = true;
      return rep;
    }
    for (long ep = 1;; ++ep) {
      GroupLassoBCD::shuffle(order, (opt_.seed << 32) ^ static_cast<std::uint64_t>(ep));
      for (idx_t t : order) {
        double* wt = W + t * e;
        for (idx_t a = 0; a < e; ++a) v[a] = -g[t * e + a];  // the block's correlation
        auto block_step = [&](auto C) {
          exact_block_solve<decltype(C)::value>(d, c, s_.data() + t * d, U_.data() + t * d * d,
                                                v.data(), wnorm_[t] > 0 ? wt : nullptr, opt_.lam,
                                                wnew.data(), work.data(), wnorm_[t]);
        };
        if (c == 1)
          block_step(std::integral_constant<int, 1>{});
        else
          block_step(std::integral_constant<int, 0>{});
        bool moved = false;
        for (idx_t a = 0; a < e; ++a) {
          delta[a] = wnew[a] - wt[a];
          moved |= delta[a] != 0.0;
        }
        if (!moved) continue;
        gram_block_axpy(H_, m_, d, c, t, delta.data(), g.data());
        std::copy(wnew.begin(), wnew.end(), wt);
        wnorm_[t] = GroupLassoBCD::norm(wt, e);
      }
      ++rep.n_epochs;
      if (K > 0) {
        std::copy(W, W + mc, hist_w.begin() + n_hist * mc);
        std::copy(g.begin(), g.end(), hist_g.begin() + n_hist * mc);
        if (++n_hist == K + 1) {
          anderson(W, g, hist_w, hist_g, K);
          n_hist = 0;
        }
      }
      if (stop_()) {
        rep.interrupted = true;
        return rep;
      }
      const bool last = rep.n_epochs >= opt_.max_epochs;
      if (ep % opt_.check_every != 0 && !last) continue;
      exact_gradient(W, g.data());
      stats(W, g.data(), rep);
      record(rep);
      if (rep.gap > opt_.gap_target && !last && opt_.newton && maybe_newton(W, g, rep)) {
        n_hist = 0;  // the extrapolation restarts from the polished point
        if (stop_()) {
          rep.interrupted = true;
          return rep;
        }
      }
      if (rep.gap <= opt_.gap_target) {
        rep.converged = true;
        return rep;
      }
      if (last) return rep;
    }
  }

 private:
  // Each block's Gram H_tt and its eigendecomposition; false if interrupted (asked
  // before each block).
  bool prepare() {
    if (!blas().ready()) throw std::runtime_error("fixntk: BLAS/LAPACK not registered");
    const idx_t k = k_, d = d_, m = m_;
    std::vector<double> Q(d * d);  // one block's Gram, read by the eigendecomposition
    s_.assign(k * d, 0.0);
    U_.assign(k * d * d, 0.0);
    SymEig eig(d);
    for (idx_t t = 0; t < k; ++t) {
      if (stop_()) return false;
      for (idx_t a = 0; a < d; ++a)
        std::copy(H_ + (t * d + a) * m + t * d, H_ + (t * d + a) * m + (t + 1) * d,
                  Q.begin() + a * d);
      if (!eig(Q.data(), s_.data() + t * d, U_.data() + t * d * d))
        throw std::runtime_error("fixntk: LAPACK dsyevd did not converge on a block Gram");
    }
    return true;
  }

  // g = H W - b, by BLAS (H is symmetric: H^T W = H W).
  void exact_gradient(const double* W, double* g) const {
    const int m = static_cast<int>(m_), c = static_cast<int>(c_);
    gemm_tn(m, c, m, 1.0, H_, m, W, c, 0.0, g, c);
    for (idx_t a = 0; a < m_ * c_; ++a) g[a] -= b_[a];
  }

  // Objective, dual and gap at (w, g = H w - b).
  void stats(const double* w, const double* g, GramReport& rep) const {
    const idx_t e = d_ * c_, mc = m_ * c_;
    double wg = 0.0, bw = 0.0, pen = 0.0, gmax = 0.0;
    for (idx_t a = 0; a < mc; ++a) {
      wg += w[a] * g[a];
      bw += b_[a] * w[a];
    }
    for (idx_t t = 0; t < k_; ++t) {
      pen += GroupLassoBCD::norm(w + t * e, e);
      gmax = std::max(gmax, GroupLassoBCD::norm(g + t * e, e));
    }
    const double r2 = y2_ - bw + wg, yr = y2_ - bw;
    const double s = std::max(1.0, gmax / opt_.lam);
    rep.primal = 0.5 * r2 + opt_.lam * pen;
    rep.dual = yr / s - 0.5 * r2 / (s * s);
    rep.gap = rep.primal - rep.dual;
  }

  void record(const GramReport& rep) {
    gap_history_.push_back(rep.gap);
    epoch_history_.push_back(rep.n_epochs);
  }

  // The Newton polish (newton_polish.hpp) on the nonzero blocks, once they are the same
  // at two consecutive certificates and differ from the last support polished, at most
  // kNewtonBuilds times, on at most kNewtonMax unknowns, with the gap within 1e-3 of
  // F(0) = y2 / 2, and when it costs less than half the epochs left (the rule of
  // GroupLassoBCD::newton_pays): the epochs left extrapolated from the last decade of
  // the gap's history, each about |S| d m c multiply-adds (the column blocks of H the
  // nonzero blocks' moves add), against three Newton steps of (|S| d c)^3 / 3 each. Block steps converge slowly where the blocks
  // are strongly coupled (columns correlated at 0.99: a fixntk.dask.solve of 20000 rows
  // took 74180 client epochs, 11460 with the polish), Newton in a few steps once the
  // support has settled. True if it ran; the certificate in rep is then that of the
  // polished point.
  bool maybe_newton(double* W, std::vector<double>& g, GramReport& rep) {
    const idx_t e = d_ * c_, mc = m_ * c_;
    std::vector<idx_t> S;
    for (idx_t t = 0; t < k_; ++t)
      if (wnorm_[t] > 0) S.push_back(t);
    const bool stable = S == last_support_;
    last_support_ = S;
    if (!stable || S.empty() || S == newton_support_ || n_builds_ >= kNewtonBuilds) return false;
    if (!(rep.gap <= 1e-3 * 0.5 * y2_) || !blas().ready()) return false;
    const double left =
        epochs_left(gap_history_, epoch_history_, rep.n_epochs, rep.gap, opt_.gap_target);
    // the Newton system is (|S| d c)^2 doubles: at most that of the BCD solver's default
    // support Gram (gram_max, 4096 unknowns: 128 MiB), whatever the cost rule says
    if (static_cast<idx_t>(S.size()) * e > kNewtonMax) return false;
    const double ms = static_cast<double>(S.size() * e);
    const double epoch_fma = static_cast<double>(S.size() * d_) * static_cast<double>(m_ * c_);
    // (the factorisations run at BLAS-3's rate, about kNewtonSpeed times the epochs'
    // block steps: counted at the epochs' rate, the polish waited on make_friedman1,
    // 50000 rows, 156 groups of 11, at 1e-3 lam_max with an intercept, through 9400
    // epochs; 27.9 s -> 18.2 s for the solve)
    if (ms * ms * ms > 0.5 * kNewtonSpeed * left * epoch_fma) return false;
    newton_support_ = S;
    ++n_builds_;
    std::vector<double> w(W, W + mc);
    newton_on_support(
        H_, m_, d_, c_, opt_.lam, S, w, g,
        [&](const std::vector<double>& wv, const std::vector<double>& gv) {
          return primal(wv.data(), gv.data());
        },
        [&]() { return stop_(); });
    std::copy(w.begin(), w.end(), W);
    for (idx_t t : S) wnorm_[t] = l2norm(W + t * e, e);
    exact_gradient(W, g.data());
    stats(W, g.data(), rep);
    return true;
  }

  double primal(const double* w, const double* g) const {
    GramReport r;
    stats(w, g, r);
    return r.primal;
  }

  // Extrapolates the last K + 1 iterates (w and g together); kept only if the objective
  // drops.
  void anderson(double* W, std::vector<double>& g, const std::vector<double>& hw,
                const std::vector<double>& hg, int K) {
    const idx_t mc = m_ * c_, e = d_ * c_;
    std::vector<double> z;
    if (!GroupLassoBCD::anderson_weights(hw, mc, K, z)) return;
    std::vector<double> wacc(mc, 0.0), gacc(mc, 0.0);
    for (int a = 0; a < K; ++a) {
      const double* wa = hw.data() + (a + 1) * mc;
      const double* ga = hg.data() + (a + 1) * mc;
      for (idx_t t = 0; t < mc; ++t) {
        wacc[t] += z[a] * wa[t];
        gacc[t] += z[a] * ga[t];
      }
    }
    if (!(primal(wacc.data(), gacc.data()) < primal(W, g.data()))) return;
    std::copy(wacc.begin(), wacc.end(), W);
    g.swap(gacc);
    for (idx_t t = 0; t < k_; ++t) wnorm_[t] = GroupLassoBCD::norm(W + t * e, e);
  }

  const double* H_;
  const double* b_;
  double y2_;
  idx_t k_, d_, c_, m_;
  GramOptions opt_;
  Interrupt stop_;  // asked at most every 0.1 s (see Interrupt)
  std::vector<double> s_, U_, wnorm_;
  std::vector<double> gap_history_;   // gap at each certificate
  std::vector<long> epoch_history_;   // epochs spent when it was computed
  std::vector<idx_t> last_support_, newton_support_;
  int n_builds_ = 0;
  static constexpr int kNewtonBuilds = 30;
  static constexpr idx_t kNewtonMax = 4096;
  static constexpr double kNewtonSpeed = 4.0;
};

}  // namespace fixntk
