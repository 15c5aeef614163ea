/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* l2norm.cu: per-row L2 normalisation, F.normalize(x, dim=1, eps) (CUDA; twin
 * of cpu/l2norm.c).  One block per row. */
#include "common.cuh"

#define THREADS 256   /* a multiple of 32: ncfm_block_sum assumes it */


static __global__ void
l2norm_forward_kernel (int d, float eps, const float *x, float *y, float *norms)
{
  __shared__ float shared[32];
  const size_t row = blockIdx.x;
  const float *xi = x + row * d;
  float *yi = y + row * d;

  float s = 0.0f;
  for (int j = threadIdx.x; j < d; j += blockDim.x)
    s += xi[j] * xi[j];
  const float norm = sqrtf (ncfm_block_sum (s, shared));
  const float denom = fmaxf (norm, eps);
  for (int j = threadIdx.x; j < d; j += blockDim.x)
    yi[j] = xi[j] / denom;
  if (threadIdx.x == 0)
    norms[row] = norm;
}

/* See cpu/l2norm.c: the projected gradient where ||x|| >= eps, dy / eps where
 * the norm is clamped. */
static __global__ void
l2norm_backward_kernel (int d, float eps, const float *y, const float *norms,
    const float *dy, float *dx)
{
  __shared__ float shared[32];
  const size_t row = blockIdx.x;
  const float *yi = y + row * d, *dyi = dy + row * d;
  float *dxi = dx + row * d;
  const float norm = norms[row];

  if (norm >= eps) {   /* uniform across the block: the reduction is safe */
    float s = 0.0f;
    for (int j = threadIdx.x; j < d; j += blockDim.x)
      s += dyi[j] * yi[j];
    const float dot = ncfm_block_sum (s, shared);
    for (int j = threadIdx.x; j < d; j += blockDim.x)
      dxi[j] = (dyi[j] - yi[j] * dot) / norm;
  } else {
    for (int j = threadIdx.x; j < d; j += blockDim.x)
      dxi[j] = dyi[j] / eps;
  }
}

void
ncfm_cuda_l2norm_rows_forward (NcfmBackend *be, int n, int d, float eps, const float *x,
    float *y, float *norms)
{
  if (n <= 0)
    return;
  l2norm_forward_kernel<<<n, THREADS, 0, ncfm_cuda_stream (be)>>> (d, eps, x, y, norms);
  CUDA_CHECK_LAUNCH ();
}

void
ncfm_cuda_l2norm_rows_backward (NcfmBackend *be, int n, int d, float eps, const float *y,
    const float *norms, const float *dy, float *dx)
{
  if (n <= 0)
    return;
  l2norm_backward_kernel<<<n, THREADS, 0, ncfm_cuda_stream (be)>>> (d, eps, y, norms, dy, dx);
  CUDA_CHECK_LAUNCH ();
}
