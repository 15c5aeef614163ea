/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* linear.cu: y = x W^T + b and its backward (CUDA, cuBLAS; twin of cpu/linear.c).
 *
 * cuBLAS is column-major: a row-major [r, k] matrix is, to cuBLAS, the
 * column-major [k, r] matrix (its transpose) with leading dimension k.  So
 * every row-major product C = A B below is computed as C^T = B^T A^T. */
#include "common.cuh"

/* y[i, o] = b[o] (so sgemm with beta = 1 adds the bias) */
static __global__ void
broadcast_rows_kernel (size_t count, int out, const float *b, float *y)
{
  GRID_STRIDE (i, count) y[i] = b[i % out];
}

/* One warp per column: db[o] = sum_i dy[i, o]. */
static __global__ void
column_sum_kernel (int n, int out, const float *dy, float *db)
{
  const int o = (int) ((blockIdx.x * (size_t) blockDim.x + threadIdx.x) >> 5);
  const int lane = threadIdx.x & 31;
  if (o >= out)   /* whole warps leave together: blockDim.x is a multiple of 32 */
    return;
  float s = 0.0f;
  for (int i = lane; i < n; i += 32)
    s += dy[(size_t) i * out + o];
  s = ncfm_warp_sum (s);
  if (lane == 0)
    db[o] = s;
}

void
ncfm_cuda_linear_forward (NcfmBackend *be, int n, int in, int out, const float *x,
    const float *w, const float *b, float *y)
{
  if (n <= 0 || out <= 0)
    return;
  cudaStream_t st = ncfm_cuda_stream (be);
  size_t count = (size_t) n * out;
  if (b)
    LAUNCH_1D (broadcast_rows_kernel, count, out, b, y);
  if (in <= 0) {
    if (!b)
      CUDA_CHECK (cudaMemsetAsync (y, 0, count * sizeof (float), st));
    return;
  }
  /* y^T [out, n] = W [out, in] (= op T of w as col-major [in, out]) x^T [in, n] */
  const float one = 1.0f, beta = b ? 1.0f : 0.0f;
  CUBLAS_CHECK (cublasSgemm (ncfm_cuda_cublas (be), CUBLAS_OP_T, CUBLAS_OP_N, out, n, in,
      &one, w, in, x, in, &beta, y, out));
}

void
ncfm_cuda_linear_backward (NcfmBackend *be, int n, int in, int out, const float *x,
    const float *w, const float *dy, float *dx, float *dw, float *db)
{
  cudaStream_t st = ncfm_cuda_stream (be);
  cublasHandle_t h = ncfm_cuda_cublas (be);
  const float one = 1.0f, zero = 0.0f;
  if (in > 0 && n > 0 && dx) {
    /* dx^T [in, n] = W^T [in, out] (w as col-major, ld in) dy^T [out, n] (dy, ld out) */
    if (out > 0)
      CUBLAS_CHECK (cublasSgemm (h, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, w, in, dy, out,
          &zero, dx, in));
    else
      CUDA_CHECK (cudaMemsetAsync (dx, 0, (size_t) n * in * sizeof (float), st));
  }
  if (in > 0 && out > 0 && dw) {
    /* dw^T [in, out] = x^T [in, n] (x, ld in) dy [n, out] (op T of dy as col-major [out, n]) */
    if (n > 0)
      CUBLAS_CHECK (cublasSgemm (h, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in, dy, out,
          &zero, dw, in));
    else
      CUDA_CHECK (cudaMemsetAsync (dw, 0, (size_t) out * in * sizeof (float), st));
  }
  if (db && out > 0) {
    const unsigned int threads = 256, warps = threads / 32;
    column_sum_kernel<<<(out + warps - 1) / warps, threads, 0, st>>> (n, out, dy, db);
    CUDA_CHECK_LAUNCH ();
  }
}
