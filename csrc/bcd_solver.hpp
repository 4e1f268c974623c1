// Working-set block coordinate descent for the gated ReLU group lasso with sample weights
// s_k >= 0 and an optional unpenalised output intercept b (one per output):
//   F(W, b) = 1/(2N) sum_k s_k || Y_k - sum_i [D_i X W_i]_k - b ||^2 + lam sum_i ||W_i||_F,
// with N the normaliser (sum_k s_k unless given). Rows are scaled once by
// a_k = sqrt(s_k n / N), which turns F into the unweighted 1/(2n) ||A - ...||^2 form on
// (a X, a Y) that every kernel below works on; the intercept then multiplies the column a
// and is profiled out exactly: b = a^T R / ||a||^2 for the stored residual R, so block
// gradients use the centred residual R - a b and block Grams X^T D_i X - u_i u_i^T/||a||^2
// with u_i = X^T D_i a. Stopped on the duality gap with the rescaled centred residual as
// dual point (a^T theta = 0 is the intercept's dual constraint).
// Output weights (ow, n x c: a weight per row and output, the multinomial's Newton
// model) cannot be folded into the rows, which the outputs share: then X and Y stay as
// given, the residual R is kept with its weighted copy RW = w o R for the block
// gradients, each block has one Gram X^T D_i diag(w_l) X per output, and the intercept
// of output l is sum_k w_kl R_kl / sum_k w_kl. A free shift per row, shared by the
// outputs (row_shift), makes the output-weighted problem the exact Newton model of the
// multinomial loss: for Hessian diag(p) - p p^T (sum p = 1),
// delta^T H delta = min_a sum_l p_l (delta_l - a)^2:
//   theta = Rc / max(1, max_i ||X^T D_i Rc||_F / (n lam)),
//   gap   = F(W) - (||Y||^2 - ||Y - theta||^2) / (2n).
// Outer loop: all block gradients in one masked product, certificate, working set of the
// active groups plus the worst KKT violators (doubling). Inner loop: exact block updates
// from the cached block Gram X^T D_i X / n and its eigendecomposition, residual kept exact;
// on wide rows, where those Grams cost more than the epochs they save (prox_pays), one
// proximal gradient step per block visit instead, with a curvature from a few power
// iterations and no d x d work.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <unordered_map>
#include <type_traits>
#include <vector>

#include "blas.hpp"
#include "block_update.hpp"
#include "interrupt.hpp"
#include "masked_ops.hpp"
#include "masks.hpp"
#include "newton_polish.hpp"

namespace fixntk {

struct SolverOptions {
  double lam = 0.0;
  double tol = 1e-6;          // stop when gap <= tol * F(0)
  long max_epochs = 100000;   // passes over the working set, all outer iterations together
  idx_t ws_start = 10;        // first working set size
  double inner_ratio = 0.3;   // inner problem solved to gap <= ratio * outer gap
  int check_every = 5;        // inner gap checked every this many epochs
  int anderson_k = 5;         // iterates combined by Anderson extrapolation (0: off)
  idx_t gram_max = 4096;      // largest k*d for which the working set's Gram is formed
  bool newton = true;         // Newton polish on the support (c = 1)
  double newton_gap = 1e-3;   // ... once the relative gap is below this
  int newton_builds = 6;      // ... at most this many Newton attempts per solve
  double gap_target = 0.0;    // absolute gap to reach; when > 0 it replaces tol * F(0)
  double weight_sum = 0.0;    // the normaliser N of weighted data; <= 0: sum of weights
  bool row_shift = false;     // with output weights: a free shift per row (all outputs)
  int block_step = -1;        // -1: by cost (prox_pays), 0: exact, 1: proximal gradient
  int streamed = -1;          // row loops for X out of cache: -1 by X's size, 0 no, 1 yes
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
  std::vector<double> intercept;      // b (c), zeros without an intercept
  std::vector<double> gap_history;    // gap after each outer iteration's certificate
  std::vector<long> epoch_history;    // epochs spent when it was computed
};

struct GroupCache {
  bool ready = false;  // idx is set
  bool gram = false;   // s, U (and u) are set
  std::vector<std::int32_t> idx;
  std::vector<double> s, U;  // the eigenvalues and eigenvectors of the Gram / n (one
                             // per output with output weights); the Gram is not kept
  std::vector<double> u;     // X^T D_i a (with an intercept): the centring of the Gram
                             // (one per output with output weights, X^T D_i w_l)
  double lip = 0.0;          // proximal steps (wide rows): the step's curvature bound L
  bool prox = false;         // the step data are lip (proximal steps), not s and U
};

class GroupLassoBCD {
 public:
  // should_stop: asked about every 0.1 s, from the calling thread only (see Interrupt),
  // in every long phase; returns true to abandon (e.g. Ctrl-C).
  // report: called after each certificate with (outer, epochs, primal, gap).
  // sw: sample weights (n, >= 0) or nullptr for all ones; ow: output weights (n x c)
  // or nullptr (not both); intercept: fit b.
  GroupLassoBCD(const double* X, idx_t n, idx_t d, const PackedMasks& M, const double* Y,
                idx_t c, const double* sw, bool intercept, SolverOptions opt,
                std::function<bool()> should_stop,
                std::function<void(long, long, double, double)> report,
                const double* ow = nullptr, std::vector<GroupCache>* store = nullptr)
      : X_(X), n_(n), d_(d), M_(M), Y_(Y), c_(c), intercept_(intercept), opt_(opt),
        stop_(std::move(should_stop)), report_(std::move(report)),
        own_cache_(store != nullptr ? 0 : M.p), cache_(store != nullptr ? *store : own_cache_) {
    // a store (p groups, no output weights) is checked by the binding that passes it
    if (ow != nullptr) {
      // w~ = w n / N, so that F = 1/(2n) sum_kl w~_kl R_kl^2
      const double total = opt_.weight_sum > 0 ? opt_.weight_sum : static_cast<double>(n);
      Ow_.resize(n * c);
      for (idx_t a = 0; a < n * c; ++a) Ow_[a] = ow[a] * static_cast<double>(n) / total;
      ow_ = Ow_.data();
      opt_.newton = false;  // the polish's Gram assumes one weight per row
    } else if (sw != nullptr) {
      double total = opt_.weight_sum;
      if (!(total > 0)) {
        total = 0.0;
        for (idx_t k = 0; k < n; ++k) total += sw[k];
      }
      a_.resize(n);
      Xs_.resize(n * d);
      Ys_.resize(n * c);
      for (idx_t k = 0; k < n; ++k) {
        a_[k] = std::sqrt(sw[k] * static_cast<double>(n) / total);
        for (idx_t j = 0; j < d; ++j) Xs_[k * d + j] = a_[k] * X[k * d + j];
        for (idx_t l = 0; l < c; ++l) Ys_[k * c + l] = a_[k] * Y[k * c + l];
      }
      X_ = Xs_.data();
      Y_ = Ys_.data();
    } else if (intercept) {
      a_.assign(n, 1.0);
    }
    prox_ = opt_.block_step == 1 || (opt_.block_step < 0 && prox_pays(n, d));
    for (GroupCache& gc : cache_)  // a store filled for the other kind of step
      if (gc.gram && gc.prox != prox_) gc.gram = false;
    P_ = PaddedRows(X_, n, d);
    // Yc = the targets with the best intercept removed (Y itself without an intercept):
    // F(0) and the Newton polish's right-hand side use it.
    Yc_.assign(Y_, Y_ + n * c);
    a2l_.assign(c, 0.0);
    row_shift_ = ow_ != nullptr && opt_.row_shift;
    if (ow_ != nullptr && intercept_)
      for (idx_t k = 0; k < n; ++k)
        for (idx_t l = 0; l < c; ++l) a2l_[l] += ow_[k * c + l];
    if (row_shift_) {  // after_step's reciprocals, once per problem (not per row)
      inv_a2l_.assign(c, 0.0);
      for (idx_t l = 0; l < c; ++l)
        if (intercept_ && a2l_[l] > 0) inv_a2l_[l] = 1.0 / a2l_[l];
      inv_wrow_.assign(n, 0.0);
      for (idx_t k = 0; k < n; ++k) {
        double Wk = 0.0;
        for (idx_t l = 0; l < c; ++l) Wk += ow_[k * c + l];
        if (Wk > 0) inv_wrow_[k] = 1.0 / Wk;
      }
    }
    if (row_shift_) {
      Yc_ = two_way_centred(Y_, nullptr);
    } else if (intercept_ && ow_ != nullptr) {
      std::vector<double> wy(c, 0.0);
      for (idx_t k = 0; k < n; ++k)
        for (idx_t l = 0; l < c; ++l) wy[l] += ow_[k * c + l] * Y_[k * c + l];
      for (idx_t k = 0; k < n; ++k)
        for (idx_t l = 0; l < c; ++l)
          if (a2l_[l] > 0) Yc_[k * c + l] -= wy[l] / a2l_[l];
    } else if (intercept_) {
      a2_ = 0.0;
      for (idx_t k = 0; k < n; ++k) a2_ += a_[k] * a_[k];
      std::vector<double> ay(c, 0.0);
      for (idx_t k = 0; k < n; ++k)
        for (idx_t l = 0; l < c; ++l) ay[l] += a_[k] * Y_[k * c + l];
      for (idx_t k = 0; k < n; ++k)
        for (idx_t l = 0; l < c; ++l) Yc_[k * c + l] -= a_[k] * ay[l] / a2_;
      a2l_.assign(c, a2_);
    }
  }

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
    masked_predict(X_, n_, d_, M_, W, c_, active, R_.data(), &stop_);
    if (poll(rep)) return rep;
    double y2 = 0.0;  // ||Yc||^2 (weighted by w with output weights)
    for (idx_t a = 0; a < nc; ++a) {
      R_[a] = Y_[a] - R_[a];
      y2 += omega(a) * Yc_[a] * Yc_[a];
    }
    if (ow_ != nullptr) {
      RW_.resize(nc);
      for (idx_t a = 0; a < nc; ++a) RW_[a] = ow_[a] * R_[a];
    }
    rep.f0 = 0.5 * y2 * inv_n;
    const double target = opt_.gap_target > 0 ? opt_.gap_target : opt_.tol * rep.f0;
    std::vector<double> G(p * dc), gnorm(p);
    std::vector<idx_t> ws;
    idx_t ws_size = opt_.ws_start;
    double best_gap = std::numeric_limits<double>::infinity();
    int stalls = 0;

