/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* activation.cu: (leaky) ReLU and tanh (CUDA; twin of cpu/activation.c). */
#include "common.cuh"

static __global__ void
leaky_relu_forward_kernel (size_t count, float slope, const float *x, float *y)
{
  GRID_STRIDE (i, count) {
    float v = x[i];
    y[i] = v > 0.0f ? v : slope * v;
  }
}

static __global__ void
leaky_relu_backward_kernel (size_t count, float slope, const float *x_or_y, const float *dy, float *dx)
{
  GRID_STRIDE (i, count) dx[i] = x_or_y[i] > 0.0f ? dy[i] : slope * dy[i];
}

static __global__ void
tanh_forward_kernel (size_t count, const float *x, float *y)
{
  GRID_STRIDE (i, count) y[i] = tanhf (x[i]);
}

static __global__ void
tanh_backward_kernel (size_t count, const float *y, const float *dy, float *dx)
{
  GRID_STRIDE (i, count) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

void
ncfm_cuda_leaky_relu_forward (NcfmBackend *be, size_t count, float slope, const float *x, float *y)
{
  LAUNCH_1D (leaky_relu_forward_kernel, count, slope, x, y);
}

void
ncfm_cuda_leaky_relu_backward (NcfmBackend *be, size_t count, float slope, const float *x_or_y,
    const float *dy, float *dx)
{
  LAUNCH_1D (leaky_relu_backward_kernel, count, slope, x_or_y, dy, dx);
}

void
ncfm_cuda_tanh_forward (NcfmBackend *be, size_t count, const float *x, float *y)
{
  LAUNCH_1D (tanh_forward_kernel, count, x, y);
}

void
ncfm_cuda_tanh_backward (NcfmBackend *be, size_t count, const float *y, const float *dy, float *dx)
{
  LAUNCH_1D (tanh_backward_kernel, count, y, dy, dx);
}
