/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* resize.c: bilinear resize, F.interpolate(mode='bilinear', align_corners=False,
 * antialias=False), forward and its adjoint (CPU reference). */
#include "cpu-ops.h"

#include <stdio.h>
#include <stdlib.h>

/* The two taps of one output coordinate along one axis. */
typedef struct {
  int i0, i1;        /* source indices (i1 == i0 at the last source row) */
  float w0, w1;      /* their weights, w0 + w1 == 1 */
} Tap;

/* PyTorch's area_pixel_compute_source_index in float: src = (dst + 0.5) *
 * in/out - 0.5, clamped below at 0; the upper neighbour is clamped at in - 1. */
static Tap *
make_taps (int in, int out)
{
  Tap *t = malloc ((size_t) (out > 0 ? out : 1) * sizeof *t);
  if (!t) {
    fprintf (stderr, "ncfm: out of memory in resize_bilinear\n");
    abort ();
  }
  const float scale = (float) in / (float) out;
  for (int o = 0; o < out; o++) {
    float src = scale * ((float) o + 0.5f) - 0.5f;
    if (src < 0.0f)
      src = 0.0f;
    int i0 = (int) src;
    if (i0 > in - 1)
      i0 = in - 1;   /* rounding guard; PyTorch never gets here either */
    t[o].i0 = i0;
    t[o].i1 = i0 + (i0 < in - 1 ? 1 : 0);
    t[o].w1 = src - (float) i0;
    t[o].w0 = 1.0f - t[o].w1;
  }
  return t;
}

void
ncfm_cpu_resize_bilinear_forward (NcfmBackend *be, int n, int c, int h_in, int w_in,
    int h_out, int w_out, const float *x, float *y)
{
  (void) be;
  Tap *th = make_taps (h_in, h_out), *tw = make_taps (w_in, w_out);
  const int planes = n * c;
  const size_t in_plane = (size_t) h_in * w_in, out_plane = (size_t) h_out * w_out;

#pragma omp parallel for if ((size_t) planes * out_plane > 65536)
  for (int p = 0; p < planes; p++) {
    const float *xp = x + p * in_plane;
    float *yp = y + p * out_plane;
    for (int oh = 0; oh < h_out; oh++) {
      const float *r0 = xp + (size_t) th[oh].i0 * w_in, *r1 = xp + (size_t) th[oh].i1 * w_in;
      const float h0 = th[oh].w0, h1 = th[oh].w1;
      for (int ow = 0; ow < w_out; ow++) {
        const Tap *t = &tw[ow];
        yp[(size_t) oh * w_out + ow] = h0 * (t->w0 * r0[t->i0] + t->w1 * r0[t->i1])
            + h1 * (t->w0 * r1[t->i0] + t->w1 * r1[t->i1]);
      }
    }
  }
  free (th);
  free (tw);
}

/* The adjoint of the forward: each dy scatters into the (up to) four taps it
 * was interpolated from.  Planes are independent, so they are the parallel
 * unit and the scatter needs no atomics. */
void
ncfm_cpu_resize_bilinear_backward (NcfmBackend *be, int n, int c, int h_in, int w_in,
    int h_out, int w_out, const float *dy, float *dx)
{
  (void) be;
  Tap *th = make_taps (h_in, h_out), *tw = make_taps (w_in, w_out);
  const int planes = n * c;
  const size_t in_plane = (size_t) h_in * w_in, out_plane = (size_t) h_out * w_out;

#pragma omp parallel for if ((size_t) planes * out_plane > 65536)
  for (int p = 0; p < planes; p++) {
    float *dxp = dx + p * in_plane;
    const float *dyp = dy + p * out_plane;
    for (size_t i = 0; i < in_plane; i++)
      dxp[i] = 0.0f;
    for (int oh = 0; oh < h_out; oh++) {
      float *r0 = dxp + (size_t) th[oh].i0 * w_in, *r1 = dxp + (size_t) th[oh].i1 * w_in;
      const float h0 = th[oh].w0, h1 = th[oh].w1;
      for (int ow = 0; ow < w_out; ow++) {
        const Tap *t = &tw[ow];
        const float g = dyp[(size_t) oh * w_out + ow];
        r0[t->i0] += h0 * t->w0 * g;
        r0[t->i1] += h0 * t->w1 * g;
        r1[t->i0] += h1 * t->w0 * g;
        r1[t->i1] += h1 * t->w1 * g;
      }
    }
  }
  free (th);
  free (tw);
}
