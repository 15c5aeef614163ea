/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pool.c: 2x2 average pooling, stride 2, floor mode (nn.AvgPool2d(2, 2))
 * (CPU reference).  With odd h or w the last row or column is not read by
 * forward, so backward gives it a zero gradient. */
#include "cpu-ops.h"

#include <string.h>

#define POOL_PAR_MIN 65536

void
ncfm_cpu_avgpool2x2_forward (NcfmBackend *be, int n, int c, int h, int w, const float *x, float *y)
{
  (void) be;
  const int ho = h / 2, wo = w / 2;
  const long planes = (long) n * c;
#pragma omp parallel for schedule(static) if ((size_t) planes * h * w > POOL_PAR_MIN)
  for (long p = 0; p < planes; p++) {
    const float *xp = x + (size_t) p * h * w;
    float *yp = y + (size_t) p * ho * wo;
    for (int i = 0; i < ho; i++) {
      const float *r0 = xp + (size_t) (2 * i) * w, *r1 = r0 + w;
      for (int j = 0; j < wo; j++)
        yp[(size_t) i * wo + j] = (r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1]) * 0.25f;
    }
  }
}

void
ncfm_cpu_avgpool2x2_backward (NcfmBackend *be, int n, int c, int h, int w, const float *dy, float *dx)
{
  (void) be;
  const int ho = h / 2, wo = w / 2;
  const long planes = (long) n * c;
#pragma omp parallel for schedule(static) if ((size_t) planes * h * w > POOL_PAR_MIN)
  for (long p = 0; p < planes; p++) {
    const float *dyp = dy + (size_t) p * ho * wo;
    float *dxp = dx + (size_t) p * h * w;
    for (int i = 0; i < ho; i++) {
      float *r0 = dxp + (size_t) (2 * i) * w, *r1 = r0 + w;
      for (int j = 0; j < wo; j++) {
        float g = dyp[(size_t) i * wo + j] * 0.25f;
        r0[2 * j] = r0[2 * j + 1] = r1[2 * j] = r1[2 * j + 1] = g;
      }
      if (w & 1)
        r0[w - 1] = r1[w - 1] = 0.0f;
    }
    if (h & 1)
      memset (dxp + (size_t) (h - 1) * w, 0, (size_t) w * sizeof (float));
  }
}
