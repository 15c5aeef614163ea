/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cf.cu: per-class empirical characteristic functions, their backward
 * weights, the NCFD loss and the MMD (DM) baseline (CUDA; twin of
 * cpu/cf.c).  No atomics: every output has one owning thread or block, and
 * the sums run in the CPU reference's order where that order is cheap to
 * keep (cf_accumulate), in double elsewhere. */
#include "common.cuh"

#define ACC_THREADS 32   /* cf_accumulate: m / 32 blocks spread over the SMs */
#define ACC_UNROLL 8     /* rows whose loads are in flight together */
#define THREADS 256      /* a multiple of 32: the block reductions assume it */

static __device__ __forceinline__ bool
label_ok (int32_t label, int k)
{
  return label >= 0 && label < k;
}

/* One thread per column j, looping over the rows: it owns sum_cos/sum_sin
 * [c, j] for every class c.  Runs of consecutive rows of one class (skipped
 * rows do not end a run) are summed from 0 in row order and added to the
 * output when the class changes, exactly as the CPU reference does. */
static __global__ void
cf_accumulate_kernel (int n, int m, int k, const float *phase, const int32_t *labels,
    float *sum_cos, float *sum_sin)
{
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= m)
    return;
  float acc_c = 0.0f, acc_s = 0.0f;
  int run = -1;
  for (int i0 = 0; i0 < n; i0 += ACC_UNROLL) {
    /* load a group of rows first, so their latencies overlap */
    float p[ACC_UNROLL];
    int32_t lab[ACC_UNROLL];
#pragma unroll
    for (int u = 0; u < ACC_UNROLL; u++) {
      const int i = i0 + u;
      lab[u] = i < n ? labels[i] : -1;
      p[u] = i < n ? phase[(size_t) i * m + j] : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < ACC_UNROLL; u++) {
      if (!label_ok (lab[u], k))   /* the label is the same across the warp */
        continue;
      if (lab[u] != run) {
        if (run >= 0) {
          sum_cos[(size_t) run * m + j] += acc_c;
          sum_sin[(size_t) run * m + j] += acc_s;
        }
        acc_c = acc_s = 0.0f;
        run = lab[u];
      }
      float s, c;
      sincosf (p[u], &s, &c);
      acc_c += c;
      acc_s += s;
    }
  }
  if (run >= 0) {
    sum_cos[(size_t) run * m + j] += acc_c;
    sum_sin[(size_t) run * m + j] += acc_s;
  }
}

/* Grid: x over columns, y over rows (strided past 65535). */
static __global__ void
cf_backward_weights_kernel (int n, int m, int k, const int32_t *labels, const float *g_re,
    const float *g_im, const float *scale, float *w)
{
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= m)
    return;
  for (int i = blockIdx.y; i < n; i += gridDim.y) {
    const size_t x = (size_t) i * m + j;
    const int32_t label = labels[i];
    if (!label_ok (label, k)) {
      w[x] = 0.0f;
      continue;
    }
    const size_t g = (size_t) label * m + j;
    float s, c;
    sincosf (w[x], &s, &c);
    w[x] = scale[label] * (c * g_im[g] - s * g_re[g]);
  }
}

static __device__ __forceinline__ double
warp_sum_double (double v)
{
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync (0xffffffffu, v, o);
  return v;
}

/* Block-wide double sum, valid in thread 0; `shared` holds 32 doubles. */
static __device__ double
block_sum_double (double v, double *shared)
{
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum_double (v);
  if (lane == 0)
    shared[warp] = v;
  __syncthreads ();
  if (warp == 0) {
    v = threadIdx.x < (blockDim.x >> 5) ? shared[lane] : 0.0;
    v = warp_sum_double (v);
  }
  return v;
}

/* One frequency of NCFD, in double: the twin of ncfd_term in cpu/cf.c
 * (see there for the conventions at |phi| = 0, v = 0 and the clamp). */
