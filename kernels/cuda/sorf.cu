/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sorf.cu: phases x t^T and their input gradient for structured orthogonal
 * random frequencies by fast Walsh-Hadamard transforms (CUDA; twin of
 * cpu/sorf.c).  One thread block per sample, its work row of p floats in the
 * backend's scratch, one butterfly stage between two barriers. */
#include "common.cuh"

#define THREADS 256
#define N_SIGNS 3

/* y <- y H: the whole thread block takes part. */
static __device__ void
hadamard_block (float *y, int p)
{
  for (int h = 1; h < p; h <<= 1) {
    for (int k = threadIdx.x; k < p / 2; k += blockDim.x) {
      const int i = (k / h) * 2 * h + k % h;
      const float a = y[i], b = y[i + h];
      y[i] = a + b;
      y[i + h] = a - b;
    }
    __syncthreads ();
  }
}

static __device__ void
times_signs_block (float *y, const float *signs, int p)
{
  for (int j = threadIdx.x; j < p; j += blockDim.x)
    y[j] *= signs[j];
  __syncthreads ();
}

static __global__ void
sorf_forward_kernel (int d, int m, int p, const float *signs, const float *scale,
    const float *x, float *phase, float *work)
{
  const size_t i = blockIdx.x;
  float *y = work + i * p;
  for (int row0 = 0; row0 < m; row0 += p) {
    const float *s = signs + (size_t) (row0 / p) * N_SIGNS * p;
    const int rows = min (p, m - row0);
    for (int j = threadIdx.x; j < p; j += blockDim.x)
      y[j] = j < d ? x[i * d + j] : 0.0f;
    __syncthreads ();
    for (int l = N_SIGNS - 1; l >= 0; l--) {
      times_signs_block (y, s + (size_t) l * p, p);
      hadamard_block (y, p);
    }
    for (int r = threadIdx.x; r < rows; r += blockDim.x)
      phase[i * m + row0 + r] = scale[row0 + r] * y[r];
    __syncthreads ();
  }
}

static __global__ void
sorf_backward_kernel (int d, int m, int p, const float *signs, const float *scale,
    const float *dphase, float *dx, float *work)
{
  const size_t i = blockIdx.x;
  float *y = work + i * p;
  for (int j = threadIdx.x; j < d; j += blockDim.x)
    dx[i * d + j] = 0.0f;
  for (int row0 = 0; row0 < m; row0 += p) {
    const float *s = signs + (size_t) (row0 / p) * N_SIGNS * p;
    const int rows = min (p, m - row0);
    for (int r = threadIdx.x; r < p; r += blockDim.x)
      y[r] = r < rows ? dphase[i * m + row0 + r] * scale[row0 + r] : 0.0f;
    __syncthreads ();
    for (int l = 0; l < N_SIGNS; l++) {
      hadamard_block (y, p);
      times_signs_block (y, s + (size_t) l * p, p);
    }
    for (int j = threadIdx.x; j < d; j += blockDim.x)
      dx[i * d + j] += y[j];
    __syncthreads ();
  }
}

void
ncfm_cuda_sorf_forward (NcfmBackend *be, int n, int d, int m, int p, const float *signs,
    const float *scale, const float *x, float *phase)
{
  if (n <= 0 || m <= 0)
    return;
  float *work = (float *) ncfm_backend_scratch (be, (size_t) n * p * sizeof (float));
  sorf_forward_kernel<<<n, THREADS, 0, ncfm_cuda_stream (be)>>> (d, m, p, signs, scale, x,
      phase, work);
  CUDA_CHECK_LAUNCH ();
}

void
ncfm_cuda_sorf_backward (NcfmBackend *be, int n, int d, int m, int p, const float *signs,
    const float *scale, const float *dphase, float *dx)
{
  if (n <= 0)
    return;
  float *work = (float *) ncfm_backend_scratch (be, (size_t) n * p * sizeof (float));
  sorf_backward_kernel<<<n, THREADS, 0, ncfm_cuda_stream (be)>>> (d, m, p, signs, scale,
      dphase, dx, work);
  CUDA_CHECK_LAUNCH ();
}
