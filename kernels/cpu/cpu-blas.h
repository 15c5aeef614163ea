/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cpu-blas.h: the CPU backend's one way to call SGEMM.
 *
 * OpenBLAS runs single-threaded (the CPU backend sets that once, at creation)
 * and all CPU parallelism comes from OpenMP: the ops split their work across
 * OpenMP threads themselves.  Two thread pools on the same cores (OpenBLAS's
 * pthreads spinning while OpenMP's spin) measured ~10% lost to spinning, and
 * toggling OpenBLAS's global thread count per call is racy between backends. */
#ifndef NCFM_CPU_BLAS_H
#define NCFM_CPU_BLAS_H

#include <cblas.h>

/* Row-major C [m, n] = alpha op(A) [m, k] op(B) [k, n] + beta C, split over
 * the OpenMP threads by rows (or columns) of C when it is large enough and
 * the caller is not already inside a parallel region. */
void ncfm_cpu_sgemm (enum CBLAS_TRANSPOSE trans_a, enum CBLAS_TRANSPOSE trans_b, int m, int n,
    int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c,
    int ldc);

/* Makes OpenBLAS single-threaded (idempotent). */
void ncfm_cpu_blas_init (void);

#endif
