/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* norm.cu: GroupNorm and BatchNorm (CUDA; twin of cpu/norm.c).
 *
 * Reductions are float, made careful the usual way: each thread sums a
 * strided slice, then a warp-shuffle tree and a tree over the warps; the
 * variance is two-pass (squared deviations from the mean already found),
 * and BatchNorm merges per-chunk (mean, M2) pairs with Chan's formula.
 * Nothing uses atomics, so every result is deterministic. */
#include "common.cuh"

#define NORM_MAX_THREADS 256
/* BatchNorm: values of one channel reduced by one block (a chunk of samples) */
#define BN_CHUNK_VALUES 16384

static __device__ __forceinline__ float2
warp_sum2 (float2 v)
{
  for (int o = 16; o > 0; o >>= 1) {
    v.x += __shfl_xor_sync (0xffffffffu, v.x, o);
    v.y += __shfl_xor_sync (0xffffffffu, v.y, o);
  }
  return v;
}

/* Sum of (v.x, v.y) over the block, returned to every thread.  blockDim.x is
 * a multiple of 32 (<= 1024); `shared` holds 32 float2. */
static __device__ float2
block_sum2 (float2 v, float2 *shared)
{
  const unsigned int lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
  v = warp_sum2 (v);
  __syncthreads ();   /* readers of a previous call are done with shared */
  if (lane == 0)
    shared[warp] = v;
  __syncthreads ();
  v = lane < (blockDim.x >> 5) ? shared[lane] : make_float2 (0.0f, 0.0f);
  return warp_sum2 (v);
}

/* Threads for a block reducing m values: 32, 64, 128 or 256. */
static unsigned int
reduce_threads (size_t m)
{
  unsigned int t = 32;
  while (t < m && t < NORM_MAX_THREADS)
    t <<= 1;
  return t;
}

/* ---- GroupNorm: one block per (sample, group), a contiguous run of m values ---- */

static __global__ void
groupnorm_forward_kernel (int c, int hw, int groups, float eps, const float *x,
    const float *gamma, const float *beta, float *y, float *mean, float *rstd)
{
  __shared__ float2 shared[32];
  const int cpg = c / groups;
  const size_t m = (size_t) cpg * hw;
  const size_t b = blockIdx.x;
  const float *xb = x + b * m;
  float *yb = y + b * m;

  float s = 0.0f;
  for (size_t i = threadIdx.x; i < m; i += blockDim.x)
    s += xb[i];
  const float mu = block_sum2 (make_float2 (s, 0.0f), shared).x / (float) m;
  float sq = 0.0f;
  for (size_t i = threadIdx.x; i < m; i += blockDim.x) {
    float d = xb[i] - mu;
    sq += d * d;
  }
  const float var = block_sum2 (make_float2 (sq, 0.0f), shared).x / (float) m;
  const float r = 1.0f / sqrtf (var + eps);
  if (threadIdx.x == 0) {
    mean[b] = mu;
    rstd[b] = r;
  }
  const int c0 = (int) (b % groups) * cpg;
  for (size_t i = threadIdx.x; i < m; i += blockDim.x) {
    int ch = c0 + (int) (i / hw);
    yb[i] = (xb[i] - mu) * (gamma[ch] * r) + beta[ch];
  }
}

/* Per (sample, channel) of the group: s_dy = sum dy, s_dyxc = sum dy (x - mean)
 * (kept for dgamma/dbeta); then dx for the whole group. */