    for (;;) {
      const double* Rc = centred_residual();
      masked_gradients(X_, n_, d_, M_, centred_gradient_residual(Rc), c_, G.data(), &P_,
                       &stop_);
      if (poll(rep)) break;
      double gmax = 0.0;
      for (idx_t i = 0; i < p; ++i) {
        gnorm[i] = norm(G.data() + i * dc, dc) * inv_n;
        gmax = std::max(gmax, gnorm[i]);
      }
      certificate(gmax, Rc, rep);
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
      if (poll(rep)) break;
      inner(ws, W, rep, std::max(rep.gap * opt_.inner_ratio, 0.5 * target), y2);
      if (rep.interrupted) break;
      ws_size = std::min<idx_t>(2 * ws_size, p);
    }
    rep.intercept.assign(c_, 0.0);
    if (intercept_) {
      if (row_shift_) centred_residual();  // intercepts jointly best with the shifts
      refresh_ar();
      for (idx_t l = 0; l < c_; ++l) rep.intercept[l] = a2l_[l] > 0 ? ar_[l] / a2l_[l] : 0.0;
    }
    return rep;
  }

 public:  // shuffle, norm and anderson_weights serve the covariance mode too
  // Visits the working set in a fresh pseudo-random order (Fisher-Yates with splitmix64,
  // seeded by the outer iteration and the epoch, so a run repeats exactly on any
  // platform). Any order kept fixed from sweep to sweep converges slowly on these problems
  // (S1 without Anderson: about 1810 epochs in index order and also with one random
  // permutation kept for the whole solve; with Anderson 530-550), while drawing a new
  // order every epoch takes 110-125: the gap between cyclic and randomly permuted
  // coordinate descent. Index order is not special here: consecutive masks differ in as
  // many rows as random pairs.
  static void shuffle(std::vector<idx_t>& order, std::uint64_t seed) {
    std::uint64_t state = seed;
    auto next = [&state]() {
      std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    };
    for (std::size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[next() % i]);
  }

  static double norm(const double* a, idx_t m) { return l2norm(a, m); }

 private:
  // True once an interrupt was seen (stop_ asks the caller at most every 0.1 s).
  bool poll(SolverReport& rep) {
    if (stop_()) rep.interrupted = true;
    return rep.interrupted;
  }

  // The weight of entry a = k c + l in the squared norms (1 unless output weights).
  double omega(idx_t a) const { return ow_ != nullptr ? ow_[a] : 1.0; }

  // The residual the block gradients read: R, or w o R with output weights.
  const double* gradient_residual() const { return ow_ != nullptr ? RW_.data() : R_.data(); }

  // The numerator of each output's intercept, a^T R (sum_k w_kl R_kl with output
  // weights), exactly; b_l = ar_l / a2l_l is kept up to date between refreshes.
  void refresh_ar() {
    ar_.assign(c_, 0.0);
    for (idx_t k = 0; k < n_; ++k)
      for (idx_t l = 0; l < c_; ++l)
        ar_[l] += (ow_ != nullptr ? ow_[k * c_ + l] : a_[k]) * R_[k * c_ + l];
  }

  double intercept_of(idx_t l) const { return a2l_[l] > 0 ? ar_[l] / a2l_[l] : 0.0; }

  // The residual of the best intercept, Rc = R - a b (R itself without an intercept).
  // With output weights Rc = R - b and the block gradients read w o Rc (RWc_).
  const double* centred_residual() {
    if (row_shift_) {  // the best row shifts (kept in R) and intercepts (profiled)
      std::vector<double> shift(n_);
      Rc_ = two_way_centred(R_.data(), shift.data());
      for (idx_t k = 0; k < n_; ++k)
        for (idx_t l = 0; l < c_; ++l) R_[k * c_ + l] -= shift[k];
      for (idx_t a = 0; a < n_ * c_; ++a) RW_[a] = ow_[a] * R_[a];
      if (intercept_) refresh_ar();
      return Rc_.data();
    }
    if (!intercept_) return R_.data();
    refresh_ar();
    Rc_.resize(n_ * c_);
    for (idx_t k = 0; k < n_; ++k)
      for (idx_t l = 0; l < c_; ++l)
        Rc_[k * c_ + l] =
            R_[k * c_ + l] - (ow_ != nullptr ? 1.0 : a_[k]) * intercept_of(l);
    // Once more on Rc: the dual point must satisfy a^T theta = 0 (the intercept's
    // dual constraint), and R - a b leaves a^T Rc at the rounding of R, not of Rc.
    // Where the intercept is large next to Rc (a column of X offset by 1e8: the
    // neurons' offsets cancel through it), that remainder, times the intercept, was
    // a dual value above the objective: a gap of -4e-6 reported as certified where
    // the true one was 3e-3. The correction (the intercept's rounding) is left out
    // of ar_: folded in, it changed the descent's path, and a problem certified in
    // 4250 epochs stalled uncertified at 6270 (tester AV).
    std::vector<double> rest(c_, 0.0);
    for (idx_t k = 0; k < n_; ++k)
      for (idx_t l = 0; l < c_; ++l)
        rest[l] += (ow_ != nullptr ? ow_[k * c_ + l] : a_[k]) * Rc_[k * c_ + l];
    for (idx_t l = 0; l < c_; ++l) {
      if (!(a2l_[l] > 0)) continue;
      const double t = rest[l] / a2l_[l];
      for (idx_t k = 0; k < n_; ++k) Rc_[k * c_ + l] -= (ow_ != nullptr ? 1.0 : a_[k]) * t;
    }
    return Rc_.data();
  }

