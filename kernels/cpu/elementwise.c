/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* elementwise.c: fill, axpby, clamp, scale_rows (CPU reference). */
#include "cpu-ops.h"

void
ncfm_cpu_fill (NcfmBackend *be, size_t count, float value, float *x)
{
  (void) be;
#pragma omp parallel for schedule(static) if (count > 65536)
  for (size_t i = 0; i < count; i++)
    x[i] = value;
}

void
ncfm_cpu_axpby (NcfmBackend *be, size_t count, float a, const float *x, float b, float *y)
{
  (void) be;
#pragma omp parallel for schedule(static) if (count > 65536)
  for (size_t i = 0; i < count; i++)
    y[i] = a * x[i] + b * y[i];
}

void
ncfm_cpu_clamp (NcfmBackend *be, size_t count, float lo, float hi, float *x)
{
  (void) be;
#pragma omp parallel for schedule(static) if (count > 65536)
  for (size_t i = 0; i < count; i++) {
    float v = x[i];
    v = v < lo ? lo : v;
    x[i] = v > hi ? hi : v;
  }
}

void
ncfm_cpu_scale_rows (NcfmBackend *be, int rows, int cols, const float *scale, float *x)
{
  (void) be;
#pragma omp parallel for schedule(static) if ((size_t) rows * cols > 65536)
  for (int r = 0; r < rows; r++) {
    const float s = scale[r];
    float *row = x + (size_t) r * cols;
    for (int j = 0; j < cols; j++)
      row[j] *= s;
  }
}