static __global__ void
groupnorm_backward_kernel (int c, int hw, int groups, const float *x, const float *gamma,
    const float *mean, const float *rstd, const float *dy, float *dx, float *s_dy,
    float *s_dyxc)
{
  __shared__ float2 shared[32];
  const int cpg = c / groups;
  const size_t m = (size_t) cpg * hw;
  const size_t b = blockIdx.x;
  const size_t off = b * m;
  const int c0 = (int) (b % groups) * cpg;
  const size_t nc0 = (b / groups) * c + c0;
  const float mu = mean[b], r = rstd[b];

  float a = 0.0f, bb = 0.0f;   /* sum gamma dy, sum gamma dy (x - mean) */
  for (int k = 0; k < cpg; k++) {
    const float *xk = x + off + (size_t) k * hw, *dyk = dy + off + (size_t) k * hw;
    float2 p = make_float2 (0.0f, 0.0f);
    for (int i = threadIdx.x; i < hw; i += blockDim.x) {
      float g = dyk[i];
      p.x += g;
      p.y += g * (xk[i] - mu);
    }
    p = block_sum2 (p, shared);
    if (threadIdx.x == 0) {
      s_dy[nc0 + k] = p.x;
      s_dyxc[nc0 + k] = p.y;
    }
    a += gamma[c0 + k] * p.x;
    bb += gamma[c0 + k] * p.y;
  }
  if (!dx)
    return;
  /* dx = r gamma dy - r a / m - (x - mu) r^3 bb / m */
  const float ca = -r * a / (float) m, cb = -r * r * r * bb / (float) m;
  for (size_t i = threadIdx.x; i < m; i += blockDim.x) {
    int ch = c0 + (int) (i / hw);
    dx[off + i] = (gamma[ch] * r) * dy[off + i] + (x[off + i] - mu) * cb + ca;
  }
}

/* One block per channel: dgamma = sum_n rstd s_dyxc, dbeta = sum_n s_dy. */
static __global__ void
groupnorm_param_grad_kernel (int n, int c, int groups, const float *rstd, const float *s_dy,
    const float *s_dyxc, float *dgamma, float *dbeta)
{
  __shared__ float2 shared[32];
  const int ch = blockIdx.x, g = ch / (c / groups);
  float2 p = make_float2 (0.0f, 0.0f);
  for (int s = threadIdx.x; s < n; s += blockDim.x) {
    size_t i = (size_t) s * c + ch;
    p.x += rstd[(size_t) s * groups + g] * s_dyxc[i];
    p.y += s_dy[i];
  }
  p = block_sum2 (p, shared);
  if (threadIdx.x == 0) {
    if (dgamma)
      dgamma[ch] = p.x;
    if (dbeta)
      dbeta[ch] = p.y;
  }
}

void
ncfm_cuda_groupnorm_forward (NcfmBackend *be, int n, int c, int hw, int groups, float eps,
    const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd)
{
  const unsigned int blocks = (unsigned int) n * groups;
  if (!blocks || !hw)
    return;
  groupnorm_forward_kernel<<<blocks, reduce_threads ((size_t) (c / groups) * hw), 0,
      ncfm_cuda_stream (be)>>> (c, hw, groups, eps, x, gamma, beta, y, mean, rstd);
  CUDA_CHECK_LAUNCH ();
}

/* ---- the fused conv block's epilogue (conv2d.cu): one block per (image,
 * channel) plane [h, w] of the convolution output: instance norm (when gamma;
 * the statistics as groupnorm_forward_kernel takes them), ReLU, 2x2 average
 * pool into y [n * c, h / 2, w / 2] ---- */

static __global__ void
norm_relu_pool_kernel (int c, int h, int w, float eps, const float *x, const float *gamma,
    const float *beta, float *y)
{
  __shared__ float2 shared[32];
  const size_t b = blockIdx.x, m = (size_t) h * w;
  const float *xb = x + b * m;
  float mu = 0.0f, scale = 1.0f, shift = 0.0f;
  if (gamma) {
    float s = 0.0f;
    for (size_t i = threadIdx.x; i < m; i += blockDim.x)
      s += xb[i];
    mu = block_sum2 (make_float2 (s, 0.0f), shared).x / (float) m;
    float sq = 0.0f;
    for (size_t i = threadIdx.x; i < m; i += blockDim.x) {
      float d = xb[i] - mu;
      sq += d * d;
    }
    const float var = block_sum2 (make_float2 (sq, 0.0f), shared).x / (float) m;
    const int ch = (int) (b % c);
    scale = gamma[ch] * (1.0f / sqrtf (var + eps));
    shift = beta[ch];
  }
  const int ho = h / 2, wo = w / 2;
  float *yb = y + b * ho * wo;
  for (int i = threadIdx.x; i < ho * wo; i += blockDim.x) {
    const int oi = i / wo, oj = i % wo;
    const float *r0 = xb + (size_t) (2 * oi) * w + 2 * oj, *r1 = r0 + w;
    const float a = fmaxf ((r0[0] - mu) * scale + shift, 0.0f);
    const float bb = fmaxf ((r0[1] - mu) * scale + shift, 0.0f);
    const float cc = fmaxf ((r1[0] - mu) * scale + shift, 0.0f);
    const float d = fmaxf ((r1[1] - mu) * scale + shift, 0.0f);
    yb[i] = (a + bb + cc + d) * 0.25f;
  }
}