  // A - a - b for the row shifts a (n) and output intercepts b (c; none without an
  // intercept) minimising sum_kl w_kl (A_kl - a_k - b_l)^2 (output weights). With
  // W_k = sum_l w_kl, eliminating a_k = sum_l w_kl (A_kl - b_l) / W_k leaves
  // sum_k (A_k - b)^T H_k (A_k - b), H_k = diag(w_k) - w_k w_k^T / W_k, whose null space
  // holds the all-ones vector (a common shift belongs to the rows): b solves
  // (sum_k H_k + 1 1^T) b = sum_k H_k A_k. Writes a into shift when given.
  std::vector<double> two_way_centred(const double* A, double* shift) const {
    const idx_t n = n_, c = c_;
    std::vector<double> b(c, 0.0);
    if (intercept_) {
      std::vector<double> H(c * c, 0.0), rhs(c, 0.0);
      for (idx_t k = 0; k < n; ++k) {
        const double* w = ow_ + k * c;
        const double* Ak = A + k * c;
        double Wk = 0.0, wa = 0.0;
        for (idx_t l = 0; l < c; ++l) {
          Wk += w[l];
          wa += w[l] * Ak[l];
        }
        if (!(Wk > 0)) continue;
        for (idx_t l = 0; l < c; ++l) {
          rhs[l] += w[l] * Ak[l] - w[l] * wa / Wk;
          H[l * c + l] += w[l];
          for (idx_t m = 0; m < c; ++m) H[l * c + m] -= w[l] * w[m] / Wk;
        }
      }
      double tr = 0.0;
      for (idx_t l = 0; l < c; ++l) tr += H[l * c + l];
      for (idx_t l = 0; l < c; ++l)
        for (idx_t m = 0; m < c; ++m) H[l * c + m] += tr / static_cast<double>(c);
      for (idx_t l = 0; l < c; ++l) H[l * c + l] += 1e-14 * tr;
      b = rhs;
      if (!cholesky_solve(static_cast<int>(c), H.data(), b.data())) b.assign(c, 0.0);
    }
    std::vector<double> out(n * c);
    for (idx_t k = 0; k < n; ++k) {
      const double* w = ow_ + k * c;
      double Wk = 0.0, num = 0.0;
      for (idx_t l = 0; l < c; ++l) {
        Wk += w[l];
        num += w[l] * (A[k * c + l] - b[l]);
      }
      const double ak = Wk > 0 ? num / Wk : 0.0;
      if (shift != nullptr) shift[k] = ak;
      for (idx_t l = 0; l < c; ++l) out[k * c + l] = A[k * c + l] - ak - b[l];
    }
    return out;
  }

  // Each row j of a d x c block minus its mean over the c outputs.
  static void centre_outputs(double* w, idx_t d, idx_t c) {
    for (idx_t j = 0; j < d; ++j) {
      double m = 0.0;
      for (idx_t l = 0; l < c; ++l) m += w[j * c + l];
      m /= static_cast<double>(c);
      for (idx_t l = 0; l < c; ++l) w[j * c + l] -= m;
    }
  }

  // After a block step on rows idx (output weights): each row's best shift given the
  // intercepts (row_shift), then RW = w o R there, in one pass over the rows.
  void after_step(const std::vector<std::int32_t>& idx) {
    if (ow_ == nullptr) return;
    const idx_t c = c_;
    const double* ia = inv_a2l_.data();  // 1 / a2l (ar_ is empty without an intercept)
    for (std::int32_t k : idx) {
      const double* w = ow_ + k * c;
      double* r = R_.data() + k * c;
      if (row_shift_ && inv_wrow_[k] > 0) {
        // (reciprocals: the divisions, c + 1 a row, took half of the inner loop's
        // own time on 5 classes)
        double num = 0.0;
        if (intercept_)
          for (idx_t l = 0; l < c; ++l) num += w[l] * (r[l] - ar_[l] * ia[l]);
        else
          for (idx_t l = 0; l < c; ++l) num += w[l] * r[l];
        const double delta = num * inv_wrow_[k];
        for (idx_t l = 0; l < c; ++l) r[l] -= delta;
        if (intercept_)
          for (idx_t l = 0; l < c; ++l) ar_[l] -= w[l] * delta;
      }
      double* rw = RW_.data() + k * c;
      for (idx_t l = 0; l < c; ++l) rw[l] = w[l] * r[l];
    }
  }

  // What the certificate's masked gradient reads: the centred residual, weighted.
  const double* centred_gradient_residual(const double* Rc) {
    if (ow_ == nullptr) return Rc;
    RWc_.resize(n_ * c_);
    for (idx_t a = 0; a < n_ * c_; ++a) RWc_[a] = ow_[a] * Rc[a];
    return RWc_.data();
  }

  // ||Rc||^2 and ||Yc - Rc / scale||^2, weighted by w with output weights.
  void residual_terms(const double* Rc, double scale, double& r2, double& ymt2) const {
    r2 = ymt2 = 0.0;
    for (idx_t a = 0; a < n_ * c_; ++a) {
      const double w = omega(a);
      r2 += w * Rc[a] * Rc[a];
      const double e = Yc_[a] - Rc[a] / scale;
      ymt2 += w * e * e;
    }
  }

  // Primal, dual and gap from the centred residual Rc and the largest scaled block
  // gradient (both terms of the dual may use Yc for Y: they differ by the same ||a beta||^2).
  void certificate(double gmax, const double* Rc, SolverReport& rep) const {
    const idx_t nc = n_ * c_;
    const double inv_n = 1.0 / static_cast<double>(n_);
    const double scale = std::max(1.0, gmax / opt_.lam);
    double r2 = 0.0, y2 = 0.0, ymt2 = 0.0, pen = 0.0;
    residual_terms(Rc, scale, r2, ymt2);
    for (idx_t a = 0; a < nc; ++a) y2 += omega(a) * Yc_[a] * Yc_[a];
    for (idx_t i = 0; i < M_.p; ++i) pen += wnorm_[i];
    rep.primal = 0.5 * r2 * inv_n + opt_.lam * pen;
    rep.dual = 0.5 * (y2 - ymt2) * inv_n;
    rep.gap = rep.primal - rep.dual;
  }

  // Q (d x d) = X^T D_i X over the block's rows. Wide rows go through BLAS (dsyrk on the
  // rows gathered kGramChunk at a time): for d = 50 the plain loops ran at a fifth of its
  // rate and the Grams took a fifth of S2's solve; for d = 20 (S1) BLAS still halves
  // them, while for d <= 12 the gather costs what it saves. BLAS runs one thread inside a
  // solve (see _solver.py), so the sums do not depend on the thread count.
  // The rows are cut into parts (kGramPart rows or more, at most kGramParts, fixed by the
  // row count alone), each summed into its own d x d matrix by the RowTeam's threads;
  // the parts are added in order, so Q is the same on any number of threads.
  // With wt (stride c, output weights) the rows are weighted: X^T D_i diag(w) X.
  static constexpr idx_t kBlasGramD = 16, kGramChunk = 512, kGramPart = 2048,
                         kGramParts = 16;
  void block_gram(const std::vector<std::int32_t>& idx, double* Q,
                  const double* wt = nullptr) const {
    const idx_t d = d_, dd = d * d;
    if (wt == nullptr && !(blas().ready() && d >= kBlasGramD)) {
      gram_from_indices(X_, d, idx, Q);
      return;
    }
    const idx_t cnt = static_cast<idx_t>(idx.size());
    const int parts = static_cast<int>(std::clamp<idx_t>(cnt / kGramPart, 1, kGramParts));
    const double work = 0.5 * static_cast<double>(cnt) * static_cast<double>(dd);
    std::vector<double> partial(static_cast<std::size_t>((parts - 1) * dd), 0.0);
    std::fill(Q, Q + dd, 0.0);
    RowTeam::instance().run(parts, work >= kParallelWork ? team_helpers(parts) : 0,
                            [&](int part, int) {
      double* Qp = part == 0 ? Q : partial.data() + (part - 1) * dd;
      std::vector<double> buf(kGramChunk * d);  // rows gathered (scaled by sqrt(w))
      const idx_t end = cnt * (part + 1) / parts;
      for (idx_t t0 = cnt * part / parts; t0 < end; t0 += kGramChunk) {
        if (stop_()) return;  // Q is then unfinished: build_gram_of drops it
        const idx_t rows = std::min(kGramChunk, end - t0);
        for (idx_t r = 0; r < rows; ++r) {
          const idx_t k = idx[t0 + r];
          if (wt == nullptr) {
            std::copy(X_ + k * d, X_ + (k + 1) * d, buf.begin() + r * d);
          } else {
            const double f = std::sqrt(wt[k * c_]);
            for (idx_t j = 0; j < d; ++j) buf[r * d + j] = f * X_[k * d + j];
          }
        }
        syrk_t(static_cast<int>(d), static_cast<int>(rows), 1.0, buf.data(),
               static_cast<int>(d), 1.0, Qp, static_cast<int>(d));
      }
    });
    for (int part = 1; part < parts; ++part)
      for (idx_t a = 0; a < dd; ++a) Q[a] += partial[(part - 1) * dd + a];
    for (idx_t a = 0; a < d; ++a)
      for (idx_t b = a + 1; b < d; ++b) Q[a * d + b] = Q[b * d + a];
  }

