/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resize.cu: bilinear resize, F.interpolate(mode='bilinear', align_corners=
 * False, antialias=False) (CUDA; twin of cpu/resize.c).  Forward: one thread
 * per output value.  Backward: dx is zeroed, then each dy scatters into its
 * four taps with atomicAdd. */
#include "common.cuh"

/* One axis of PyTorch's area_pixel_compute_source_index, as in cpu/resize.c. */
static __device__ __forceinline__ void
source_taps (int dst, int in, float scale, int *i0, int *i1, float *w0, float *w1)
{
  float src = scale * ((float) dst + 0.5f) - 0.5f;
  if (src < 0.0f)
    src = 0.0f;
  int i = (int) src;
  if (i > in - 1)
    i = in - 1;
  *i0 = i;
  *i1 = i + (i < in - 1 ? 1 : 0);
  *w1 = src - (float) i;
  *w0 = 1.0f - *w1;
}

static __global__ void
resize_forward_kernel (size_t count, int h_in, int w_in, int h_out, int w_out,
    float scale_h, float scale_w, const float *x, float *y)
{
  GRID_STRIDE (i, count) {
    const int ow = (int) (i % (size_t) w_out);
    const int oh = (int) ((i / (size_t) w_out) % (size_t) h_out);
    const size_t plane = i / ((size_t) w_out * h_out);
    int h0, h1, x0, x1;
    float hw0, hw1, ww0, ww1;
    source_taps (oh, h_in, scale_h, &h0, &h1, &hw0, &hw1);
    source_taps (ow, w_in, scale_w, &x0, &x1, &ww0, &ww1);
    const float *xp = x + plane * h_in * w_in;
    const float *r0 = xp + (size_t) h0 * w_in, *r1 = xp + (size_t) h1 * w_in;
    y[i] = hw0 * (ww0 * r0[x0] + ww1 * r0[x1]) + hw1 * (ww0 * r1[x0] + ww1 * r1[x1]);
  }
}

static __global__ void
resize_backward_kernel (size_t count, int h_in, int w_in, int h_out, int w_out,
    float scale_h, float scale_w, const float *dy, float *dx)
{
  GRID_STRIDE (i, count) {
    const int ow = (int) (i % (size_t) w_out);
    const int oh = (int) ((i / (size_t) w_out) % (size_t) h_out);
    const size_t plane = i / ((size_t) w_out * h_out);
    int h0, h1, x0, x1;
    float hw0, hw1, ww0, ww1;
    source_taps (oh, h_in, scale_h, &h0, &h1, &hw0, &hw1);
    source_taps (ow, w_in, scale_w, &x0, &x1, &ww0, &ww1);
    const float g = dy[i];
    float *dxp = dx + plane * h_in * w_in;
    float *r0 = dxp + (size_t) h0 * w_in, *r1 = dxp + (size_t) h1 * w_in;
    atomicAdd (r0 + x0, hw0 * ww0 * g);
    atomicAdd (r0 + x1, hw0 * ww1 * g);
    atomicAdd (r1 + x0, hw1 * ww0 * g);
    atomicAdd (r1 + x1, hw1 * ww1 * g);
  }
}

void
ncfm_cuda_resize_bilinear_forward (NcfmBackend *be, int n, int c, int h_in, int w_in,
    int h_out, int w_out, const float *x, float *y)
{
  const size_t count = (size_t) n * c * h_out * w_out;
  const float scale_h = (float) h_in / (float) h_out, scale_w = (float) w_in / (float) w_out;
  LAUNCH_1D (resize_forward_kernel, count, h_in, w_in, h_out, w_out, scale_h, scale_w, x, y);
}

void
ncfm_cuda_resize_bilinear_backward (NcfmBackend *be, int n, int c, int h_in, int w_in,
    int h_out, int w_out, const float *dy, float *dx)
{
  const size_t in_count = (size_t) n * c * h_in * w_in;
  const size_t count = (size_t) n * c * h_out * w_out;
  if (in_count)
    CUDA_CHECK (cudaMemsetAsync (dx, 0, in_count * sizeof (float), ncfm_cuda_stream (be)));
  if (count == 0)
    return;
  const float scale_h = (float) h_in / (float) h_out, scale_w = (float) w_in / (float) w_out;
  LAUNCH_1D (resize_backward_kernel, count, h_in, w_in, h_out, w_out, scale_h, scale_w, dy, dx);
}