void
ncfm_cuda_norm_relu_pool (NcfmBackend *be, int n, int c, int h, int w, float eps,
    const float *x, const float *gamma, const float *beta, float *y)
{
  const unsigned int blocks = (unsigned int) n * c;
  if (!blocks || h < 2 || w < 2)
    return;
  norm_relu_pool_kernel<<<blocks, reduce_threads ((size_t) h * w), 0, ncfm_cuda_stream (be)>>>
      (c, h, w, eps, x, gamma, beta, y);
  CUDA_CHECK_LAUNCH ();
}

void
ncfm_cuda_groupnorm_backward (NcfmBackend *be, int n, int c, int hw, int groups,
    const float *x, const float *gamma, const float *mean, const float *rstd,
    const float *dy, float *dx, float *dgamma, float *dbeta)
{
  const unsigned int blocks = (unsigned int) n * groups;
  if (!blocks || !hw)
    return;
  float *s_dy = (float *) ncfm_backend_scratch (be, 2 * (size_t) n * c * sizeof (float));
  float *s_dyxc = s_dy + (size_t) n * c;
  cudaStream_t st = ncfm_cuda_stream (be);
  groupnorm_backward_kernel<<<blocks, reduce_threads ((size_t) hw), 0, st>>> (c, hw, groups,
      x, gamma, mean, rstd, dy, dx, s_dy, s_dyxc);
  CUDA_CHECK_LAUNCH ();
  if (dgamma || dbeta) {
    groupnorm_param_grad_kernel<<<c, reduce_threads ((size_t) n), 0, st>>> (n, c, groups,
        rstd, s_dy, s_dyxc, dgamma, dbeta);
    CUDA_CHECK_LAUNCH ();
  }
}

/* ---- BatchNorm: per channel over (n, hw); block (channel, chunk of samples) ---- */

typedef struct {
  int n, c, hw;
  int spc;       /* samples per chunk */
  int chunks;    /* chunks per channel */
} BnChunks;

static BnChunks
bn_chunks (int n, int c, int hw)
{
  BnChunks k = { n, c, hw, 1, 1 };
  int spc = BN_CHUNK_VALUES / (hw > 0 ? hw : 1);
  k.spc = spc < 1 ? 1 : (spc > n ? n : spc);
  k.chunks = (n + k.spc - 1) / k.spc;
  return k;
}

/* Element j of chunk (ch, k): the values of samples [k*spc, ...) of channel ch. */
static __device__ __forceinline__ size_t
bn_index (const BnChunks &k, int ch, int chunk, size_t j)
{
  size_t s = (size_t) chunk * k.spc + j / k.hw;
  return (s * k.c + ch) * k.hw + j % k.hw;
}

static __device__ __forceinline__ size_t
bn_chunk_count (const BnChunks &k, int chunk)
{
  int ns = min (k.spc, k.n - chunk * k.spc);
  return (size_t) ns * k.hw;
}

/* Block ch * chunks + k: mean and M2 (sum of squared deviations) of its chunk. */
static __global__ void
bn_stats_partial_kernel (BnChunks k, const float *x, float *part_mean, float *part_m2)
{
  __shared__ float2 shared[32];
  const int ch = blockIdx.x / k.chunks, chunk = blockIdx.x % k.chunks;
  const size_t cnt = bn_chunk_count (k, chunk);
  float s = 0.0f;
  for (size_t j = threadIdx.x; j < cnt; j += blockDim.x)
    s += x[bn_index (k, ch, chunk, j)];
  const float mu = block_sum2 (make_float2 (s, 0.0f), shared).x / (float) cnt;
  float sq = 0.0f;
  for (size_t j = threadIdx.x; j < cnt; j += blockDim.x) {
    float d = x[bn_index (k, ch, chunk, j)] - mu;
    sq += d * d;
  }
  sq = block_sum2 (make_float2 (sq, 0.0f), shared).x;
  if (threadIdx.x == 0) {
    part_mean[blockIdx.x] = mu;
    part_m2[blockIdx.x] = sq;
  }
}