  // Row lists for the working set's groups, and the Grams of those that are nonzero
  // (built in parallel). A zero group gets its Gram only when a block step first finds
  // it violating its KKT condition (ensure_gram): with a Gram per Newton step (the
  // weights change) most of a working set's zero groups stay zero, and their Grams
  // (d^2 / 2 multiply-adds per row and output, ten times a block gradient) and
  // eigendecompositions were a quarter of S1's logistic solve.
  // An interrupt skips the groups left and abandons those under way (block_gram's chunks;
  // one dsyevd is not interruptible); the caller then stops.
  void prepare(const std::vector<idx_t>& ws) {
    std::vector<idx_t> todo;
    for (idx_t i : ws)
      if (!cache_[i].ready || (!cache_[i].gram && wnorm_[i] > 0)) todo.push_back(i);
    if (todo.empty()) return;
    if (!blas().ready()) throw std::runtime_error("fixntk: BLAS/LAPACK not registered");
    std::atomic<bool> failed{false};
    // a Gram (d^2 / 2 per row and output, about n / 2 rows) and an eigendecomposition
    const double d = static_cast<double>(d_);
    const double per_group = prox_ ? kPowerSteps * static_cast<double>(n_) * d
                                   : 0.25 * static_cast<double>(n_) * d * d * c_ + 10.0 * d * d * d;
    const double work = static_cast<double>(todo.size()) * per_group;
    const int groups = static_cast<int>(todo.size());
    const int helpers = work >= kParallelWork ? team_helpers(groups) : 0;
    std::vector<std::unique_ptr<SymEig>> eig(helpers + 1);  // a LAPACK workspace per thread
    RowTeam::instance().run(groups, helpers, [&](int t, int w) {
      if (stop_()) return;
      GroupCache& gc = cache_[todo[t]];
      if (!gc.ready) prepare_rows(todo[t], gc);
      if (!eig[w]) eig[w] = std::make_unique<SymEig>(d_);
      if (wnorm_[todo[t]] > 0 && !build_gram_of(gc, *eig[w])) failed.store(true);
    });
    if (failed.load()) throw std::runtime_error("fixntk: LAPACK dsyevd did not converge on a block Gram");
  }

  // The block's rows and, with an intercept, its centring u = X^T D_i a (one per output
  // with output weights: X^T D_i w_l).
  void prepare_rows(idx_t i, GroupCache& gc) const {
    const idx_t d = d_, c = c_;
    M_.indices(i, gc.idx);
    if (intercept_ && ow_ == nullptr) {
      gc.u.assign(d, 0.0);
      gather_gradient_range(X_, d, gc.idx.data(), 0, gc.idx.size(), a_.data(), 1,
                            gc.u.data());
    } else if (intercept_) {
      gc.u.assign(c * d, 0.0);
      for (std::int32_t k : gc.idx)
        for (idx_t l = 0; l < c; ++l) {
          if (!(a2l_[l] > 0)) continue;
          const double wk = ow_[k * c + l];
          for (idx_t j = 0; j < d; ++j) gc.u[l * d + j] += wk * X_[k * d + j];
        }
    }
    gc.ready = true;
  }

  // The Gram of a zero group about to move (see prepare).
  void ensure_gram(GroupCache& gc) {
    if (gc.gram) return;
    if (!blas().ready()) throw std::runtime_error("fixntk: BLAS/LAPACK not registered");
    if (!eig_) eig_ = std::make_unique<SymEig>(d_);
    if (!build_gram_of(gc, *eig_))
      throw std::runtime_error("fixntk: LAPACK dsyevd did not converge on a block Gram");
  }

  // Q = X^T D_i X / n (centred with an intercept; one per output with output weights)
  // and its eigendecomposition; false if LAPACK fails. Interrupted: left without a Gram
  // (gc.gram false), true.
  bool build_gram_of(GroupCache& gc, SymEig& eig) const {
    const double inv_n = 1.0 / static_cast<double>(n_);
    const idx_t d = d_;
    gc.gram = true;
    gc.prox = prox_;
    if (prox_) {
      gc.lip = block_lipschitz(gc);
      return true;
    }
    if (ow_ != nullptr) return prepare_outputs(gc, eig);
    std::vector<double> Q(d * d, 0.0);
    block_gram(gc.idx, Q.data());
    if (stop_.raised()) return !(gc.gram = false);
    if (intercept_) {  // Q - u u^T / ||a||^2: the Gram of the centred block
      for (idx_t a = 0; a < d; ++a)
        for (idx_t b = 0; b < d; ++b) Q[a * d + b] -= gc.u[a] * gc.u[b] / a2_;
    }
    for (double& q : Q) q *= inv_n;
    gc.s.assign(d, 0.0);
    gc.U.assign(d * d, 0.0);
    // a failed factorisation leaves no Gram behind (a Gram store outlives this solve)
    return eig(Q.data(), gc.s.data(), gc.U.data()) || (gc.gram = false);
  }

  // One Gram per output, X^T D_i diag(w_l) X / n (centred with an intercept), and its
  // eigendecomposition (output weights); the centring u comes from prepare_rows.
  bool prepare_outputs(GroupCache& gc, SymEig& eig) const {
    const idx_t d = d_, c = c_, dd = d * d;
    const double inv_n = 1.0 / static_cast<double>(n_);
    std::vector<double> Qs(dd);  // one output's Gram at a time, read by eig
    double* Q = Qs.data();
    gc.s.assign(c * d, 0.0);
    gc.U.assign(c * dd, 0.0);
    bool ok = true;
    for (idx_t l = 0; l < c; ++l) {
      std::fill(Qs.begin(), Qs.end(), 0.0);
      block_gram(gc.idx, Q, ow_ + l);
      if (stop_.raised()) return !(gc.gram = false);
      if (intercept_ && a2l_[l] > 0) {
        const double* u = gc.u.data() + l * d;
        for (idx_t a = 0; a < d; ++a)
          for (idx_t b = 0; b < d; ++b) Q[a * d + b] -= u[a] * u[b] / a2l_[l];
      }
      for (idx_t a = 0; a < dd; ++a) Q[a] *= inv_n;
      ok &= eig(Q, gc.s.data() + l * d, gc.U.data() + l * dd);
    }
    return ok;
  }

 public:
  // Wide rows: exact block steps need each block's Gram (n_i d^2 / 2 multiply-adds per
  // output, n_i ~ n / 2 rows) and its eigendecomposition (~10 d^3), i.e. d / 4 + 10 d^2 / n
  // visits' worth of the block's row gathers (2 n_i d). Both run BLAS-3, several times the
  // gathers' rate, and the exact steps save visits: digits (d = 65) 110 epochs against 245
  // with proximal steps. Planted problems (p = 200, lam = 0.1 lam_max, one thread): W256
  // (n = 20000, 97 visits) exact 20.9 s and 45 epochs, proximal 25.0 s and 55; W784
  // (n = 20000, 503 visits) exact 144 s and 65, proximal 133 s and 75; N784 (n = 2000,
  // 3270 visits) exact 19.3 s and 135, proximal 7.5 s and 280. So Grams are kept up to
  // kGramVisits: at d = 784 below about 59000 rows, d = 300 below about 4000, d = 128
  // below about 600, the steps are proximal. Below d = kProxMinD a Gram and its
  // eigendecomposition take under a millisecond whatever n is, and exact steps stay.
  static constexpr double kGramVisits = 300.0;
  static constexpr idx_t kProxMinD = 100;
  static bool prox_pays(idx_t n, idx_t d) {
    const double dd = static_cast<double>(d);
    return d >= kProxMinD &&
           0.25 * dd + 10.0 * dd * dd / static_cast<double>(std::max<idx_t>(n, 1)) > kGramVisits;
  }

