/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* activation.c: (leaky) ReLU and tanh, forward and backward (CPU reference). */
#include "cpu-ops.h"

#include <math.h>

void
ncfm_cpu_leaky_relu_forward (NcfmBackend *be, size_t count, float slope, const float *x, float *y)
{
  (void) be;
  /* branch-free selects: signs of real activations are random, and a
   * branchy or `omp simd` loop here measured 4-8x slower than this one */
#pragma omp parallel for schedule(static) if (count > 65536)
  for (size_t i = 0; i < count; i++) {
    float v = x[i];
    float pos = v > 0.0f ? v : 0.0f, neg = v < 0.0f ? v : 0.0f;
    y[i] = pos + slope * neg;
  }
}

void
ncfm_cpu_leaky_relu_backward (NcfmBackend *be, size_t count, float slope, const float *x_or_y,
    const float *dy, float *dx)
{
  (void) be;
#pragma omp parallel for schedule(static) if (count > 65536)
  for (size_t i = 0; i < count; i++) {
    float scale = x_or_y[i] > 0.0f ? 1.0f : slope;
    dx[i] = scale * dy[i];
  }
}

void
ncfm_cpu_tanh_forward (NcfmBackend *be, size_t count, const float *x, float *y)
{
  (void) be;
#pragma omp parallel for if (count > 65536)
  for (size_t i = 0; i < count; i++)
    y[i] = tanhf (x[i]);
}

void
ncfm_cpu_tanh_backward (NcfmBackend *be, size_t count, const float *y, const float *dy, float *dx)
{
  (void) be;
#pragma omp parallel for schedule(static) if (count > 65536)
  for (size_t i = 0; i < count; i++)
    dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}
