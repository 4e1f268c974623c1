// The one pybind11 module. Kernels take raw pointers; numpy stays here. setup.py compiles
// it once per instruction set, as fixntk._core_<build> (FIXNTK_MODULE names it), and
// fixntk._cpu imports the build this CPU runs.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "bcd_solver.hpp"
#include "gram_blocks.hpp"
#include "gram_solver.hpp"

namespace py = pybind11;
using namespace fixntk;

namespace {

using carr = py::array_t<double, py::array::c_style | py::array::forcecast>;
using marr = py::array_t<std::uint8_t, py::array::c_style>;

void require(bool ok, const std::string& msg) {
  if (!ok) throw std::invalid_argument(msg);
}

PackedMasks packed_view(const marr& packed, idx_t n) {
  require(packed.ndim() == 2, "packed masks must be a 2-d uint8 array (p, ceil(n/8))");
  require(packed.shape(1) * 8 >= n, "packed masks hold fewer than n bits per group");
  return PackedMasks{packed.data(), packed.shape(0), n, packed.shape(1)};
}

void check_X(const carr& X) { require(X.ndim() == 2, "X must be 2-d (n, d)"); }

// Ctrl-C and Python signal handlers (signal.alarm) while the GIL is released: the handlers
// run in PyErr_CheckSignals, asked by Interrupt from the calling thread. A handler's
// exception stays set, and the binding raises it (py::error_already_set) once the
// compiled phase has stopped.
bool python_signal() {
  py::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;
}

void check_rows(const carr& A, idx_t n, const char* what) {
  require(A.ndim() == 2 && A.shape(0) == n,
          std::string(what) + " must be 2-d with as many rows as X");
}

py::array_t<double> predict(const carr& X, const marr& packed, const carr& W) {
  check_X(X);
  const idx_t n = X.shape(0), d = X.shape(1);
  PackedMasks M = packed_view(packed, n);
  require(W.ndim() == 3 && W.shape(0) == M.p && W.shape(1) == d, "W must have shape (p, d, c)");
  const idx_t c = W.shape(2);
  py::array_t<double> out({n, c});
  std::vector<idx_t> groups;
  const double* w = W.data();
  for (idx_t i = 0; i < M.p; ++i) {
    bool nz = false;
    for (idx_t a = 0; a < d * c && !nz; ++a) nz = w[i * d * c + a] != 0.0;
    if (nz) groups.push_back(i);
  }
  double* o = out.mutable_data();
  Interrupt stop(python_signal);
  {
    py::gil_scoped_release release;
    masked_predict(X.data(), n, d, M, w, c, groups, o, &stop);
  }
  if (stop.raised()) throw py::error_already_set();
  return out;
}

py::array_t<double> gradients(const carr& X, const marr& packed, const carr& R) {
  check_X(X);
  const idx_t n = X.shape(0), d = X.shape(1);
  PackedMasks M = packed_view(packed, n);
  check_rows(R, n, "R");
  const idx_t c = R.shape(1);
  py::array_t<double> G({M.p, d, c});
  double* g = G.mutable_data();
  Interrupt stop(python_signal);
  {
    py::gil_scoped_release release;
    const PaddedRows P(X.data(), n, d);
    masked_gradients(X.data(), n, d, M, R.data(), c, g, &P, &stop);
  }
  if (stop.raised()) throw py::error_already_set();
  return G;
}

// Runs a solver without the GIL (the Python signal check inside takes it back); an
// interrupt re-raises the handler's exception, else the result's common entries.
template <class Solver>
auto run_released(Solver& solver, double* w) {
  decltype(solver.run(w)) rep;
  {
    py::gil_scoped_release release;
    rep = solver.run(w);
  }
  if (rep.interrupted) throw py::error_already_set();
  return rep;
}

template <class Report>
py::dict report_dict(const py::array_t<double>& W, const Report& rep) {
  py::dict out;
  out["coef"] = W;
  out["primal"] = rep.primal;
  out["dual"] = rep.dual;
  out["gap"] = rep.gap;
  out["n_epochs"] = rep.n_epochs;
  out["converged"] = rep.converged;
  return out;
}

py::tuple eig(const carr& A) {
  require(A.ndim() == 2 && A.shape(0) == A.shape(1), "A must be square");
  const idx_t d = A.shape(0);
  require(blas().ready(), "BLAS/LAPACK not registered (import fixntk first)");
  py::array_t<double> s(d), U({d, d});
  if (!SymEig(d)(A.data(), s.mutable_data(), U.mutable_data()))
    throw std::runtime_error("LAPACK dsyevd did not converge");
  return py::make_tuple(s, U);
}

// Block row lists and Grams kept across solves on the same rows, row weights and
// intercept (the caller's promise): a path's solves then build each Gram once.
struct GramStore {
  idx_t n, d;
  std::vector<GroupCache> groups;
  GramStore(idx_t n_, idx_t d_, idx_t p) : n(n_), d(d_), groups(p) {}
};

py::dict solve(const carr& X, const marr& packed, const carr& Y, const carr& W0, double lam,
               double tol, long max_epochs, long ws_start, double inner_ratio,
               const py::object& callback, long gram_max, bool newton, int anderson_k,
               double newton_gap, const py::object& sample_weight, bool intercept,
               double gap_target, double weight_sum, const py::object& output_weight,
               bool row_shift, const py::object& gram_store, int block_step,
               int streamed) {
  check_X(X);
  const idx_t n = X.shape(0), d = X.shape(1);
  PackedMasks M = packed_view(packed, n);
  check_rows(Y, n, "Y");
  const idx_t c = Y.shape(1);
  require(W0.ndim() == 3 && W0.shape(0) == M.p && W0.shape(1) == d && W0.shape(2) == c,
          "warm start must have shape (p, d, c)");
  require(lam > 0, "lam must be positive");
  require(tol > 0, "tol must be positive");
  SolverOptions opt;
  opt.lam = lam;
  opt.tol = tol;
  opt.max_epochs = max_epochs;
  opt.ws_start = ws_start;
  opt.inner_ratio = inner_ratio;
  opt.gram_max = gram_max;
  opt.newton = newton;
  opt.anderson_k = anderson_k;
  opt.newton_gap = newton_gap;
  opt.gap_target = gap_target;
  opt.weight_sum = weight_sum;
  opt.row_shift = row_shift;
  require(block_step >= -1 && block_step <= 1, "block_step must be -1, 0 or 1");
  opt.block_step = block_step;
  require(streamed >= -1 && streamed <= 1, "streamed must be -1, 0 or 1");
  opt.streamed = streamed;
  carr sw;
  if (!sample_weight.is_none()) {
    sw = carr::ensure(sample_weight);
    require(sw && sw.ndim() == 1 && sw.shape(0) == n, "sample_weight must have shape (n,)");
    const double* w = sw.data();
    double total = 0.0;
    for (idx_t k = 0; k < n; ++k) {
      require(w[k] >= 0 && std::isfinite(w[k]), "sample weights must be finite and >= 0");
      total += w[k];
    }
    require(total > 0, "sample weights sum to zero");
  }
  carr ow;
  if (!output_weight.is_none()) {
    require(sample_weight.is_none(), "give sample_weight or output_weight, not both");
    ow = carr::ensure(output_weight);
    require(ow && ow.ndim() == 2 && ow.shape(0) == n && ow.shape(1) == c,
            "output_weight must have shape (n, c)");
    const double* w = ow.data();
    for (idx_t a = 0; a < n * c; ++a)
      require(w[a] >= 0 && std::isfinite(w[a]), "output weights must be finite and >= 0");
  }
  py::array_t<double> W({M.p, d, c});
  std::copy(W0.data(), W0.data() + M.p * d * c, W.mutable_data());

  std::function<void(long, long, double, double)> report;
  if (!callback.is_none()) {
    report = [&callback](long outer, long epochs, double primal, double gap) {
      py::gil_scoped_acquire gil;
      callback(outer, epochs, primal, gap);
    };
  }
  std::vector<GroupCache>* store = nullptr;
  if (!gram_store.is_none()) {
    GramStore& st = gram_store.cast<GramStore&>();
    require(output_weight.is_none(), "a Gram store cannot serve output weights");
    require(static_cast<idx_t>(st.groups.size()) == M.p && st.n == n && st.d == d,
            "the Gram store was made for another problem");
    store = &st.groups;
  }
  GroupLassoBCD solver(X.data(), n, d, M, Y.data(), c, sample_weight.is_none() ? nullptr : sw.data(),
                       intercept, opt, python_signal, report,
                       output_weight.is_none() ? nullptr : ow.data(), store);
  const SolverReport rep = run_released(solver, W.mutable_data());
  py::dict out = report_dict(W, rep);
  out["f0"] = rep.f0;
  out["n_outer"] = rep.n_outer;
  out["intercept"] = py::array_t<double>(rep.intercept.size(), rep.intercept.data());
  out["gap_history"] = py::array_t<double>(rep.gap_history.size(), rep.gap_history.data());
  out["epoch_history"] = py::array_t<long>(rep.epoch_history.size(), rep.epoch_history.data());
  return out;
}

std::vector<idx_t> group_list(const py::array_t<long long, py::array::c_style | py::array::forcecast>& a,
                              idx_t p, const char* what) {
  require(a.ndim() == 1, std::string(what) + " must be a 1-d array of group indices");
  std::vector<idx_t> out(a.data(), a.data() + a.shape(0));
  for (idx_t i : out) require(i >= 0 && i < p, std::string(what) + " holds a group out of range");
  return out;
}

py::array_t<double> gram_extend(const carr& X, const marr& packed,
                                const py::array_t<long long, py::array::c_style | py::array::forcecast>& old,
                                const py::array_t<long long, py::array::c_style | py::array::forcecast>& fresh,
                                const py::object& weights, const py::object& centre) {
  check_X(X);
  const idx_t n = X.shape(0), d = X.shape(1);
  PackedMasks M = packed_view(packed, n);
  const std::vector<idx_t> o = group_list(old, M.p, "old"), f = group_list(fresh, M.p, "fresh");
  carr u;
  if (!centre.is_none()) {
    u = carr::ensure(centre);
    require(u && u.ndim() == 2 && u.shape(0) == static_cast<idx_t>(o.size() + f.size()) &&
                u.shape(1) == d,
            "centre must have shape (len(old) + len(fresh), d)");
  }
  require(blas().ready(), "BLAS/LAPACK not registered (import fixntk first)");
  carr w;
  if (!weights.is_none()) {
    w = carr::ensure(weights);
    require(w && w.ndim() == 1 && w.shape(0) == n, "weights must have shape (n,)");
  }
  const idx_t m_all = static_cast<idx_t>(o.size() + f.size()) * d, m_new = f.size() * d;
  py::array_t<double> out({m_all, m_new});
  double* po = out.mutable_data();
  Interrupt stop(python_signal);
  {
    py::gil_scoped_release release;
    masked_gram_extend(X.data(), n, d, M, o, f, weights.is_none() ? nullptr : w.data(),
                       centre.is_none() ? nullptr : u.data(), po, &stop);
  }
  if (stop.raised()) throw py::error_already_set();
  return out;
}

py::dict solve_gram(const carr& H, const carr& b, double y2, const carr& W0, double lam,
                    double gap_target, long max_epochs, int anderson_k, long seed,
                    bool newton) {
  require(H.ndim() == 2 && H.shape(0) == H.shape(1), "H must be square (m, m)");
  require(W0.ndim() == 3, "W0 must have shape (k, d, c)");
  const idx_t k = W0.shape(0), d = W0.shape(1), c = W0.shape(2), m = k * d;
  require(H.shape(0) == m, "H must be (k d, k d) for W0 of shape (k, d, c)");
  require(b.ndim() == 2 && b.shape(0) == m && b.shape(1) == c, "b must have shape (k d, c)");
  require(lam > 0, "lam must be positive");
  require(std::isfinite(y2), "y2 must be finite");
  require(blas().ready(), "BLAS/LAPACK not registered (import fixntk first)");
  for (idx_t a = 0; a < m * m; ++a) require(std::isfinite(H.data()[a]), "H holds NaN or infinity");
  GramOptions opt;
  opt.lam = lam;
  opt.gap_target = gap_target;
  opt.max_epochs = max_epochs;
  opt.anderson_k = anderson_k;
  opt.seed = static_cast<std::uint64_t>(seed);
  opt.newton = newton;
  py::array_t<double> W({k, d, c});
  std::copy(W0.data(), W0.data() + m * c, W.mutable_data());
  GramGroupLasso solver(H.data(), b.data(), y2, k, d, c, opt, python_signal);
  return report_dict(W, run_released(solver, W.mutable_data()));
}

void set_blas(std::uintptr_t dgemm, std::uintptr_t dsyrk, std::uintptr_t dpotrf,
              std::uintptr_t dpotrs, std::uintptr_t dsyevd) {
  require(dgemm && dsyrk && dpotrf && dpotrs && dsyevd, "set_blas: a null function address");
  Blas& b = blas();
  b.dgemm = reinterpret_cast<dgemm_t>(dgemm);
  b.dsyrk = reinterpret_cast<dsyrk_t>(dsyrk);
  b.dpotrf = reinterpret_cast<dpotrf_t>(dpotrf);
  b.dpotrs = reinterpret_cast<dpotrs_t>(dpotrs);
  b.dsyevd = reinterpret_cast<dsyevd_t>(dsyevd);
}

// True where the CPU (and the OS, which must save the AVX registers) runs x86-64-v3 code:
// asked of the baseline build before the x86-64-v3 build is imported.
bool cpu_supports_x86_64_v3() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
  __builtin_cpu_init();
  return __builtin_cpu_supports("x86-64-v3");  // every feature of the level, LZCNT, MOVBE
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c") &&
         __builtin_cpu_supports("popcnt");
#else
  return false;
#endif
}

}  // namespace

