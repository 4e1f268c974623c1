// BLAS/LAPACK entry points borrowed at run time from SciPy's cython_blas/cython_lapack
// (Fortran calling convention, column-major). Registered once from Python at import
// (fixntk._solver); the eigendecompositions and the Anderson solve need them, the block
// Grams use plain loops below d = 16 (where the gather costs what BLAS saves).
#pragma once

namespace fixntk {

using dgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*,
                         const double*, const double*, const int*, const double*, const int*,
                         const double*, double*, const int*);
using dsyrk_t = void (*)(const char*, const char*, const int*, const int*, const double*,
                         const double*, const int*, const double*, double*, const int*);
using dpotrf_t = void (*)(const char*, const int*, double*, const int*, int*);
using dpotrs_t = void (*)(const char*, const int*, const int*, const double*, const int*,
                          double*, const int*, int*);
using dsyevd_t = void (*)(const char*, const char*, const int*, double*, const int*, double*,
                          double*, const int*, int*, const int*, int*);

struct Blas {
  dgemm_t dgemm = nullptr;
  dsyrk_t dsyrk = nullptr;
  dpotrf_t dpotrf = nullptr;
  dpotrs_t dpotrs = nullptr;
  dsyevd_t dsyevd = nullptr;
  bool ready() const { return dgemm && dsyrk && dpotrf && dpotrs && dsyevd; }
};

inline Blas& blas() {
  static Blas b;
  return b;
}

// C (m x n, row-major) = alpha * A^T B + beta * C, with A (k x m) and B (k x n) row-major.
inline void gemm_tn(int m, int n, int k, double alpha, const double* A, int lda, const double* B,
                    int ldb, double beta, double* C, int ldc) {
  // Row-major C = A^T B is column-major C^T = B^T A: dgemm('N', 'T') on the transposed views.
  const char N = 'N', T = 'T';
  blas().dgemm(&N, &T, &n, &m, &k, &alpha, B, &ldb, A, &lda, &beta, C, &ldc);
}

// C (m x m, full) += alpha * A^T A for A (k x m) row-major; C is row-major and symmetric
// on return only in its lower triangle (column-major upper); call symmetrize() after.
inline void syrk_t(int m, int k, double alpha, const double* A, int lda, double beta, double* C,
                   int ldc) {
  const char U = 'U', N = 'N';
  blas().dsyrk(&U, &N, &m, &k, &alpha, A, &lda, &beta, C, &ldc);
}

// Solves A z = b in place for a small SPD matrix A (K x K, symmetric: row- and
// column-major alike) by LAPACK's Cholesky dpotrf/dpotrs; false if A is not numerically
// positive definite. A is overwritten by its factor.
inline bool cholesky_solve(int K, double* A, double* b) {
  const char U = 'U';
  const int one = 1;
  int info = 0;
  blas().dpotrf(&U, &K, A, &K, &info);
  if (info != 0) return false;
  blas().dpotrs(&U, &K, &one, A, &K, b, &K, &info);
  return info == 0;
}

}  // namespace fixntk
