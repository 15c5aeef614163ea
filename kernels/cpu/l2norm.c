/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* l2norm.c: per-row L2 normalisation, F.normalize(x, dim=1, eps), forward and
 * backward (CPU reference). */
#include "cpu-ops.h"

#include <math.h>

void
ncfm_cpu_l2norm_rows_forward (NcfmBackend *be, int n, int d, float eps, const float *x,
    float *y, float *norms)
{
  (void) be;
#pragma omp parallel for if ((size_t) n * d > 65536)
  for (int i = 0; i < n; i++) {
    const float *xi = x + (size_t) i * d;
    float *yi = y + (size_t) i * d;
    double sumsq = 0.0;
    for (int j = 0; j < d; j++)
      sumsq += (double) xi[j] * xi[j];
    float norm = (float) sqrt (sumsq);
    float denom = fmaxf (norm, eps);
    for (int j = 0; j < d; j++)
      yi[j] = xi[j] / denom;
    norms[i] = norm;
  }
}

/* y = x / max(||x||, eps).  Where ||x|| >= eps (torch's clamp_min passes the
 * gradient at equality) y = x / ||x|| and dx = (dy - y <dy, y>) / ||x||; where
 * the norm is clamped the denominator is the constant eps and dx = dy / eps. */
void
ncfm_cpu_l2norm_rows_backward (NcfmBackend *be, int n, int d, float eps, const float *y,
    const float *norms, const float *dy, float *dx)
{
  (void) be;
#pragma omp parallel for if ((size_t) n * d > 65536)
  for (int i = 0; i < n; i++) {
    const float *yi = y + (size_t) i * d, *dyi = dy + (size_t) i * d;
    float *dxi = dx + (size_t) i * d;
    float norm = norms[i];
    if (norm >= eps) {
      double dot = 0.0;
      for (int j = 0; j < d; j++)
        dot += (double) dyi[j] * yi[j];
      float dotf = (float) dot;
      for (int j = 0; j < d; j++)
        dxi[j] = (dyi[j] - yi[j] * dotf) / norm;
    } else {
      for (int j = 0; j < d; j++)
        dxi[j] = dyi[j] / eps;
    }
  }
}
