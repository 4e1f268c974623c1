// BLAS/LAPACK entry points borrowed at run time from SciPy's cython_blas/cython_lapack
// (Fortran calling convention, column-major). Registered once from Python; the kernels
// fall back to plain loops when a pointer is missing.
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

struct Blas {
  dgemm_t dgemm = nullptr;
  dsyrk_t dsyrk = nullptr;
  dpotrf_t dpotrf = nullptr;
  dpotrs_t dpotrs = nullptr;
  bool ready() const { return dgemm && dsyrk && dpotrf && dpotrs; }
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

}  // namespace fixntk