 private:
  // The curvature L of a block's proximal steps: kPowerMargin times the power
  // iteration's Rayleigh quotient (at most the largest eigenvalue; from a fixed start, so
  // a run repeats exactly) of the block's Gram X^T D_i diag(w) X / n, with w = 1 for plain
  // rows and w_k = max_l w_kl with output weights (a Gram above every output's in the
  // PSD order). The centred Gram (intercept) and the row shifts only lower the curvature.
  double block_lipschitz(const GroupCache& gc) const {
    const idx_t d = d_, c = c_;
    std::vector<double> x(d), y(d);
    for (idx_t j = 0; j < d; ++j) x[j] = 1.0 + 0.5 * std::sin(1.0 + static_cast<double>(j));
    double mu = 0.0;
    for (int it = 0; it < kPowerSteps; ++it) {
      const double nx = norm(x.data(), d);
      if (!(nx > 0)) return 0.0;
      for (double& a : x) a /= nx;
      std::fill(y.begin(), y.end(), 0.0);
      for (std::int32_t k : gc.idx) {  // y += w_k x_k (x_k^T x), by the row loops
        const double* xk = X_ + static_cast<idx_t>(k) * d;
        double t = 0.0;
        row_dot_sub(xk, d, x.data(), &t);  // t = -x_k^T x
        double wk = 1.0;
        if (ow_ != nullptr) {
          wk = 0.0;
          for (idx_t l = 0; l < c; ++l) wk = std::max(wk, ow_[k * c + l]);
        }
        t *= -wk;
        row_outer_add(xk, d, t, y.data());
      }
      double rq = 0.0;
      for (idx_t j = 0; j < d; ++j) rq += x[j] * y[j];
      rq /= static_cast<double>(n_);
      const bool settled = it > 0 && std::abs(rq - mu) <= kPowerTol * rq;
      mu = rq;
      if (settled) break;
      x.swap(y);
    }
    return kPowerMargin * mu;
  }
  // A few steps suffice: any L above half the largest curvature descends, and an L
  // near the top of the spectrum steps farthest (planted W64: 4 steps 55 epochs, 50 steps
  // 60). A Rayleigh quotient under the largest eigenvalue (an unlucky start) is caught
  // by the inner loop, which doubles L when the objective rises.
  static constexpr int kPowerSteps = 6;
  static constexpr double kPowerTol = 1e-3, kPowerMargin = 1.1;

  // One proximal gradient step on a block (wide rows): z = w + v / L, then the group
  // soft-threshold w' = z max(0, 1 - lam / (L ||z||)). v is the negative gradient
  // X^T D_i R / n; the objective does not increase for any L above half the block's
  // largest curvature, and the fixed points are the block's optima whatever L is.
  static void prox_block_step(idx_t m, double L, const double* v, const double* w_old,
                              double lam, double* w) {
    if (!(L > 0)) {  // rows that are all zero: the block cannot move the fit
      std::fill(w, w + m, 0.0);
      return;
    }
    for (idx_t a = 0; a < m; ++a) w[a] = (w_old != nullptr ? w_old[a] : 0.0) + v[a] / L;
    const double nz = norm(w, m);
    const double f = nz > 0 ? std::max(0.0, 1.0 - lam / (L * nz)) : 0.0;
    for (idx_t a = 0; a < m; ++a) w[a] *= f;
  }

  // The intercept's centring vector u for output l of a block (X^T D_i a, or
  // X^T D_i w_l with output weights).
  double centring(const GroupCache& gc, idx_t l, idx_t j) const {
    return ow_ != nullptr ? gc.u[l * d_ + j] : gc.u[j];
  }

  void inner(const std::vector<idx_t>& ws, double* W, SolverReport& rep, double inner_target,
             double y2) {
    const idx_t d = d_, c = c_, dc = d * c, nc = n_ * c_;
    const double lam = opt_.lam, inv_n = 1.0 / static_cast<double>(n_);
    std::vector<double> g(dc), v(dc), wnew(dc), delta(dc), work(2 * dc + 3 * d);
    const int K = opt_.anderson_k;
    const idx_t kw = static_cast<idx_t>(ws.size()) * dc;
    // Anderson history: K + 1 iterates of (W on the working set, residual).
    std::vector<double> hist_w, hist_r;
    if (K > 0) {
      hist_w.assign((K + 1) * kw, 0.0);
      hist_r.assign((K + 1) * nc, 0.0);
    }
    int n_hist = 0;
    double last_primal = std::numeric_limits<double>::infinity();
    double best_inner = std::numeric_limits<double>::infinity();
    int inner_stalls = 0;
    std::vector<idx_t> order(ws);
    // X out of cache (beyond kStreamedBytes): the gap checks read X once for the whole
    // working set (masked_gradients' cached chunks) rather than once per group. One
    // output on rows wider than the padded kernels, or out of cache: a block step's
    // residual update waits for the next block's gradient and is done in the same sweep
    // over rows (update_then_gather: the same bits, each shared row read once).
    // `pending` is the group whose update waits (-1: none), with its step in
    // pending_delta; it is applied before anything else reads R.
    const bool out_of_cache =
        opt_.streamed < 0 ? x_bytes() > kStreamedBytes : opt_.streamed == 1;
    const bool defer = c == 1 && ow_ == nullptr && (!P_.enabled() || out_of_cache);
    std::vector<double> ws_grad;  // the working set's gradients at a gap check
    // A gap target given (a proximal Newton step's model, solved to a fraction of the
    // outer gap) with X out of cache: checks (one read of X) every kStreamedCheckEvery
    // epochs, so that the loose targets stop the epochs early.
    const int check_every =
        out_of_cache && opt_.gap_target > 0 ? kStreamedCheckEvery : opt_.check_every;
    idx_t pending = -1;
    std::vector<double> pending_delta(defer ? dc : 0);
    auto flush = [&]() {
      if (pending < 0) return;
      const GroupCache& pc = cache_[pending];
      gather_update(X_, d, pc.idx.data(), pc.idx.size(), pending_delta.data(), c, R_.data(),
                    &P_);
      pending = -1;
    };
    // Multiply-adds since the last poll within an epoch: a long epoch (wide rows, a large
    // working set, Grams built on the way) is interrupted between block steps.
    double since_poll = 0.0;
    for (long ep = 1;; ++ep) {
      shuffle(order, (static_cast<std::uint64_t>(rep.n_outer) << 32) ^ static_cast<std::uint64_t>(ep));
      for (idx_t i : order) {
        const GroupCache& gc = cache_[i];
        double* Wi = W + i * dc;
        if (pending >= 0) {
          const GroupCache& pc = cache_[pending];
          update_then_gather(X_, d, pc.idx.data(), pc.idx.size(), pending_delta.data(),
                             gc.idx.data(), gc.idx.size(), R_.data(), g.data(), &P_);
          pending = -1;
        } else {
          gather_gradient(X_, d, gc.idx.data(), gc.idx.size(), gradient_residual(), c,
                          g.data(), &P_);
        }
        for (idx_t a = 0; a < dc; ++a) v[a] = g[a] * inv_n;
        if (intercept_)  // the gradient at the centred residual R - a b
          for (idx_t j = 0; j < d; ++j)
            for (idx_t l = 0; l < c; ++l)
              v[j * c + l] -= centring(gc, l, j) * intercept_of(l) * inv_n;
        if (!gc.gram) {  // a zero group: its Gram only once it violates KKT
          double v2 = 0.0;
          for (idx_t a = 0; a < dc; ++a) v2 += v[a] * v[a];
          if (v2 <= lam * lam) continue;
          ensure_gram(cache_[i]);
          if (poll(rep)) return;  // the Gram may be unfinished
        }
        // One output (the regressors) gets its own instantiation: see block_update.hpp.
        const double* w_old = wnorm_[i] > 0 ? Wi : nullptr;
        auto block_step = [&](auto C) {
          exact_block_solve<decltype(C)::value>(d, c, gc.s.data(), gc.U.data(), v.data(), w_old,
                                                lam, wnew.data(), work.data(), wnorm_[i]);
        };
        if (prox_)
          prox_block_step(dc, gc.lip, v.data(), w_old, lam, wnew.data());
        else if (ow_ != nullptr) {  // a Gram per output
          exact_block_solve_outputs(d, c, gc.s.data(), gc.U.data(), v.data(), w_old, lam,
                                    wnew.data(), work.data(), wnorm_[i]);
          // With the free row shifts the block's mean over the outputs moves every
          // output of its rows alike, which the shifts (after_step) take back: the
          // block centred over the outputs has the same loss and the smaller norm.
          // The block solve holds the shifts fixed, so only the penalty pulled that
          // mean back, slowly (the multinomial's exact Newton model).
          if (row_shift_ && kCentreBlocks) centre_outputs(wnew.data(), d, c);
        }
        else if (c == 1)
          block_step(std::integral_constant<int, 1>{});
        else
          block_step(std::integral_constant<int, 0>{});
        bool moved = false;
        for (idx_t a = 0; a < dc; ++a) {
          delta[a] = wnew[a] - Wi[a];
          moved |= delta[a] != 0.0;
        }
        if (!moved) continue;
        if (defer) {
          pending = i;
          std::copy(delta.begin(), delta.end(), pending_delta.begin());
        } else {
          gather_update(X_, d, gc.idx.data(), gc.idx.size(), delta.data(), c, R_.data(), &P_);
        }
        if (intercept_)  // a^T R moves by -u^T delta
          for (idx_t j = 0; j < d; ++j)
            for (idx_t l = 0; l < c; ++l) ar_[l] -= centring(gc, l, j) * delta[j * c + l];
        after_step(gc.idx);
        std::copy(wnew.begin(), wnew.end(), Wi);
        wnorm_[i] = norm(Wi, dc);
        since_poll += static_cast<double>(gc.idx.size() * dc);
        if (since_poll >= kPollWork) {
          since_poll = 0.0;
          if (poll(rep)) {
            flush();
            return;
          }
        }
      }
      flush();
      ++rep.n_epochs;
      if (K > 0) {
        double* hw = hist_w.data() + n_hist * kw;
        for (idx_t t = 0; t < static_cast<idx_t>(ws.size()); ++t)
          std::copy(W + ws[t] * dc, W + (ws[t] + 1) * dc, hw + t * dc);
        std::copy(R_.begin(), R_.end(), hist_r.begin() + n_hist * nc);
        if (++n_hist == K + 1) {
          anderson(ws, W, hist_w, hist_r, K, kw);
          if (ow_ != nullptr)
            for (idx_t a = 0; a < nc; ++a) RW_[a] = ow_[a] * R_[a];
          if (intercept_) refresh_ar();
          n_hist = 0;
        }
      }
      if (rep.n_epochs >= opt_.max_epochs || poll(rep)) return;
      if (ep % check_every != 0) continue;
      // Gap of the problem restricted to the working set.
      const double* Rc = centred_residual();
      const double* Rg = centred_gradient_residual(Rc);
      double gmax = 0.0;
      if (out_of_cache) {  // X read once for the whole working set, in cached chunks
        ws_grad.resize(ws.size() * dc);
        masked_gradients(X_, n_, d, M_, Rg, c, ws_grad.data(), &P_, &stop_, ws.data(),
                         static_cast<idx_t>(ws.size()));
        if (poll(rep)) return;
        for (std::size_t t = 0; t < ws.size(); ++t)
          gmax = std::max(gmax, norm(ws_grad.data() + t * dc, dc) * inv_n);
      } else {
        for (idx_t i : ws) {
          const GroupCache& gc = cache_[i];
          gather_gradient(X_, d, gc.idx.data(), gc.idx.size(), Rg, c, g.data(), &P_);
          gmax = std::max(gmax, norm(g.data(), dc) * inv_n);
        }
      }
      const double scale = std::max(1.0, gmax / lam);
      double r2 = 0.0, ymt2 = 0.0, pen = 0.0;
      residual_terms(Rc, scale, r2, ymt2);
      for (idx_t i : ws) pen += wnorm_[i];
      const double primal = 0.5 * r2 * inv_n + lam * pen;
      const double gap = primal - 0.5 * (y2 - ymt2) * inv_n;
      if (gap <= inner_target) return;
      // A working-set gap that stops falling is round-off's (an ill-conditioned masked
      // design: a column of X offset by 1e8 ran all 1e5 epochs here): back to the outer
      // loop, whose certificate decides, and whose own stall rule ends the solve.
      if (gap < best_inner * (1 - 1e-3)) {
        best_inner = gap;
        inner_stalls = 0;
      } else if (++inner_stalls >= kInnerStalls) {
        return;
      }
      // Proximal steps with L under half a block's largest curvature can overshoot
      // (see block_lipschitz): a rise of the objective halves every step of the set.
      if (prox_ && primal > last_primal * (1.0 + 1e-12))
        for (idx_t i : ws) cache_[i].lip *= 2.0;
      last_primal = primal;
      if (opt_.newton && blas().ready() && rep.gap <= opt_.newton_gap * rep.f0 &&
          n_builds_ < opt_.newton_builds)
        maybe_newton(ws, W, y2, rep);
    }
  }

