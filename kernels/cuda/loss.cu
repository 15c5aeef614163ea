/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* loss.cu: softmax cross-entropy (CUDA; twin of cpu/loss.c).  One block per
 * row; per-row losses go to scratch and one block sums them, so the batch
 * mean is deterministic (no atomics). */
#include "common.cuh"

#define THREADS 256   /* a multiple of 32: the block reductions assume it */


static __device__ float
block_max (float v, float *shared)
{
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = ncfm_warp_max (v);
  if (lane == 0)
    shared[warp] = v;
  __syncthreads ();
  if (warp == 0) {
    v = threadIdx.x < (blockDim.x >> 5) ? shared[lane] : -INFINITY;
    v = ncfm_warp_max (v);
    if (lane == 0)
      shared[0] = v;
  }
  __syncthreads ();
  v = shared[0];
  __syncthreads ();
  return v;
}

static __device__ __forceinline__ bool
label_ok (int32_t label, int k)
{
  return label >= 0 && label < k;
}

/* Grid: one block per row.  Writes probs and the row's loss. */
static __global__ void
cross_entropy_rows_kernel (int k, const float *logits, const int32_t *labels,
    const float *soft_targets, float *probs, float *row_loss)
{
  __shared__ float shared[32];
  const size_t row = blockIdx.x;
  const float *z = logits + row * k;
  float *p = probs + row * k;

  float zmax = -INFINITY;
  for (int j = threadIdx.x; j < k; j += blockDim.x)
    zmax = fmaxf (zmax, z[j]);
  zmax = block_max (zmax, shared);

  float sum = 0.0f;
  for (int j = threadIdx.x; j < k; j += blockDim.x)
    sum += expf (z[j] - zmax);
  sum = ncfm_block_sum (sum, shared);
  const float log_sum = logf (sum), inv = 1.0f / sum;

  for (int j = threadIdx.x; j < k; j += blockDim.x)
    p[j] = expf (z[j] - zmax) * inv;

  if (labels) {
    if (threadIdx.x == 0) {
      int32_t label = labels[row];
      row_loss[row] = label_ok (label, k) ? log_sum - (z[label] - zmax) : 0.0f;
    }
  } else {
    const float *t = soft_targets + row * k;
    float part = 0.0f;
    for (int j = threadIdx.x; j < k; j += blockDim.x)
      if (t[j] != 0.0f)   /* 0 * (-log p) is 0 even where p underflows */
        part += t[j] * (log_sum - (z[j] - zmax));
    part = ncfm_block_sum (part, shared);
    if (threadIdx.x == 0)
      row_loss[row] = part;
  }
}

/* One block: loss[0] = mean of row_loss[0..n). */
static __global__ void
mean_kernel (int n, const float *row_loss, float *loss)
{
  __shared__ float shared[32];
  float s = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    s += row_loss[i];
  s = ncfm_block_sum (s, shared);
  if (threadIdx.x == 0)
    loss[0] = s / (float) n;
}

static __global__ void
cross_entropy_backward_kernel (size_t count, int k, float inv_n, const float *probs,
    const int32_t *labels, const float *soft_targets, float *dlogits)
{
  GRID_STRIDE (i, count) {
    float p = probs[i];
    if (labels) {
      int32_t label = labels[i / (size_t) k];
      int j = (int) (i % (size_t) k);
      dlogits[i] = (label_ok (label, k) && j == label ? p - 1.0f : p) * inv_n;
    } else {
      dlogits[i] = (p - soft_targets[i]) * inv_n;
    }
  }
}

void
ncfm_cuda_cross_entropy_forward (NcfmBackend *be, int n, int k, const float *logits,
    const int32_t *labels, const float *soft_targets, float *probs, float *loss)
{
  cudaStream_t stream = ncfm_cuda_stream (be);
  if (n <= 0 || k <= 0) {
    CUDA_CHECK (cudaMemsetAsync (loss, 0, sizeof (float), stream));
    return;
  }
  float *row_loss = (float *) ncfm_backend_scratch (be, (size_t) n * sizeof (float));
  cross_entropy_rows_kernel<<<n, THREADS, 0, stream>>> (k, logits, labels, soft_targets,
      probs, row_loss);
  CUDA_CHECK_LAUNCH ();
  mean_kernel<<<1, 1024, 0, stream>>> (n, row_loss, loss);
  CUDA_CHECK_LAUNCH ();
}

void
ncfm_cuda_cross_entropy_backward (NcfmBackend *be, int n, int k, const float *probs,
    const int32_t *labels, const float *soft_targets, float *dlogits)
{
  if (n <= 0 || k <= 0)
    return;
  const size_t count = (size_t) n * k;
  const float inv_n = 1.0f / (float) n;
  LAUNCH_1D (cross_entropy_backward_kernel, count, k, inv_n, probs, labels, soft_targets,
      dlogits);
}