/* Thread per channel: Chan's merge of the chunks, then the running stats. */
static __global__ void
bn_stats_final_kernel (BnChunks k, float eps, float momentum, const float *part_mean,
    const float *part_m2, float *mean, float *rstd, float *running_mean, float *running_var)
{
  const int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= k.c)
    return;
  const float m = (float) ((size_t) k.n * k.hw);
  const float *pm = part_mean + (size_t) ch * k.chunks, *p2 = part_m2 + (size_t) ch * k.chunks;
  float mu = 0.0f;
  for (int q = 0; q < k.chunks; q++)
    mu += (float) bn_chunk_count (k, q) * pm[q];
  mu /= m;
  float m2 = 0.0f;
  for (int q = 0; q < k.chunks; q++) {
    float d = pm[q] - mu;
    m2 += p2[q] + (float) bn_chunk_count (k, q) * d * d;
  }
  const float var = m2 / m;
  mean[ch] = mu;
  rstd[ch] = 1.0f / sqrtf (var + eps);
  /* unbiased for the running variance, as PyTorch (m == 1: keep the biased 0) */
  const float unbiased = m > 1.0f ? m2 / (m - 1.0f) : var;
  if (running_mean)
    running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * mu;
  if (running_var)
    running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * unbiased;
}

/* y = (x - mean[ch]) * gamma[ch] * rstd[ch] + beta[ch] */
static __global__ void
bn_apply_kernel (size_t count, int c, int hw, const float *x, const float *gamma,
    const float *beta, const float *mean, const float *rstd, float *y)
{
  GRID_STRIDE (i, count) {
    int ch = (int) ((i / hw) % c);
    y[i] = (x[i] - mean[ch]) * (gamma[ch] * rstd[ch]) + beta[ch];
  }
}

static __global__ void
bn_eval_kernel (size_t count, int c, int hw, float eps, const float *x, const float *gamma,
    const float *beta, const float *running_mean, const float *running_var, float *y)
{
  GRID_STRIDE (i, count) {
    int ch = (int) ((i / hw) % c);
    float r = 1.0f / sqrtf (running_var[ch] + eps);
    y[i] = (x[i] - running_mean[ch]) * (gamma[ch] * r) + beta[ch];
  }
}

/* Block ch * chunks + k: sum dy and sum dy (x - mean[ch]) over its chunk. */
static __global__ void
bn_grad_partial_kernel (BnChunks k, const float *x, const float *dy, const float *mean,
    float2 *part)
{
  __shared__ float2 shared[32];
  const int ch = blockIdx.x / k.chunks, chunk = blockIdx.x % k.chunks;
  const size_t cnt = bn_chunk_count (k, chunk);
  const float mu = mean[ch];
  float2 p = make_float2 (0.0f, 0.0f);
  for (size_t j = threadIdx.x; j < cnt; j += blockDim.x) {
    size_t i = bn_index (k, ch, chunk, j);
    p.x += dy[i];
    p.y += dy[i] * (x[i] - mu);
  }
  p = block_sum2 (p, shared);
  if (threadIdx.x == 0)
    part[blockIdx.x] = p;
}

/* Thread per channel: dgamma, dbeta and the dx coefficients
 * coef[ch] = (-gamma r s_dy / m, -gamma r^3 s_dyxc / m). */
