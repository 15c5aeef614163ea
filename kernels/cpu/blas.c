/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* blas.c: SGEMM split across OpenMP threads over single-threaded OpenBLAS. */
#include "cpu-blas.h"

#ifdef _OPENMP
#include <omp.h>
#endif

void
ncfm_cpu_blas_init (void)
{
  openblas_set_num_threads (1);
}

/* Below this many multiply-adds one thread is faster than a fork/join. */
#define PARALLEL_MIN_WORK (1 << 21)
/* Chunks of rows/columns are multiples of this (whole GEMM micro-tiles). */
#define CHUNK_ALIGN 16

void
ncfm_cpu_sgemm (enum CBLAS_TRANSPOSE trans_a, enum CBLAS_TRANSPOSE trans_b, int m, int n, int k,
    float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
  if (m <= 0 || n <= 0)
    return;
  int threads = 1;
#ifdef _OPENMP
  if (!omp_in_parallel ())
    threads = omp_get_max_threads ();
#endif
  const double work = (double) m * n * (k > 0 ? k : 1);
  const int split_rows = m >= n;
  const int extent = split_rows ? m : n;
  if (threads < 2 || work < PARALLEL_MIN_WORK || extent < 2 * CHUNK_ALIGN) {
    cblas_sgemm (CblasRowMajor, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const int chunk = ((extent + threads - 1) / threads + CHUNK_ALIGN - 1) / CHUNK_ALIGN * CHUNK_ALIGN;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int t = 0; t < threads; t++) {
    const int lo = t * chunk, hi = lo + chunk < extent ? lo + chunk : extent;
    if (lo >= hi)
      continue;
    if (split_rows) {
      /* rows lo..hi of C need rows lo..hi of op(A) */
      const float *a_part = trans_a == CblasNoTrans ? a + (size_t) lo * lda : a + lo;
      cblas_sgemm (CblasRowMajor, trans_a, trans_b, hi - lo, n, k, alpha, a_part, lda, b, ldb,
          beta, c + (size_t) lo * ldc, ldc);
    } else {
      /* columns lo..hi of C need columns lo..hi of op(B) */
      const float *b_part = trans_b == CblasNoTrans ? b + lo : b + (size_t) lo * ldb;
      cblas_sgemm (CblasRowMajor, trans_a, trans_b, m, hi - lo, k, alpha, a, lda, b_part, ldb,
          beta, c + lo, ldc);
    }
  }
}
