// Working-set block coordinate descent for the gated ReLU group lasso
//   F(W) = 1/(2n) || sum_i D_i X W_i - Y ||_F^2 + lam sum_i ||W_i||_F,
// stopped on the duality gap with the rescaled residual as dual point:
//   theta = R / max(1, max_i ||X^T D_i R||_F / (n lam)),
//   gap   = F(W) - (||Y||^2 - ||Y - theta||^2) / (2n).
// Outer loop: all block gradients in one masked product, certificate, working set of the
// active groups plus the worst KKT violators (doubling). Inner loop: exact block updates
// from the cached block Gram X^T D_i X / n and its eigendecomposition, residual kept exact.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include "block_update.hpp"
#include "masked_ops.hpp"
#include "masks.hpp"

namespace fixntk {

struct SolverOptions {
  double lam = 0.0;
  double tol = 1e-6;          // stop when gap <= tol * F(0)
  long max_epochs = 100000;   // passes over the working set, all outer iterations together
  idx_t ws_start = 10;        // first working set size
  double inner_ratio = 0.3;   // inner problem solved to gap <= ratio * outer gap
  int check_every = 5;        // inner gap checked every this many epochs
  int anderson_k = 5;         // iterates combined by Anderson extrapolation (0: off)
};

struct SolverReport {
  long n_epochs = 0;
  long n_outer = 0;
  double primal = 0.0;
  double dual = 0.0;
  double gap = 0.0;
  double f0 = 0.0;
  bool converged = false;
  bool interrupted = false;
  std::vector<double> gap_history;    // gap after each outer iteration's certificate
  std::vector<long> epoch_history;    // epochs spent when it was computed
};

struct GroupCache {
  bool ready = false;
  std::vector<std::int32_t> idx;
  std::vector<double> Q, s, U;  // Gram / n, its eigenvalues and eigenvectors
};

class GroupLassoBCD {
 public:
  // should_stop: polled about every 0.1 s; returns true to abandon (e.g. Ctrl-C).
  // report: called after each certificate with (outer, epochs, primal, gap).
  GroupLassoBCD(const double* X, idx_t n, idx_t d, const PackedMasks& M, const double* Y,
                idx_t c, SolverOptions opt, std::function<bool()> should_stop,
                std::function<void(long, long, double, double)> report)
      : X_(X), n_(n), d_(d), M_(M), Y_(Y), c_(c), opt_(opt), should_stop_(std::move(should_stop)),
        report_(std::move(report)), cache_(M.p) {}

  SolverReport run(double* W) {
    const idx_t p = M_.p, dc = d_ * c_, nc = n_ * c_;
    const double lam = opt_.lam, inv_n = 1.0 / static_cast<double>(n_);
    SolverReport rep;
    R_.assign(nc, 0.0);
    wnorm_.assign(p, 0.0);
    std::vector<idx_t> active;
    for (idx_t i = 0; i < p; ++i) {
      wnorm_[i] = norm(W + i * dc, dc);
      if (wnorm_[i] > 0) active.push_back(i);
    }
    masked_predict(X_, n_, d_, M_, W, c_, active, R_.data());
    double y2 = 0.0;
    for (idx_t a = 0; a < nc; ++a) {
      R_[a] = Y_[a] - R_[a];
      y2 += Y_[a] * Y_[a];
    }
    rep.f0 = 0.5 * y2 * inv_n;
    const double target = opt_.tol * rep.f0;
    std::vector<double> G(p * dc), gnorm(p);
    std::vector<idx_t> ws;
    idx_t ws_size = opt_.ws_start;
    last_check_ = std::chrono::steady_clock::now();
    double best_gap = std::numeric_limits<double>::infinity();
    int stalls = 0;

    for (;;) {
      masked_gradients(X_, n_, d_, M_, R_.data(), c_, G.data());
      double gmax = 0.0;
      for (idx_t i = 0; i < p; ++i) {
        gnorm[i] = norm(G.data() + i * dc, dc) * inv_n;
        gmax = std::max(gmax, gnorm[i]);
      }
      certificate(gmax, W, rep);
      rep.gap_history.push_back(rep.gap);
      rep.epoch_history.push_back(rep.n_epochs);
      if (report_) report_(rep.n_outer, rep.n_epochs, rep.primal, rep.gap);
      if (rep.gap <= target) {
        rep.converged = true;
        break;
      }
      if (rep.n_epochs >= opt_.max_epochs || poll(rep)) break;
      // A certificate that stops improving means round-off has the last word.
      if (rep.gap < best_gap * (1 - 1e-3)) {
        best_gap = rep.gap;
        stalls = 0;
      } else if (++stalls >= 20) {
        break;
      }
      ++rep.n_outer;

      // Working set: every active group, then the worst violators, at most ws_size.
      std::vector<std::pair<double, idx_t>> cand;
      idx_t n_active = 0;
      for (idx_t i = 0; i < p; ++i) {
        if (wnorm_[i] > 0) {
          ++n_active;
          cand.emplace_back(std::numeric_limits<double>::infinity(), i);
        } else if (gnorm[i] > lam) {
          cand.emplace_back(gnorm[i] / lam, i);
        }
      }
      ws_size = std::max(ws_size, 2 * n_active);
      ws_size = std::min<idx_t>(ws_size, p);
      if (static_cast<idx_t>(cand.size()) > ws_size) {
        std::nth_element(cand.begin(), cand.begin() + ws_size, cand.end(),
                         [](const auto& a, const auto& b) { return a.first > b.first; });
        cand.resize(ws_size);
      }
      if (cand.empty()) break;  // W = 0 satisfies KKT: nothing left but round-off
      ws.clear();
      for (auto& pr : cand) ws.push_back(pr.second);
      std::sort(ws.begin(), ws.end());
      prepare(ws);
      inner(ws, W, rep, std::max(rep.gap * opt_.inner_ratio, 0.5 * target), y2);
      if (rep.interrupted) break;
      ws_size = std::min<idx_t>(2 * ws_size, p);
    }
    return rep;
  }

