/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linear.c: y = x W^T + b and its backward (CPU reference, ncfm_cpu_sgemm).
 * x [n,in], w [out,in], y [n,out], all row-major. */
#include "cpu-ops.h"

#include "cpu-blas.h"
#include <string.h>

void
ncfm_cpu_linear_forward (NcfmBackend *be, int n, int in, int out, const float *x,
    const float *w, const float *b, float *y)
{
  (void) be;
  if (n <= 0 || out <= 0)
    return;
  /* y starts as the broadcast bias (or 0) and sgemm accumulates onto it */
  for (int i = 0; i < n; i++) {
    if (b)
      memcpy (y + (size_t) i * out, b, (size_t) out * sizeof (float));
    else
      memset (y + (size_t) i * out, 0, (size_t) out * sizeof (float));
  }
  if (in <= 0)
    return;
  ncfm_cpu_sgemm (CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 1.0f, y, out);
}

void
ncfm_cpu_linear_backward (NcfmBackend *be, int n, int in, int out, const float *x,
    const float *w, const float *dy, float *dx, float *dw, float *db)
{
  (void) be;
  if (in > 0 && dx) {
    if (n > 0 && out > 0)   /* dx [n,in] = dy [n,out] W [out,in] */
      ncfm_cpu_sgemm (CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
    else if (n > 0)
      memset (dx, 0, (size_t) n * in * sizeof (float));
  }
  if (in > 0 && out > 0 && dw) {
    if (n > 0)              /* dw [out,in] = dy^T [out,n] x [n,in] */
      ncfm_cpu_sgemm (CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out, x, in, 0.0f, dw, in);
    else
      memset (dw, 0, (size_t) out * in * sizeof (float));
  }
  if (db) {
#pragma omp parallel for schedule(static) if ((size_t) n * out > 65536)
    for (int o = 0; o < out; o++) {
      double s = 0.0;
      for (int i = 0; i < n; i++)
        s += dy[(size_t) i * out + o];
      db[o] = (float) s;
    }
  }
}