  // Runs the Newton polish once the support within the working set has been the same at two
  // consecutive checks, and only once per support.
  void maybe_newton(const std::vector<idx_t>& ws, double* W, double y2, const SolverReport& rep) {
    std::vector<idx_t> S;
    for (idx_t i : ws)
      if (wnorm_[i] > 0) S.push_back(i);
    const bool stable = S == last_support_;
    last_support_ = S;
    if (!stable || S.empty() || S == newton_support_) return;
    if (static_cast<idx_t>(S.size()) * d_ * c_ > opt_.gram_max) return;
    if (!newton_pays(ws, S, rep)) return;
    newton_support_ = S;
    ++n_builds_;
    const idx_t e = d_ * c_, k = S.size(), m = k * d_;
    if (!build_gram(S)) return;  // interrupted: W and R as they were
    std::vector<double> w(k * e), g(k * e);
    for (idx_t t = 0; t < k; ++t) std::copy(W + S[t] * e, W + (S[t] + 1) * e, w.begin() + t * e);
    for (idx_t a = 0; a < k * e; ++a) g[a] = -b_[a];
    for (idx_t t = 0; t < k; ++t) gram_block_axpy(H_.data(), m, d_, c_, t, w.data() + t * e, g.data());
    newton_polish(S, w, g, y2);
    for (idx_t t = 0; t < k; ++t) std::copy(w.begin() + t * e, w.begin() + (t + 1) * e, W + S[t] * e);
    // The residual is recomputed exactly from the new coefficients (not interrupted: an
    // interrupted polish leaves consistent coefficients, and the next poll stops).
    masked_predict(X_, n_, d_, M_, W, c_, S, R_.data());
    for (idx_t a = 0; a < n_ * c_; ++a) R_[a] = Y_[a] - R_[a];
    if (intercept_) refresh_ar();
  }


  // Cost model (multiply-adds, deterministic: no clocks) deciding whether the Newton polish
  // beats plain epochs from here to the target:
  //   BCD:    epochs left x (multiply-adds of one epoch over the working set), the epochs
  //           left extrapolated from the last decade of the certified gap's history;
  //   Newton: the new rows and columns of the support's Gram (n m_new (m_old + m_new / 2))
  //           plus four Cholesky factorisations (m^3 / 3 each).
  // While X fits in cache the BLAS Gram and the epochs' row gathers run at rates within a
  // factor of about 1.5, but a polish seldom saves all the epochs extrapolated (the support
  // still moves, Newton runs more than once): the BCD side is weighted by 0.5. With X
  // out of cache the polish is never run: since the sweeps are shuffled it saved no
  // epochs on the planted problems of benchmarks/problems.py with n = 100000 (S3: 4 s of
  // 17 spent on its Gram), while on small, slowly converging problems it still pays (n =
  // 1000, d = 4, p = 30: 850 epochs without, 160 with).
  bool newton_pays(const std::vector<idx_t>& ws, const std::vector<idx_t>& S,
                   const SolverReport& rep) const {
    const auto& gh = rep.gap_history;
    const auto& eh = rep.epoch_history;
    if (gh.empty() || !(rep.gap > 0)) return true;
    const double target = opt_.tol * rep.f0;
    if (rep.gap <= target) return false;
    const double left = epochs_left(gh, eh, rep.n_epochs, rep.gap, target);
    double epoch_fma = 0.0;
    for (idx_t i : ws)
      epoch_fma += static_cast<double>(cache_[i].idx.size()) * d_ * c_ * (wnorm_[i] > 0 ? 2 : 1);
    idx_t k_new = 0;
    for (idx_t i : S) k_new += gram_pos_.count(i) == 0 ? 1 : 0;
    const double m = static_cast<double>(S.size() * d_), m_new = static_cast<double>(k_new * d_);
    const double m_old = static_cast<double>(gram_groups_.size() * d_);
    const double newton_fma = static_cast<double>(n_) * m_new * (m_old + 0.5 * m_new) +
                              4.0 * m * m * m / 3.0;
    if (x_bytes() > kCachedBytes) return false;
    return newton_fma <= 0.5 * left * epoch_fma;
  }