 private:
  static double norm(const double* a, idx_t m) {
    double s = 0.0;
    for (idx_t k = 0; k < m; ++k) s += a[k] * a[k];
    return std::sqrt(s);
  }

  bool poll(SolverReport& rep) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check_ < std::chrono::milliseconds(100)) return false;
    last_check_ = now;
    if (should_stop_ && should_stop_()) rep.interrupted = true;
    return rep.interrupted;
  }

  // Primal, dual and gap from the residual and the largest scaled block gradient.
  void certificate(double gmax, const double* W, SolverReport& rep) const {
    const idx_t nc = n_ * c_;
    const double inv_n = 1.0 / static_cast<double>(n_);
    const double scale = std::max(1.0, gmax / opt_.lam);
    double r2 = 0.0, y2 = 0.0, ymt2 = 0.0, pen = 0.0;
    for (idx_t a = 0; a < nc; ++a) {
      r2 += R_[a] * R_[a];
      y2 += Y_[a] * Y_[a];
      const double e = Y_[a] - R_[a] / scale;
      ymt2 += e * e;
    }
    for (idx_t i = 0; i < M_.p; ++i) pen += wnorm_[i];
    (void)W;
    rep.primal = 0.5 * r2 * inv_n + opt_.lam * pen;
    rep.dual = 0.5 * (y2 - ymt2) * inv_n;
    rep.gap = rep.primal - rep.dual;
  }

  void prepare(const std::vector<idx_t>& ws) {
    std::vector<idx_t> todo;
    for (idx_t i : ws)
      if (!cache_[i].ready) todo.push_back(i);
    const double inv_n = 1.0 / static_cast<double>(n_);
    const idx_t d = d_;
#pragma omp parallel for schedule(dynamic, 1)
    for (idx_t t = 0; t < static_cast<idx_t>(todo.size()); ++t) {
      GroupCache& gc = cache_[todo[t]];
      M_.indices(todo[t], gc.idx);
      gc.Q.assign(d * d, 0.0);
      gram_from_indices(X_, d, gc.idx, gc.Q.data());
      for (double& q : gc.Q) q *= inv_n;
      std::vector<double> A(gc.Q);
      gc.s.assign(d, 0.0);
      gc.U.assign(d * d, 0.0);
      sym_eig(d, A.data(), gc.s.data(), gc.U.data());
      gc.ready = true;
    }
  }

  void inner(const std::vector<idx_t>& ws, double* W, SolverReport& rep, double inner_target,
             double y2) {
    const idx_t d = d_, c = c_, dc = d * c, nc = n_ * c_;
    const double lam = opt_.lam, inv_n = 1.0 / static_cast<double>(n_);
    std::vector<double> g(dc), v(dc), wnew(dc), delta(dc), work(dc + d);
    const int K = opt_.anderson_k;
    const idx_t kw = static_cast<idx_t>(ws.size()) * dc;
    // Anderson history: K + 1 iterates of (W on the working set, residual).
    std::vector<double> hist_w, hist_r;
    if (K > 0) {
      hist_w.assign((K + 1) * kw, 0.0);
      hist_r.assign((K + 1) * nc, 0.0);
    }
    int n_hist = 0;
    for (long ep = 1;; ++ep) {
      for (idx_t i : ws) {
        const GroupCache& gc = cache_[i];
        double* Wi = W + i * dc;
        std::fill(g.begin(), g.end(), 0.0);
        for (std::int32_t k : gc.idx) {
          const double* xk = X_ + static_cast<idx_t>(k) * d;
          const double* rk = R_.data() + static_cast<idx_t>(k) * c;
          if (c == 1) {
            const double r0 = rk[0];
            for (idx_t j = 0; j < d; ++j) g[j] += r0 * xk[j];
          } else {
            for (idx_t j = 0; j < d; ++j)
              for (idx_t l = 0; l < c; ++l) g[j * c + l] += xk[j] * rk[l];
          }
        }
        for (idx_t a = 0; a < dc; ++a) v[a] = g[a] * inv_n;
        if (wnorm_[i] > 0) {
          for (idx_t a = 0; a < d; ++a)
            for (idx_t b = 0; b < d; ++b) {
              const double q = gc.Q[a * d + b];
              for (idx_t l = 0; l < c; ++l) v[a * c + l] += q * Wi[b * c + l];
            }
        }
        exact_block_solve(d, c, gc.s.data(), gc.U.data(), v.data(), lam, wnew.data(), work.data());
        bool moved = false;
        for (idx_t a = 0; a < dc; ++a) {
          delta[a] = wnew[a] - Wi[a];
          moved |= delta[a] != 0.0;
        }
        if (!moved) continue;
        for (std::int32_t k : gc.idx) {
          const double* xk = X_ + static_cast<idx_t>(k) * d;
          double* rk = R_.data() + static_cast<idx_t>(k) * c;
          for (idx_t l = 0; l < c; ++l) {
            double acc = 0.0;
            for (idx_t j = 0; j < d; ++j) acc += xk[j] * delta[j * c + l];
            rk[l] -= acc;
          }
        }
        std::copy(wnew.begin(), wnew.end(), Wi);
        wnorm_[i] = norm(Wi, dc);
      }
      ++rep.n_epochs;
      if (K > 0) {
        double* hw = hist_w.data() + n_hist * kw;
        for (idx_t t = 0; t < static_cast<idx_t>(ws.size()); ++t)
          std::copy(W + ws[t] * dc, W + (ws[t] + 1) * dc, hw + t * dc);
        std::copy(R_.begin(), R_.end(), hist_r.begin() + n_hist * nc);
        if (++n_hist == K + 1) {
          anderson(ws, W, hist_w, hist_r, K, kw);
          n_hist = 0;
        }
      }
      if (rep.n_epochs >= opt_.max_epochs || poll(rep)) return;
      if (ep % opt_.check_every != 0) continue;
      // Gap of the problem restricted to the working set.
      double gmax = 0.0;
      for (idx_t i : ws) {
        std::fill(g.begin(), g.end(), 0.0);
        for (std::int32_t k : cache_[i].idx) {
          const double* xk = X_ + static_cast<idx_t>(k) * d;
          const double* rk = R_.data() + static_cast<idx_t>(k) * c;
          for (idx_t j = 0; j < d; ++j)
            for (idx_t l = 0; l < c; ++l) g[j * c + l] += xk[j] * rk[l];
        }
        gmax = std::max(gmax, norm(g.data(), dc) * inv_n);
      }
      const double scale = std::max(1.0, gmax / lam);
      double r2 = 0.0, ymt2 = 0.0, pen = 0.0;
      for (idx_t a = 0; a < nc; ++a) {
        r2 += R_[a] * R_[a];
        const double e = Y_[a] - R_[a] / scale;
        ymt2 += e * e;
      }
      for (idx_t i : ws) pen += wnorm_[i];
      const double gap = 0.5 * r2 * inv_n + lam * pen - 0.5 * (y2 - ymt2) * inv_n;
      if (gap <= inner_target) return;
    }
  }

  // Extrapolates the last K + 1 iterates; keeps the result only if the objective drops.
  // The residual is affine in W and the weights sum to one, so the extrapolated residual
  // is the same combination of the stored residuals: no product with the design.
  void anderson(const std::vector<idx_t>& ws, double* W, const std::vector<double>& hw,
                const std::vector<double>& hr, int K, idx_t kw) {
    const idx_t dc = d_ * c_, nc = n_ * c_;
    // U^T U with U_k = w_{k+1} - w_k.
    std::vector<double> UtU(K * K), z(K, 1.0);
    for (int a = 0; a < K; ++a)
      for (int b = a; b < K; ++b) {
        double acc = 0.0;
        const double* wa1 = hw.data() + (a + 1) * kw;
        const double* wa0 = hw.data() + a * kw;
        const double* wb1 = hw.data() + (b + 1) * kw;
        const double* wb0 = hw.data() + b * kw;
        for (idx_t t = 0; t < kw; ++t) acc += (wa1[t] - wa0[t]) * (wb1[t] - wb0[t]);
        UtU[a * K + b] = UtU[b * K + a] = acc;
      }
    double tr = 0.0;
    for (int a = 0; a < K; ++a) tr += UtU[a * K + a];
    if (!(tr > 0.0)) return;
    for (int a = 0; a < K; ++a) UtU[a * K + a] += 1e-10 * tr;
    if (!cholesky_solve(K, UtU.data(), z.data())) return;
    double zs = 0.0;
    for (int a = 0; a < K; ++a) zs += z[a];
    if (!(std::abs(zs) > 0.0) || !std::isfinite(zs)) return;
    for (int a = 0; a < K; ++a) z[a] /= zs;  // weights on iterates 1..K
    std::vector<double> wacc(kw, 0.0), racc(nc, 0.0);
    for (int a = 0; a < K; ++a) {
      const double* wa = hw.data() + (a + 1) * kw;
      const double* ra = hr.data() + (a + 1) * nc;
      for (idx_t t = 0; t < kw; ++t) wacc[t] += z[a] * wa[t];
      for (idx_t t = 0; t < nc; ++t) racc[t] += z[a] * ra[t];
    }
    const double lam = opt_.lam, inv_n = 1.0 / static_cast<double>(n_);
    double f_cur = 0.0, f_acc = 0.0, pen_cur = 0.0, pen_acc = 0.0;
    for (idx_t t = 0; t < nc; ++t) {
      f_cur += R_[t] * R_[t];
      f_acc += racc[t] * racc[t];
    }
    for (idx_t t = 0; t < static_cast<idx_t>(ws.size()); ++t) {
      pen_cur += wnorm_[ws[t]];
      pen_acc += norm(wacc.data() + t * dc, dc);
    }
    f_cur = 0.5 * f_cur * inv_n + lam * pen_cur;
    f_acc = 0.5 * f_acc * inv_n + lam * pen_acc;
    if (!(f_acc < f_cur)) return;
    for (idx_t t = 0; t < static_cast<idx_t>(ws.size()); ++t) {
      std::copy(wacc.begin() + t * dc, wacc.begin() + (t + 1) * dc, W + ws[t] * dc);
      wnorm_[ws[t]] = norm(W + ws[t] * dc, dc);
    }
    std::copy(racc.begin(), racc.end(), R_.begin());
  }

  // Solves A z = b in place for a small SPD matrix; false if A is not numerically SPD.
  static bool cholesky_solve(int K, double* A, double* b) {
    for (int j = 0; j < K; ++j) {
      double s = A[j * K + j];
      for (int k = 0; k < j; ++k) s -= A[j * K + k] * A[j * K + k];
      if (!(s > 0.0)) return false;
      const double l = std::sqrt(s);
      A[j * K + j] = l;
      for (int i = j + 1; i < K; ++i) {
        double t = A[i * K + j];
        for (int k = 0; k < j; ++k) t -= A[i * K + k] * A[j * K + k];
        A[i * K + j] = t / l;
      }
    }
    for (int i = 0; i < K; ++i) {
      double t = b[i];
      for (int k = 0; k < i; ++k) t -= A[i * K + k] * b[k];
      b[i] = t / A[i * K + i];
    }
    for (int i = K - 1; i >= 0; --i) {
      double t = b[i];
      for (int k = i + 1; k < K; ++k) t -= A[k * K + i] * b[k];
      b[i] = t / A[i * K + i];
    }
    return true;
  }

  const double* X_;
  idx_t n_, d_;
  PackedMasks M_;
  const double* Y_;
  idx_t c_;
  SolverOptions opt_;
  std::function<bool()> should_stop_;
  std::function<void(long, long, double, double)> report_;
  std::vector<GroupCache> cache_;
  std::vector<double> R_, wnorm_;
  std::chrono::steady_clock::time_point last_check_;
};

}  // namespace fixntk
