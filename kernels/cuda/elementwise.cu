/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* elementwise.cu: fill, axpby, clamp, scale_rows (CUDA; twin of cpu/elementwise.c). */
#include "common.cuh"

static __global__ void
fill_kernel (size_t count, float value, float *x)
{
  GRID_STRIDE (i, count)
    x[i] = value;
}

static __global__ void
axpby_kernel (size_t count, float a, const float *x, float b, float *y)
{
  GRID_STRIDE (i, count)
    y[i] = a * x[i] + b * y[i];
}

static __global__ void
clamp_kernel (size_t count, float lo, float hi, float *x)
{
  GRID_STRIDE (i, count)
    x[i] = fminf (fmaxf (x[i], lo), hi);
}

static __global__ void
scale_rows_kernel (size_t count, int cols, const float *scale, float *x)
{
  GRID_STRIDE (i, count)
    x[i] *= scale[i / (size_t) cols];
}

void
ncfm_cuda_fill (NcfmBackend *be, size_t count, float value, float *x)
{
  LAUNCH_1D (fill_kernel, count, value, x);
}

void
ncfm_cuda_axpby (NcfmBackend *be, size_t count, float a, const float *x, float b, float *y)
{
  LAUNCH_1D (axpby_kernel, count, a, x, b, y);
}

void
ncfm_cuda_clamp (NcfmBackend *be, size_t count, float lo, float hi, float *x)
{
  LAUNCH_1D (clamp_kernel, count, lo, hi, x);
}

void
ncfm_cuda_scale_rows (NcfmBackend *be, int rows, int cols, const float *scale, float *x)
{
  if (cols <= 0)
    return;
  size_t count = (size_t) rows * cols;
  LAUNCH_1D (scale_rows_kernel, count, cols, scale, x);
}
