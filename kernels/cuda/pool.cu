/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pool.cu: 2x2 average pooling, stride 2, floor mode (CUDA; twin of cpu/pool.c). */
#include "common.cuh"

/* One thread per output value; planes = n * c. */
static __global__ void
avgpool2x2_forward_kernel (size_t count, int h, int w, const float *x, float *y)
{
  const int ho = h / 2, wo = w / 2;
  GRID_STRIDE (i, count) {
    size_t plane = i / ((size_t) ho * wo);
    int r = (int) (i % ((size_t) ho * wo)), oi = r / wo, oj = r % wo;
    const float *r0 = x + (plane * h + 2 * oi) * w + 2 * oj, *r1 = r0 + w;
    y[i] = (r0[0] + r0[1] + r1[0] + r1[1]) * 0.25f;
  }
}

/* One thread per input value: a quarter of its window's gradient, or 0 for
 * the last row/column that floor mode drops. */
static __global__ void
avgpool2x2_backward_kernel (size_t count, int h, int w, const float *dy, float *dx)
{
  const int ho = h / 2, wo = w / 2;
  GRID_STRIDE (i, count) {
    size_t plane = i / ((size_t) h * w);
    int r = (int) (i % ((size_t) h * w)), oi = r / w / 2, oj = r % w / 2;
    dx[i] = oi < ho && oj < wo ? dy[(plane * ho + oi) * wo + oj] * 0.25f : 0.0f;
  }
}

void
ncfm_cuda_avgpool2x2_forward (NcfmBackend *be, int n, int c, int h, int w, const float *x, float *y)
{
  size_t count = (size_t) n * c * (h / 2) * (w / 2);
  LAUNCH_1D (avgpool2x2_forward_kernel, count, h, w, x, y);
}

void
ncfm_cuda_avgpool2x2_backward (NcfmBackend *be, int n, int c, int h, int w, const float *dy, float *dx)
{
  size_t count = (size_t) n * c * h * w;
  LAUNCH_1D (avgpool2x2_backward_kernel, count, h, w, dy, dx);
}
