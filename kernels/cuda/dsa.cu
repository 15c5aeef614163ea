/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dsa.cu: differentiable siamese augmentation (CUDA; twin of cpu/dsa.c).
 * Elementwise ops: one thread per value.  Saturation: one thread per pixel.
 * Contrast: one block per image (mean, then the update).  Affine: one thread
 * per output pixel looping over channels; its backward zeroes dx and scatters
 * with atomicAdd. */
#include "common.cuh"

static __global__ void
brightness_kernel (size_t count, int chw, const float *delta, const float *x, float *y)
{
  GRID_STRIDE (k, count)
    y[k] = x[k] + delta[k / (size_t) chw];
}

void
ncfm_cuda_dsa_brightness (NcfmBackend *be, int n, int chw, const float *delta, const float *x,
    float *y)
{
  const size_t count = (size_t) n * chw;
  LAUNCH_1D (brightness_kernel, count, chw, delta, x, y);
}

static __global__ void
saturation_kernel (size_t count, int c, int hw, const float *factor, const float *x, float *y)
{
  GRID_STRIDE (k, count) {
    const size_t i = k / (size_t) hw, p = k % (size_t) hw;
    const float *xi = x + i * c * hw + p;
    float *yi = y + i * c * hw + p;
    float s = 0.0f;
    for (int ch = 0; ch < c; ch++)
      s += xi[(size_t) ch * hw];
    const float m = s / (float) c, f = factor[i];
    for (int ch = 0; ch < c; ch++)
      yi[(size_t) ch * hw] = m + (xi[(size_t) ch * hw] - m) * f;
  }
}

void
ncfm_cuda_dsa_saturation (NcfmBackend *be, int n, int c, int hw, const float *factor,
    const float *x, float *y)
{
  const size_t count = (size_t) n * hw;
  LAUNCH_1D (saturation_kernel, count, c, hw, factor, x, y);
}

/* Block i: the mean of image i, then y = m + (x - m) f.  Every read of the
 * mean phase happens before ncfm_block_sum's barrier and each thread updates
 * only the values it reads itself, so in place is safe. */
static __global__ void
contrast_kernel (int chw, const float *factor, const float *x, float *y)
{
  __shared__ float shared[32];
  const size_t base = (size_t) blockIdx.x * chw;
  float s = 0.0f;
  for (int j = threadIdx.x; j < chw; j += blockDim.x)
    s += x[base + j];
  const float m = ncfm_block_sum (s, shared) / (float) chw, f = factor[blockIdx.x];
  for (int j = threadIdx.x; j < chw; j += blockDim.x)
    y[base + j] = m + (x[base + j] - m) * f;
}

void
ncfm_cuda_dsa_contrast (NcfmBackend *be, int n, int chw, const float *factor, const float *x,
    float *y)
{
  if (n <= 0 || chw <= 0)
    return;
  contrast_kernel<<<n, 256, 0, ncfm_cuda_stream (be)>>> (chw, factor, x, y);
  CUDA_CHECK_LAUNCH ();
}

static __global__ void
translate_kernel (size_t count, int c, int h, int w, const int32_t *shift, int sign,
    const float *x, float *y)
{
  GRID_STRIDE (k, count) {
    const int q = (int) (k % (size_t) w), r = (int) ((k / (size_t) w) % (size_t) h);
    const size_t p = k / ((size_t) h * w), i = p / (size_t) c;
    const int sr = r - sign * shift[2 * i], sq = q - sign * shift[2 * i + 1];
    y[k] = (sr >= 0 && sr < h && sq >= 0 && sq < w) ? x[(p * h + sr) * w + sq] : 0.0f;
  }
}

void
ncfm_cuda_dsa_translate (NcfmBackend *be, int n, int c, int h, int w, const int32_t *shift,
    int sign, const float *x, float *y)
{
  const size_t count = (size_t) n * c * h * w;
  LAUNCH_1D (translate_kernel, count, c, h, w, shift, sign, x, y);
}

static __device__ __forceinline__ bool
in_box (const int32_t *box, int r, int q)
{
  return r >= box[0] && r < box[1] && q >= box[2] && q < box[3];
}

static __global__ void
cutout_kernel (size_t count, int c, int h, int w, const int32_t *box, const float *x, float *y)
{
  GRID_STRIDE (k, count) {
    const int q = (int) (k % (size_t) w), r = (int) ((k / (size_t) w) % (size_t) h);
    const size_t i = k / ((size_t) h * w) / (size_t) c;
    y[k] = in_box (box + 4 * i, r, q) ? 0.0f : x[k];
  }
}

void
ncfm_cuda_dsa_cutout (NcfmBackend *be, int n, int c, int h, int w, const int32_t *box,
    const float *x, float *y)
{
  const size_t count = (size_t) n * c * h * w;
  LAUNCH_1D (cutout_kernel, count, c, h, w, box, x, y);
}

static __global__ void
flip_kernel (size_t count, int c, int h, int w, const int32_t *flip, const float *x, float *y)
{
  GRID_STRIDE (k, count) {
    const int q = (int) (k % (size_t) w);
    const size_t row = k / (size_t) w, i = row / (size_t) h / (size_t) c;
    y[k] = x[row * w + (flip[i] != 0 ? w - 1 - q : q)];
  }
}