#ifndef FIXNTK_MODULE
#define FIXNTK_MODULE _core_generic
#endif

PYBIND11_MODULE(FIXNTK_MODULE, m) {
  m.doc() = "fixntk compiled kernels: masked products and the group-lasso BCD solver";
  py::class_<GramStore>(m, "GramStore",
                        "Block Grams kept across solve_group_lasso calls on the same X, "
                        "masks, sample weights and intercept.")
      .def(py::init<idx_t, idx_t, idx_t>(), py::arg("n"), py::arg("d"), py::arg("p"));
  m.def("masked_predict", &predict, py::arg("X"), py::arg("packed"), py::arg("W"),
        "sum_i D_i X W_i for W of shape (p, d, c); returns (n, c).");
  m.def("masked_gradients", &gradients, py::arg("X"), py::arg("packed"), py::arg("R"),
        "X^T D_i R for every group; returns (p, d, c), unscaled.");
  m.def("set_blas", &set_blas, py::arg("dgemm"), py::arg("dsyrk"), py::arg("dpotrf"),
        py::arg("dpotrs"), py::arg("dsyevd"),
        "Register BLAS/LAPACK function addresses (Fortran convention) for the solver.");
  m.def("has_blas", []() { return blas().ready(); });
  m.def("prox_block_steps", &GroupLassoBCD::prox_pays, py::arg("n"), py::arg("d"),
        "Whether solve_group_lasso's automatic choice takes proximal gradient block steps "
        "(no block Grams) on n rows of width d.");
  m.def("team_helpers", &team_helpers, py::arg("n_chunks"),
        "Helper threads the row loops would start beside the calling thread for a job of "
        "n_chunks row chunks (OpenMP's thread count of the calling thread, the CPUs this "
        "process may run on and the chunks, less one; 0 without OpenMP).");
  m.def("cpu_supports_x86_64_v3", &cpu_supports_x86_64_v3,
        "Whether this CPU runs the x86-64-v3 build (AVX2, FMA, BMI1/2, F16C).");
  m.def("sym_eig", &eig, py::arg("A"),
        "Eigendecomposition (s, U) of a symmetric matrix by LAPACK dsyevd, negative "
        "eigenvalues clamped to 0 (the solver's block Grams).");
  m.def("masked_gram_extend", &gram_extend, py::arg("X"), py::arg("packed"), py::arg("old"),
        py::arg("fresh"), py::arg("weights") = py::none(), py::arg("centre") = py::none(),
        "[C; S] with C = Z_old^T diag(w) Z_new and S = Z_new^T diag(w) Z_new for the "
        "design rows z_G(k) = [m_i(k) x_k - u_i]_{i in G} (unnormalised; u_i the rows "
        "of centre, (len(old) + len(fresh), d) in that order, or 0); shape "
        "((|old| + |fresh|) d, |fresh| d).");
  m.def("solve_gram", &solve_gram, py::arg("H"), py::arg("b"), py::arg("y2"), py::arg("W0"),
        py::arg("lam"), py::arg("gap_target"), py::arg("max_epochs") = 100000,
        py::arg("anderson_k") = 5, py::arg("seed") = 0, py::arg("newton") = true,
        "Covariance mode: min 1/2 <w, H w> - <b, w> + y2/2 + lam sum_t ||w_t|| over W "
        "(k, d, c) from W0, to gap <= gap_target (newton: Newton steps on a settled "
        "support); returns coef, primal, dual, gap, n_epochs, converged.");
  m.def("solve_group_lasso", &solve, py::arg("X"), py::arg("packed"), py::arg("Y"),
        py::arg("W0"), py::arg("lam"), py::arg("tol"), py::arg("max_epochs"),
        py::arg("ws_start"), py::arg("inner_ratio"), py::arg("callback"),
        py::arg("gram_max") = 4096, py::arg("newton") = true, py::arg("anderson_k") = 5,
        py::arg("newton_gap") = 1e-3, py::arg("sample_weight") = py::none(),
        py::arg("intercept") = false, py::arg("gap_target") = 0.0, py::arg("weight_sum") = 0.0,
        py::arg("output_weight") = py::none(), py::arg("row_shift") = false,
        py::arg("gram_store") = py::none(), py::arg("block_step") = -1,
        py::arg("streamed") = -1);
}