static __global__ void
bn_grad_final_kernel (BnChunks k, const float *gamma, const float *rstd, const float2 *part,
    float *dgamma, float *dbeta, float2 *coef)
{
  const int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= k.c)
    return;
  float2 s = make_float2 (0.0f, 0.0f);
  for (int q = 0; q < k.chunks; q++) {
    float2 p = part[(size_t) ch * k.chunks + q];
    s.x += p.x;
    s.y += p.y;
  }
  const float r = rstd[ch], gr = gamma[ch] * r, m = (float) ((size_t) k.n * k.hw);
  if (dgamma)
    dgamma[ch] = r * s.y;
  if (dbeta)
    dbeta[ch] = s.x;
  coef[ch] = make_float2 (-gr * s.x / m, -gr * r * r * s.y / m);
}

static __global__ void
bn_dx_kernel (size_t count, int c, int hw, const float *x, const float *gamma,
    const float *mean, const float *rstd, const float2 *coef, const float *dy, float *dx)
{
  GRID_STRIDE (i, count) {
    int ch = (int) ((i / hw) % c);
    float2 q = coef[ch];
    dx[i] = (gamma[ch] * rstd[ch]) * dy[i] + (x[i] - mean[ch]) * q.y + q.x;
  }
}

static unsigned int
per_channel_blocks (int c)
{
  return (unsigned int) ((c + 127) / 128);
}

void
ncfm_cuda_batchnorm_forward_train (NcfmBackend *be, int n, int c, int hw, float eps,
    float momentum, const float *x, const float *gamma, const float *beta, float *y,
    float *mean, float *rstd, float *running_mean, float *running_var)
{
  if (n <= 0 || c <= 0 || hw <= 0)
    return;
  const BnChunks k = bn_chunks (n, c, hw);
  const size_t parts = (size_t) c * k.chunks;
  float *part_mean = (float *) ncfm_backend_scratch (be, 2 * parts * sizeof (float));
  float *part_m2 = part_mean + parts;
  cudaStream_t st = ncfm_cuda_stream (be);
  bn_stats_partial_kernel<<<(unsigned int) parts, reduce_threads ((size_t) k.spc * hw), 0, st>>> (
      k, x, part_mean, part_m2);
  CUDA_CHECK_LAUNCH ();
  bn_stats_final_kernel<<<per_channel_blocks (c), 128, 0, st>>> (k, eps, momentum, part_mean,
      part_m2, mean, rstd, running_mean, running_var);
  CUDA_CHECK_LAUNCH ();
  size_t count = (size_t) n * c * hw;
  LAUNCH_1D (bn_apply_kernel, count, c, hw, x, gamma, beta, mean, rstd, y);
}

void
ncfm_cuda_batchnorm_forward_eval (NcfmBackend *be, int n, int c, int hw, float eps,
    const float *x, const float *gamma, const float *beta, const float *running_mean,
    const float *running_var, float *y)
{
  size_t count = (size_t) n * c * hw;
  LAUNCH_1D (bn_eval_kernel, count, c, hw, eps, x, gamma, beta, running_mean, running_var, y);
}

void
ncfm_cuda_batchnorm_backward (NcfmBackend *be, int n, int c, int hw, const float *x,
    const float *gamma, const float *mean, const float *rstd, const float *dy,
    float *dx, float *dgamma, float *dbeta)
{
  if (n <= 0 || c <= 0 || hw <= 0)
    return;
  const BnChunks k = bn_chunks (n, c, hw);
  const size_t parts = (size_t) c * k.chunks;
  float2 *part = (float2 *) ncfm_backend_scratch (be, (parts + c) * sizeof (float2));
  float2 *coef = part + parts;
  cudaStream_t st = ncfm_cuda_stream (be);
  bn_grad_partial_kernel<<<(unsigned int) parts, reduce_threads ((size_t) k.spc * hw), 0, st>>> (
      k, x, dy, mean, part);
  CUDA_CHECK_LAUNCH ();
  bn_grad_final_kernel<<<per_channel_blocks (c), 128, 0, st>>> (k, gamma, rstd, part, dgamma,
      dbeta, coef);
  CUDA_CHECK_LAUNCH ();
  if (dx) {
    size_t count = (size_t) n * c * hw;
    LAUNCH_1D (bn_dx_kernel, count, c, hw, x, gamma, mean, rstd, coef, dy, dx);
  }
}