void
ncfm_cuda_dsa_flip (NcfmBackend *be, int n, int c, int h, int w, const int32_t *flip,
    const float *x, float *y)
{
  const size_t count = (size_t) n * c * h * w;
  LAUNCH_1D (flip_kernel, count, c, h, w, flip, x, y);
}

/* The four bilinear taps of output pixel (r, q), as affine_taps in
 * cpu/dsa.c: index into a plane (-1 outside: zeros padding) and weight. */
static __device__ __forceinline__ void
affine_taps (const float *t, int h, int w, int r, int q, int idx[4], float wt[4])
{
  const float bx = (float) (2 * q + 1) / (float) w - 1.0f;
  const float by = (float) (2 * r + 1) / (float) h - 1.0f;
  const float gx = t[0] * bx + t[1] * by + t[2];
  const float gy = t[3] * bx + t[4] * by + t[5];
  const float ix = ((gx + 1.0f) * (float) w - 1.0f) / 2.0f;
  const float iy = ((gy + 1.0f) * (float) h - 1.0f) / 2.0f;
  const float fx = floorf (ix), fy = floorf (iy);
  const float ax = ix - fx, ay = iy - fy;
  const int x0 = (int) fminf (fmaxf (fx, -2.0f), (float) w + 1.0f);
  const int y0 = (int) fminf (fmaxf (fy, -2.0f), (float) h + 1.0f);
  const int xs[4] = { x0, x0 + 1, x0, x0 + 1 }, ys[4] = { y0, y0, y0 + 1, y0 + 1 };
  const float ws[4] = { (1.0f - ax) * (1.0f - ay), ax * (1.0f - ay), (1.0f - ax) * ay, ax * ay };
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const bool ok = xs[k] >= 0 && xs[k] < w && ys[k] >= 0 && ys[k] < h;
    idx[k] = ok ? ys[k] * w + xs[k] : -1;
    wt[k] = ok ? ws[k] : 0.0f;
  }
}

static __global__ void
affine_forward_kernel (size_t count, int c, int h, int w, const float *theta, const float *x,
    float *y)
{
  GRID_STRIDE (k, count) {
    const int q = (int) (k % (size_t) w), r = (int) ((k / (size_t) w) % (size_t) h);
    const size_t i = k / ((size_t) h * w), plane = (size_t) h * w;
    int idx[4];
    float wt[4];
    affine_taps (theta + 6 * i, h, w, r, q, idx, wt);
    for (int ch = 0; ch < c; ch++) {
      const float *xp = x + (i * c + ch) * plane;
      float v = 0.0f;
#pragma unroll
      for (int t = 0; t < 4; t++)
        if (idx[t] >= 0)
          v += xp[idx[t]] * wt[t];
      y[(i * c + ch) * plane + (size_t) r * w + q] = v;
    }
  }
}

static __global__ void
affine_backward_kernel (size_t count, int c, int h, int w, const float *theta, const float *dy,
    float *dx)
{
  GRID_STRIDE (k, count) {
    const int q = (int) (k % (size_t) w), r = (int) ((k / (size_t) w) % (size_t) h);
    const size_t i = k / ((size_t) h * w), plane = (size_t) h * w;
    int idx[4];
    float wt[4];
    affine_taps (theta + 6 * i, h, w, r, q, idx, wt);
    for (int ch = 0; ch < c; ch++) {
      const float g = dy[(i * c + ch) * plane + (size_t) r * w + q];
      float *dxp = dx + (i * c + ch) * plane;
#pragma unroll
      for (int t = 0; t < 4; t++)
        if (idx[t] >= 0)
          atomicAdd (dxp + idx[t], g * wt[t]);
    }
  }
}

void
ncfm_cuda_dsa_affine_forward (NcfmBackend *be, int n, int c, int h, int w, const float *theta,
    const float *x, float *y)
{
  const size_t count = (size_t) n * h * w;
  LAUNCH_1D (affine_forward_kernel, count, c, h, w, theta, x, y);
}

void
ncfm_cuda_dsa_affine_backward (NcfmBackend *be, int n, int c, int h, int w, const float *theta,
    const float *dy, float *dx)
{
  const size_t count = (size_t) n * h * w;
  if (count && c > 0)
    CUDA_CHECK (cudaMemsetAsync (dx, 0, count * c * sizeof (float), ncfm_cuda_stream (be)));
  LAUNCH_1D (affine_backward_kernel, count, c, h, w, theta, dy, dx);
}

static __global__ void
cutmix_kernel (size_t count, int c, int h, int w, const int32_t *perm, const int32_t *box,
    const float *x, float *y)
{
  GRID_STRIDE (k, count) {
    const int q = (int) (k % (size_t) w), r = (int) ((k / (size_t) w) % (size_t) h);
    const size_t plane = (size_t) h * w, p = k / plane, i = p / (size_t) c, ch = p % (size_t) c;
    y[k] = in_box (box, r, q) ? x[((size_t) perm[i] * c + ch) * plane + (k % plane)] : x[k];
  }
}

void
ncfm_cuda_cutmix (NcfmBackend *be, int n, int c, int h, int w, const int32_t *perm,
    const int32_t *box, const float *x, float *y)
{
  const size_t count = (size_t) n * c * h * w;
  LAUNCH_1D (cutmix_kernel, count, c, h, w, perm, box, x, y);
}
