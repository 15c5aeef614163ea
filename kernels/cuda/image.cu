/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* image.cu: uint8 -> float, per-channel affine and the multi-formation tiles
 * (CUDA; twin of cpu/image.c).  All elementwise: one thread per output value. */
#include "common.cuh"

static __global__ void
u8_to_f32_kernel (size_t count, float scale, const uint8_t *x, float *y)
{
  GRID_STRIDE (i, count)
    y[i] = (float) x[i] * scale;
}

static __global__ void
channel_affine_kernel (size_t count, int c, int hw, NcfmChannelAffine a, const float *x, float *y)
{
  GRID_STRIDE (i, count) {
    const int ch = (int) ((i / (size_t) hw) % (size_t) c);
    y[i] = x[i] * a.scale[ch] + a.shift[ch];
  }
}

/* Index of tile element i (tiles [n * rho^2, c, th, tw]) in the image tensor
 * [n, c, h, w]; the same map serves split (gather) and merge (scatter). */
static __device__ __forceinline__ size_t
tile_to_image (size_t i, int c, int h, int w, int rho)
{
  const int th = h / rho, tw = w / rho, nt = rho * rho;
  const int q = (int) (i % (size_t) tw);
  size_t rest = i / (size_t) tw;
  const int r = (int) (rest % (size_t) th);
  rest /= (size_t) th;
  const int ch = (int) (rest % (size_t) c);
  rest /= (size_t) c;
  const int t = (int) (rest % (size_t) nt);
  const size_t img = rest / (size_t) nt;
  const int ty = t / rho, tx = t % rho;
  return ((img * c + ch) * h + (size_t) ty * th + r) * w + (size_t) tx * tw + q;
}

static __global__ void
tiles_split_kernel (size_t count, int c, int h, int w, int rho, const float *x, float *y)
{
  GRID_STRIDE (i, count)
    y[i] = x[tile_to_image (i, c, h, w, rho)];
}

static __global__ void
tiles_merge_kernel (size_t count, int c, int h, int w, int rho, const float *y, float *x)
{
  GRID_STRIDE (i, count)
    x[tile_to_image (i, c, h, w, rho)] = y[i];
}

void
ncfm_cuda_u8_to_f32 (NcfmBackend *be, size_t count, float scale, const uint8_t *x, float *y)
{
  LAUNCH_1D (u8_to_f32_kernel, count, scale, x, y);
}

void
ncfm_cuda_channel_affine (NcfmBackend *be, int n, int c, int hw, NcfmChannelAffine a,
    const float *x, float *y)
{
  if (c <= 0 || hw <= 0)
    return;
  const size_t count = (size_t) n * c * hw;
  LAUNCH_1D (channel_affine_kernel, count, c, hw, a, x, y);
}

void
ncfm_cuda_tiles_split (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *x,
    float *y)
{
  if (rho <= 0 || h < rho || w < rho)
    return;
  const size_t count = (size_t) n * c * h * w;
  LAUNCH_1D (tiles_split_kernel, count, c, h, w, rho, x, y);
}

void
ncfm_cuda_tiles_merge (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *y,
    float *x)
{
  if (rho <= 0 || h < rho || w < rho)
    return;
  const size_t count = (size_t) n * c * h * w;
  LAUNCH_1D (tiles_merge_kernel, count, c, h, w, rho, y, x);
}