  // Padded X up to this size keeps the epochs' row gathers in cache (measured on a 2-core
  // EPYC, 512 KiB L2 per core: 0.8 MB ran at 7.5 GFMA/s, 16 MB at 1.5 GFMA/s).
  static constexpr double kCachedBytes = 4.0 * 1024.0 * 1024.0;
  // Block steps of the output-weighted model with row shifts centred over the outputs
  // (centre_outputs); false for comparison. The multinomial's exact Newton steps, one
  // thread (the Python loop also centring its iterates): benchmarks/
  // multinomial_models.py on iris and wine at 0.1 - 1e-3 lambda_max to 1e-6, fresh
  // solves 5225 -> 4335 epochs, refits 4915 -> 3320; make_classification's 10-class
  // refit (10000 x 20) 280 -> 235 epochs, 27 -> 20.5 s; diamonds' 5-class refit (15000
  // rows): its exact steps, which missed their budgets and left the loop on per-row
  // bound steps (69 Newton steps, 1150 epochs, 134 s), now converge: 9, 880, 92 s.
  static constexpr bool kCentreBlocks = true;
  // X beyond this size (a last-level cache slice) streams from memory at every block
  // step: the fused update and gradient sweep (update_then_gather) saves a read of the
  // rows two consecutive groups share, and the gap checks read X once (inner). Within the
  // cache the sweep's merge costs more than it saves. One thread, 2-core EPYC (32 MiB L3),
  // GatedReLUClassifier() on make_classification 100000 x 100 (X 50-62 MB: the scoring and
  // final rows): 74.8 s -> 65.1 s (sweep) -> 64.2 s (checks), the same fit; the regressor
  // 48.5 s -> 46.4 s (checks). Padded rows with the sweep in cache: S1 (1 MB) 0.170 s ->
  // 0.205 s, S2 (8 MB) 2.06 s -> 2.28 s, S3 (19 MB) 11.0 s -> 11.6 s.
  static constexpr double kStreamedBytes = 32.0 * 1024.0 * 1024.0;
  // Epochs between the gap checks of a proximal Newton step's inner solve with X out of
  // cache (5 otherwise): GatedReLUClassifier() on make_classification 100000 x 100 (one
  // thread) took 86 epochs on its scoring path against 125, 62.9 s against 65.9 s, the
  // same lam and test accuracy within 4e-5.
  static constexpr int kStreamedCheckEvery = 2;
  // Gap checks of a working set without a 0.1% fall before its epochs go back to the
  // outer loop (40 checks: 200 epochs at the default check_every).
  static constexpr int kInnerStalls = 40;

  // Bytes of X as the row loops read it (the padded copy where there is one).
  double x_bytes() const {
    return static_cast<double>(n_) * (P_.enabled() ? 4 * P_.nv() : d_) * 8.0;
  }

  // ---- Newton polish on the support, in the coordinates of its Gram matrix ----
  // With A = [D_i X]_{i in S}, H = A^T A / n (m x m, m = |S| d) and b = A^T Y / n, the
  // smooth part is 1/2 <W, H W> - <b, W> + ||Y||^2 / (2n). Keeping g = H W - b exact makes
  // the objective and every line-search trial cost O(m^2), whatever n is. H is formed once
  // per support, by BLAS, when the support has stopped changing: by then BCD has done the
  // combinatorial work and Newton converges in a few steps.

  // Extends the stored Gram of the groups gram_groups_ to cover S (only the new groups'
  // rows and columns are computed), then gathers S's block into H_ and b_. False if
  // interrupted (the store is then as before).
  bool build_gram(const std::vector<idx_t>& S) {
    const idx_t d = d_, c = c_;
    std::vector<idx_t> fresh;
    for (idx_t i : S)
      if (gram_pos_.count(i) == 0) fresh.push_back(i);
    if (static_cast<idx_t>(gram_groups_.size() + fresh.size()) * d > opt_.gram_max) {
      gram_groups_.clear();  // too big to keep: start over from S alone
      gram_pos_.clear();
      Hg_.clear();
      bg_.clear();
      fresh = S;
    }
    if (!fresh.empty() && !extend_gram(fresh)) return false;
    const idx_t k = S.size(), m = k * d, mg = gram_groups_.size() * d;
    H_.assign(m * m, 0.0);
    b_.assign(m * c, 0.0);
    for (idx_t t = 0; t < k; ++t) {
      const idx_t pt = gram_pos_.at(S[t]) * d;
      for (idx_t a = 0; a < d; ++a) {
        for (idx_t u = 0; u < k; ++u) {
          const idx_t pu = gram_pos_.at(S[u]) * d;
          std::copy(Hg_.data() + (pt + a) * mg + pu, Hg_.data() + (pt + a) * mg + pu + d,
                    H_.data() + (t * d + a) * m + u * d);
        }
        std::copy(bg_.data() + (pt + a) * c, bg_.data() + (pt + a + 1) * c,
                  b_.data() + (t * d + a) * c);
      }
    }
    if (intercept_) {  // H - z z^T / (n ||a||^2), z = A^T a: the centred support's Gram
      const double f = 1.0 / (static_cast<double>(n_) * a2_);
      for (idx_t t = 0; t < k; ++t)
        for (idx_t a = 0; a < d; ++a)
          for (idx_t u = 0; u < k; ++u)
            for (idx_t bb = 0; bb < d; ++bb)
              H_[(t * d + a) * m + u * d + bb] -= f * cache_[S[t]].u[a] * cache_[S[u]].u[bb];
    }
    return true;
  }

  // False if interrupted between row chunks: gram_groups_, gram_pos_ and the store are
  // then as before. (A chunk of 1024 rows is one BLAS call of 1024 m_all m_new
  // multiply-adds: the chunks are kept as they were, so that the sums round as before.)
  bool extend_gram(const std::vector<idx_t>& fresh) {
    const idx_t d = d_, c = c_;
    const idx_t k_old = gram_groups_.size();
    for (idx_t i : fresh) {
      gram_pos_[i] = gram_groups_.size();
      gram_groups_.push_back(i);
    }
    const idx_t k_all = gram_groups_.size(), m_old = k_old * d, m_all = k_all * d;
    const idx_t m_new = m_all - m_old;
    // New store: the old block copied into the top-left corner.
    std::vector<double> H(m_all * m_all, 0.0), b(m_all * c, 0.0);
    for (idx_t a = 0; a < m_old; ++a) {
      std::copy(Hg_.data() + a * m_old, Hg_.data() + (a + 1) * m_old, H.data() + a * m_all);
      std::copy(bg_.data() + a * c, bg_.data() + (a + 1) * c, b.data() + a * c);
    }
    // C = Z_old^T Z_new (m_old x m_new), S = Z_new^T Z_new (symmetric, by dsyrk) and
    // Z_new^T Y, accumulated over row chunks.
    std::vector<double> C(m_old * m_new, 0.0), Snn(m_new * m_new, 0.0), bn(m_new * c, 0.0);
    const idx_t chunk = 1024;
    std::vector<double> Z(chunk * m_all);
    for (idx_t k0 = 0; k0 < n_; k0 += chunk) {
      if (stop_()) {
        for (idx_t t = k_old; t < k_all; ++t) gram_pos_.erase(gram_groups_[t]);
        gram_groups_.resize(k_old);
        return false;
      }
      const idx_t k1 = std::min(n_, k0 + chunk), rows = k1 - k0;
      for (idx_t r = 0; r < rows; ++r) {
        const idx_t row = k0 + r;
        const double* xk = X_ + row * d;
        double* z = Z.data() + r * m_all;
        for (idx_t t = 0; t < k_all; ++t) {
          const std::uint8_t* bits = M_.row(gram_groups_[t]);
          if ((bits[row >> 3] >> (row & 7)) & 1u)
            std::copy(xk, xk + d, z + t * d);
          else
            std::fill(z + t * d, z + (t + 1) * d, 0.0);
        }
      }
      const int im_all = static_cast<int>(m_all), im_new = static_cast<int>(m_new);
      const int irows = static_cast<int>(rows), ic = static_cast<int>(c);
      // Z_new is the right-hand columns of Z (leading dimension m_all).
      if (m_old > 0)
        gemm_tn(static_cast<int>(m_old), im_new, irows, 1.0, Z.data(), im_all, Z.data() + m_old,
                im_all, 1.0, C.data(), im_new);
      syrk_t(im_new, irows, 1.0, Z.data() + m_old, im_all, 1.0, Snn.data(), im_new);
      gemm_tn(im_new, ic, irows, 1.0, Z.data() + m_old, im_all, Yc_.data() + k0 * c, ic, 1.0,
              bn.data(), ic);
    }
    const double inv_n = 1.0 / static_cast<double>(n_);
    for (idx_t a = 0; a < m_old; ++a)
      for (idx_t u = 0; u < m_new; ++u) {
        const double v = C[a * m_new + u] * inv_n;
        H[a * m_all + m_old + u] = v;
        H[(m_old + u) * m_all + a] = v;
      }
    // dsyrk filled the column-major upper triangle = row-major lower (u >= a).
    for (idx_t u = 0; u < m_new; ++u)
      for (idx_t a = 0; a <= u; ++a) {
        const double v = Snn[u * m_new + a] * inv_n;
        H[(m_old + u) * m_all + m_old + a] = v;
        H[(m_old + a) * m_all + m_old + u] = v;
      }
    for (idx_t a = 0; a < m_new * c; ++a) b[m_old * c + a] = bn[a] * inv_n;
    Hg_.swap(H);
    bg_.swap(b);
    return true;
  }