static __device__ double
ncfd_term (double alpha, double beta, double rr, double ir, double rs, double is,
    double *d_rs, double *d_is, double *d_rr, double *d_ir)
{
  const double ar = sqrt (rr * rr + ir * ir), as = sqrt (rs * rs + is * is);
  const double diff = ar - as;
  const double pha_raw = 2.0 * (ar * as - rr * rs - ir * is);
  const bool live = pha_raw >= 1e-12;
  const double v = alpha * diff * diff + beta * (live ? pha_raw : 1e-12);
  const double root = sqrt (v);
  const double dv = v > 0.0 ? 0.5 / root : 0.0;
  const double urr = ar > 0.0 ? rr / ar : 0.0, uir = ar > 0.0 ? ir / ar : 0.0;
  const double urs = as > 0.0 ? rs / as : 0.0, uis = as > 0.0 ? is / as : 0.0;
  const double bl = live ? 2.0 * beta : 0.0;
  *d_rs = dv * (-2.0 * alpha * diff * urs + bl * (ar * urs - rr));
  *d_is = dv * (-2.0 * alpha * diff * uis + bl * (ar * uis - ir));
  *d_rr = dv * (2.0 * alpha * diff * urr + bl * (as * urr - rs));
  *d_ir = dv * (2.0 * alpha * diff * uir + bl * (as * uir - is));
  return root;
}

/* Grid: one block per class. */
static __global__ void
ncfd_kernel (int m, double alpha, double beta, double per, const float *re_r,
    const float *im_r, const float *re_s, const float *im_s, float *loss, float *g_re_s,
    float *g_im_s, float *g_re_r, float *g_im_r)
{
  __shared__ double shared[32];
  const size_t base = (size_t) blockIdx.x * m;
  double total = 0.0;
  for (int j = threadIdx.x; j < m; j += blockDim.x) {
    const size_t x = base + j;
    double d_rs, d_is, d_rr, d_ir;
    total += ncfd_term (alpha, beta, re_r[x], im_r[x], re_s[x], im_s[x],
        &d_rs, &d_is, &d_rr, &d_ir);
    if (g_re_s) {
      g_re_s[x] = (float) (per * d_rs);
      g_im_s[x] = (float) (per * d_is);
    }
    if (g_re_r) {
      g_re_r[x] = (float) (per * d_rr);
      g_im_r[x] = (float) (per * d_ir);
    }
  }
  total = block_sum_double (total, shared);
  if (threadIdx.x == 0)
    loss[blockIdx.x] = (float) (per * total);
}

/* diff[j] = mean_i x_r[i, j] - mean_i x_s[i, j] in double, a thread per column. */
static __global__ void
mean_diff_kernel (int n_r, int n_s, int d, double inv_r, double inv_s, const float *x_r,
    const float *x_s, double *diff)
{
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= d)
    return;
  double sr = 0.0, ss = 0.0;
#pragma unroll 8
  for (int i = 0; i < n_r; i++)
    sr += x_r[(size_t) i * d + j];
#pragma unroll 8
  for (int i = 0; i < n_s; i++)
    ss += x_s[(size_t) i * d + j];
  diff[j] = sr * inv_r - ss * inv_s;
}

/* One block: loss[0] = sum_j diff[j]^2. */
static __global__ void
sum_squares_kernel (int d, const double *diff, float *loss)
{
  __shared__ double shared[32];
  double s = 0.0;
  for (int j = threadIdx.x; j < d; j += blockDim.x)
    s += diff[j] * diff[j];
  s = block_sum_double (s, shared);
  if (threadIdx.x == 0)
    loss[0] = (float) s;
}

/* g[i, j] = coef diff[j]; grid as cf_backward_weights_kernel. */
static __global__ void
broadcast_rows_kernel (int n, int d, double coef, const double *diff, float *g)
{
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= d)
    return;
  const float v = (float) (coef * diff[j]);
  for (int i = blockIdx.y; i < n; i += gridDim.y)
    g[(size_t) i * d + j] = v;
}

