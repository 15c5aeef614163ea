/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* activation.c: (leaky) ReLU and tanh, forward and backward (CPU reference). */
#include "cpu-ops.h"

#include <math.h>

void
ncfm_cpu_leaky_relu_forward (NcfmBackend *be, size_t count, float slope, const float *x, float *y)
{
  (void) be;
#pragma omp parallel for simd if (count > 65536)
  for (size_t i = 0; i < count; i++)
    y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

void
ncfm_cpu_leaky_relu_backward (NcfmBackend *be, size_t count, float slope, const float *x_or_y,
    const float *dy, float *dx)
{
  (void) be;
#pragma omp parallel for simd if (count > 65536)
  for (size_t i = 0; i < count; i++)
    dx[i] = x_or_y[i] > 0.0f ? dy[i] : slope * dy[i];
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
#pragma omp parallel for simd if (count > 65536)
  for (size_t i = 0; i < count; i++)
    dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}