  struct GramStats {
    double primal, gap;
  };

  // Objective and restricted gap from (w, g); pen is sum of block norms.
  GramStats gram_stats(const std::vector<double>& w, const std::vector<double>& g, double y2,
                       idx_t k) const {
    const idx_t dc = d_ * c_, mc = k * dc;
    const double inv_n = 1.0 / static_cast<double>(n_), lam = opt_.lam;
    double wg = 0.0, bw = 0.0, pen = 0.0, gmax = 0.0;
    for (idx_t a = 0; a < mc; ++a) {
      wg += w[a] * g[a];
      bw += b_[a] * w[a];
    }
    for (idx_t t = 0; t < k; ++t) {
      pen += norm(w.data() + t * dc, dc);
      gmax = std::max(gmax, norm(g.data() + t * dc, dc));
    }
    const double r2n = y2 * inv_n - bw + wg;  // ||R||^2 / n
    const double yr = y2 * inv_n - bw;        // <Y, R> / n
    const double primal = 0.5 * r2n + lam * pen;
    const double s = std::max(1.0, gmax / lam);
    const double dual = yr / s - 0.5 * r2n / (s * s);
    return {primal, primal - dual};
  }

  double gram_primal(const std::vector<double>& w, const std::vector<double>& g, double y2,
                     idx_t k) const {
    return gram_stats(w, g, y2, k).primal;
  }

  // Newton's method on the working set's nonzero groups (newton_polish.hpp), from the
  // support's Gram H_.
  void newton_polish(const std::vector<idx_t>& ws, std::vector<double>& w, std::vector<double>& g,
                     double y2) {
    const idx_t k = ws.size(), e = d_ * c_;
    std::vector<idx_t> S;
    for (idx_t t = 0; t < k; ++t)
      if (wnorm_[ws[t]] > 0) S.push_back(t);
    newton_on_support(
        H_.data(), k * d_, d_, c_, opt_.lam, S, w, g,
        [&](const std::vector<double>& wv, const std::vector<double>& gv) {
          return gram_primal(wv, gv, y2, k);
        },
        [&]() { return stop_(); });
    for (idx_t t : S) wnorm_[ws[t]] = norm(w.data() + t * e, e);
  }

  // Anderson weights z (summing to one) for iterates 1..K of a history of K + 1 vectors of
  // length len: minimise ||sum_a z_a (x_{a+1} - x_a)|| subject to sum z = 1.
 public:
  static bool anderson_weights(const std::vector<double>& h, idx_t len, int K,
                               std::vector<double>& z) {
    std::vector<double> UtU(K * K);
    z.assign(K, 1.0);
    for (int a = 0; a < K; ++a)
      for (int bb = a; bb < K; ++bb) {
        double acc = 0.0;
        const double* a1 = h.data() + (a + 1) * len;
        const double* a0 = h.data() + a * len;
        const double* b1 = h.data() + (bb + 1) * len;
        const double* b0 = h.data() + bb * len;
        for (idx_t t = 0; t < len; ++t) acc += (a1[t] - a0[t]) * (b1[t] - b0[t]);
        UtU[a * K + bb] = UtU[bb * K + a] = acc;
      }
    double tr = 0.0;
    for (int a = 0; a < K; ++a) tr += UtU[a * K + a];
    if (!(tr > 0.0)) return false;
    for (int a = 0; a < K; ++a) UtU[a * K + a] += 1e-10 * tr;
    if (!cholesky_solve(K, UtU.data(), z.data())) return false;
    double zs = 0.0;
    for (int a = 0; a < K; ++a) zs += z[a];
    if (!(std::abs(zs) > 0.0) || !std::isfinite(zs)) return false;
    for (int a = 0; a < K; ++a) z[a] /= zs;
    return true;
  }

 private:
  // Extrapolates the last K + 1 iterates; keeps the result only if the objective drops.
  // The residual is affine in W and the weights sum to one, so the extrapolated residual
  // is the same combination of the stored residuals: no product with the design.
  void anderson(const std::vector<idx_t>& ws, double* W, const std::vector<double>& hw,
                const std::vector<double>& hr, int K, idx_t kw) {
    const idx_t dc = d_ * c_, nc = n_ * c_;
    std::vector<double> z;
    if (!anderson_weights(hw, kw, K, z)) return;
    std::vector<double> wacc(kw, 0.0), racc(nc, 0.0);
    for (int a = 0; a < K; ++a) {
      const double* wa = hw.data() + (a + 1) * kw;
      const double* ra = hr.data() + (a + 1) * nc;
      for (idx_t t = 0; t < kw; ++t) wacc[t] += z[a] * wa[t];
      for (idx_t t = 0; t < nc; ++t) racc[t] += z[a] * ra[t];
    }
    const double lam = opt_.lam, inv_n = 1.0 / static_cast<double>(n_);
    double f_cur = centred_norm2(R_.data()), f_acc = centred_norm2(racc.data());
    double pen_cur = 0.0, pen_acc = 0.0;
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

  // ||R - a b||^2 at the best intercept b (||R||^2 without an intercept), weighted by w
  // with output weights (then R - b).
  double centred_norm2(const double* R) const {
    std::vector<double> ar(c_, 0.0);
    if (intercept_)
      for (idx_t k = 0; k < n_; ++k)
        for (idx_t l = 0; l < c_; ++l)
          ar[l] += (ow_ != nullptr ? ow_[k * c_ + l] : a_[k]) * R[k * c_ + l];
    double s = 0.0;
    for (idx_t k = 0; k < n_; ++k)
      for (idx_t l = 0; l < c_; ++l) {
        double e = R[k * c_ + l];
        if (intercept_ && a2l_[l] > 0)
          e -= (ow_ != nullptr ? 1.0 : a_[k]) * ar[l] / a2l_[l];
        s += omega(k * c_ + l) * e * e;
      }
    return s;
  }

  const double* X_;
  idx_t n_, d_;
  bool prox_ = false;  // proximal gradient block steps (wide rows), no Grams
  PackedMasks M_;
  const double* Y_;
  idx_t c_;
  bool intercept_;
  std::vector<double> Xs_, Ys_;  // a X and a Y when the rows are weighted
  std::vector<double> a_;        // row factors sqrt(s_k n / N) (ones if unweighted)
  double a2_ = 0.0;              // ||a||^2
  std::vector<double> Yc_;       // Y minus its best intercept
  std::vector<double> ar_, Rc_;  // a^T R (c) and the centred residual
  // with row shifts: 1 / a2l_ (0 where a2l_ is 0 or without an intercept) and the
  // reciprocal of each row's output weights' sum (0 where it is 0), for after_step
  std::vector<double> inv_a2l_, inv_wrow_;
  std::vector<double> a2l_;      // each output's intercept denominator (||a||^2, sum_k w_kl)
  std::vector<double> Ow_;       // output weights w n / N (n x c), or empty
  const double* ow_ = nullptr;   // Ow_.data() when there are output weights
  std::vector<double> RW_, RWc_;  // w o R and w o Rc (output weights)
  bool row_shift_ = false;
  SolverOptions opt_;
  // Polled in every long phase, OpenMP regions included (const phases too: mutable).
  mutable Interrupt stop_;
  // Multiply-adds of block steps between polls inside an epoch (a few ms).
  static constexpr double kPollWork = 1 << 24;
  std::function<void(long, long, double, double)> report_;
  // The groups' row lists and Grams: this solve's own, or a store kept by the caller
  // across solves of the same rows and row weights (a path: the Grams depend on X, the
  // masks, the sample weights and the intercept, not on Y or lam).
  std::vector<GroupCache> own_cache_;
  std::vector<GroupCache>& cache_;
  PaddedRows P_;  // X with padded rows for the vector kernels
  std::vector<double> R_, wnorm_;
  std::vector<double> H_, b_;  // Newton: the support's H = A^T A / n and b = A^T Y / n
  std::vector<double> Hg_, bg_;  // the same for every group in gram_groups_ (a superset)
  std::vector<idx_t> gram_groups_;
  std::unordered_map<idx_t, idx_t> gram_pos_;
  std::vector<idx_t> last_support_, newton_support_;
  int n_builds_ = 0;
  std::unique_ptr<SymEig> eig_;  // LAPACK workspace of ensure_gram
};

}  // namespace fixntk