/* A grid of THREADS-wide blocks over `cols` columns and `rows` rows. */
static dim3
rows_grid (int rows, int cols)
{
  return dim3 ((unsigned) ((cols + THREADS - 1) / THREADS),
      (unsigned) (rows < 65535 ? rows : 65535));
}

void
ncfm_cuda_cf_accumulate (NcfmBackend *be, int n, int m, int k, const float *phase,
    const int32_t *labels, float *sum_cos, float *sum_sin)
{
  if (n <= 0 || m <= 0 || k <= 0)
    return;
  cf_accumulate_kernel<<<(m + ACC_THREADS - 1) / ACC_THREADS, ACC_THREADS, 0,
      ncfm_cuda_stream (be)>>> (n, m, k, phase, labels, sum_cos, sum_sin);
  CUDA_CHECK_LAUNCH ();
}

void
ncfm_cuda_cf_backward_weights (NcfmBackend *be, int n, int m, int k, const int32_t *labels,
    const float *g_re, const float *g_im, const float *scale, float *phase_to_w)
{
  if (n <= 0 || m <= 0)
    return;
  cf_backward_weights_kernel<<<rows_grid (n, m), THREADS, 0, ncfm_cuda_stream (be)>>> (
      n, m, k, labels, g_re, g_im, scale, phase_to_w);
  CUDA_CHECK_LAUNCH ();
}

void
ncfm_cuda_ncfd_forward_backward (NcfmBackend *be, int k, int m, float alpha, float beta,
    float scale, const float *re_r, const float *im_r, const float *re_s, const float *im_s,
    float *loss, float *g_re_s, float *g_im_s, float *g_re_r, float *g_im_r)
{
  if (k <= 0)
    return;
  const double per = m > 0 ? (double) scale / m : 0.0;
  ncfd_kernel<<<k, THREADS, 0, ncfm_cuda_stream (be)>>> (m, alpha, beta, per, re_r, im_r,
      re_s, im_s, loss, g_re_s, g_im_s, g_re_r, g_im_r);
  CUDA_CHECK_LAUNCH ();
}

void
ncfm_cuda_mmd_forward_backward (NcfmBackend *be, int n_r, int n_s, int d, const float *x_r,
    const float *x_s, float *loss, float *g_s, float *g_r)
{
  cudaStream_t stream = ncfm_cuda_stream (be);
  if (d <= 0) {
    CUDA_CHECK (cudaMemsetAsync (loss, 0, sizeof (float), stream));
    return;
  }
  if (n_r < 0)
    n_r = 0;
  if (n_s < 0)
    n_s = 0;
  /* the mean of zero rows is taken as 0, as on the CPU */
  const double inv_r = n_r > 0 ? 1.0 / n_r : 0.0, inv_s = n_s > 0 ? 1.0 / n_s : 0.0;
  double *diff = (double *) ncfm_backend_scratch (be, (size_t) d * sizeof (double));
  mean_diff_kernel<<<(d + THREADS - 1) / THREADS, THREADS, 0, stream>>> (n_r, n_s, d,
      inv_r, inv_s, x_r, x_s, diff);
  CUDA_CHECK_LAUNCH ();
  sum_squares_kernel<<<1, 1024, 0, stream>>> (d, diff, loss);
  CUDA_CHECK_LAUNCH ();
  if (g_s && n_s > 0) {
    broadcast_rows_kernel<<<rows_grid (n_s, d), THREADS, 0, stream>>> (n_s, d, -2.0 * inv_s,
        diff, g_s);
    CUDA_CHECK_LAUNCH ();
  }
  if (g_r && n_r > 0) {
    broadcast_rows_kernel<<<rows_grid (n_r, d), THREADS, 0, stream>>> (n_r, d, 2.0 * inv_r,
        diff, g_r);
    CUDA_CHECK_LAUNCH ();
  }
}
