/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* dsa.c: differentiable siamese augmentation (CPU reference).  Every op is
 * linear (brightness affine) in the images, so a backward pass needs only the
 * parameters: see ncfm-backend.h for which op is its own adjoint.  The
 * affine op is F.grid_sample (bilinear, zeros, align_corners=False) of
 * F.affine_grid (align_corners=False), in float like PyTorch. */
#include "cpu-ops.h"

#include <math.h>

/* Parallelise a loop only when it is worth a thread team. */
#define PAR_MIN 65536

void
ncfm_cpu_dsa_brightness (NcfmBackend *be, int n, int chw, const float *delta, const float *x,
    float *y)
{
  (void) be;
#pragma omp parallel for if ((size_t) n * chw > PAR_MIN)
  for (int i = 0; i < n; i++) {
    const float d = delta[i];
    const float *xi = x + (size_t) i * chw;
    float *yi = y + (size_t) i * chw;
    for (int j = 0; j < chw; j++)
      yi[j] = xi[j] + d;
  }
}

/* m = the mean over channels at each pixel; y = m + (x - m) f, pixel by
 * pixel (so in place is safe: a pixel's channels are read before written). */
void
ncfm_cpu_dsa_saturation (NcfmBackend *be, int n, int c, int hw, const float *factor,
    const float *x, float *y)
{
  (void) be;
#pragma omp parallel for if ((size_t) n * c * hw > PAR_MIN)
  for (int i = 0; i < n; i++) {
    const float f = factor[i];
    const float *xi = x + (size_t) i * c * hw;
    float *yi = y + (size_t) i * c * hw;
    for (int p = 0; p < hw; p++) {
      float s = 0.0f;
      for (int ch = 0; ch < c; ch++)
        s += xi[(size_t) ch * hw + p];
      const float m = s / (float) c;
      for (int ch = 0; ch < c; ch++)
        yi[(size_t) ch * hw + p] = m + (xi[(size_t) ch * hw + p] - m) * f;
    }
  }
}

/* m = the mean of the whole image (accumulated in double: an image has up to
 * ~10^5 values); y = m + (x - m) f. */
void
ncfm_cpu_dsa_contrast (NcfmBackend *be, int n, int chw, const float *factor, const float *x,
    float *y)
{
  (void) be;
#pragma omp parallel for if ((size_t) n * chw > PAR_MIN)
  for (int i = 0; i < n; i++) {
    const float *xi = x + (size_t) i * chw;
    float *yi = y + (size_t) i * chw;
    double s = 0.0;
    for (int j = 0; j < chw; j++)
      s += xi[j];
    const float m = chw > 0 ? (float) (s / chw) : 0.0f, f = factor[i];
    for (int j = 0; j < chw; j++)
      yi[j] = m + (xi[j] - m) * f;
  }
}

void
ncfm_cpu_dsa_translate (NcfmBackend *be, int n, int c, int h, int w, const int32_t *shift,
    int sign, const float *x, float *y)
{
  (void) be;
  const size_t plane = (size_t) h * w;
#pragma omp parallel for if ((size_t) n * c * plane > PAR_MIN)
  for (int p = 0; p < n * c; p++) {
    const int i = p / c;
    const int dr = sign * shift[2 * i], dq = sign * shift[2 * i + 1];
    const float *xp = x + (size_t) p * plane;
    float *yp = y + (size_t) p * plane;
    for (int r = 0; r < h; r++) {
      const int sr = r - dr;
      for (int q = 0; q < w; q++) {
        const int sq = q - dq;
        yp[(size_t) r * w + q] = (sr >= 0 && sr < h && sq >= 0 && sq < w)
            ? xp[(size_t) sr * w + sq] : 0.0f;
      }
    }
  }
}

static inline int
in_box (const int32_t *box, int r, int q)
{
  return r >= box[0] && r < box[1] && q >= box[2] && q < box[3];
}

void
ncfm_cpu_dsa_cutout (NcfmBackend *be, int n, int c, int h, int w, const int32_t *box,
    const float *x, float *y)
{
  (void) be;
  const size_t plane = (size_t) h * w;
#pragma omp parallel for if ((size_t) n * c * plane > PAR_MIN)
  for (int p = 0; p < n * c; p++) {
    const int32_t *b = box + 4 * (p / c);
    const float *xp = x + (size_t) p * plane;
    float *yp = y + (size_t) p * plane;
    for (int r = 0; r < h; r++)
      for (int q = 0; q < w; q++)
        yp[(size_t) r * w + q] = in_box (b, r, q) ? 0.0f : xp[(size_t) r * w + q];
  }
}

void
ncfm_cpu_dsa_flip (NcfmBackend *be, int n, int c, int h, int w, const int32_t *flip,
    const float *x, float *y)
{
  (void) be;
  const size_t plane = (size_t) h * w;
#pragma omp parallel for if ((size_t) n * c * plane > PAR_MIN)
  for (int p = 0; p < n * c; p++) {
    const int f = flip[p / c] != 0;
    const float *xp = x + (size_t) p * plane;
    float *yp = y + (size_t) p * plane;
    for (int r = 0; r < h; r++)
      for (int q = 0; q < w; q++)
        yp[(size_t) r * w + q] = xp[(size_t) r * w + (f ? w - 1 - q : q)];
  }
}

/* The four bilinear taps of output pixel (r, q) of image i: indices into a
 * plane (-1 where the tap falls outside: zeros padding) and weights, in
 * PyTorch's order nw, ne, sw, se.  affine_grid's base coordinate
 * (align_corners=False) is (2k + 1) / size - 1; grid_sample maps a grid
 * value g back to ((g + 1) size - 1) / 2. */
typedef struct {
  int idx[4];
  float wt[4];
} Taps;

/* floor(f) (f already floored) clamped to [-2, size + 1], where every tap is
 * out anyway; NaN goes to -2.  Keeps the int conversion defined. */
static inline int
clamp_corner (float f, int size)
{
  return f >= -2.0f ? (f <= (float) size + 1.0f ? (int) f : size + 1) : -2;
}

static inline void
affine_taps (const float *t, int h, int w, int r, int q, Taps *tp)
{
  const float bx = (float) (2 * q + 1) / (float) w - 1.0f;
  const float by = (float) (2 * r + 1) / (float) h - 1.0f;
  const float gx = t[0] * bx + t[1] * by + t[2];
  const float gy = t[3] * bx + t[4] * by + t[5];
  const float ix = ((gx + 1.0f) * (float) w - 1.0f) / 2.0f;
  const float iy = ((gy + 1.0f) * (float) h - 1.0f) / 2.0f;
  const float fx = floorf (ix), fy = floorf (iy);
  const float ax = ix - fx, ay = iy - fy;
  const int x0 = clamp_corner (fx, w), y0 = clamp_corner (fy, h);
  const int okx0 = x0 >= 0 && x0 < w, okx1 = x0 + 1 >= 0 && x0 + 1 < w;
  const int oky0 = y0 >= 0 && y0 < h, oky1 = y0 + 1 >= 0 && y0 + 1 < h;
  tp->idx[0] = okx0 && oky0 ? y0 * w + x0 : -1;
  tp->idx[1] = okx1 && oky0 ? y0 * w + x0 + 1 : -1;
  tp->idx[2] = okx0 && oky1 ? (y0 + 1) * w + x0 : -1;
  tp->idx[3] = okx1 && oky1 ? (y0 + 1) * w + x0 + 1 : -1;
  tp->wt[0] = (1.0f - ax) * (1.0f - ay);
  tp->wt[1] = ax * (1.0f - ay);
  tp->wt[2] = (1.0f - ax) * ay;
  tp->wt[3] = ax * ay;
}

void
ncfm_cpu_dsa_affine_forward (NcfmBackend *be, int n, int c, int h, int w, const float *theta,
    const float *x, float *y)
{
  (void) be;
  const size_t plane = (size_t) h * w;
#pragma omp parallel for if ((size_t) n * c * plane > PAR_MIN / 4)
  for (int rr = 0; rr < n * h; rr++) {
    const int i = rr / h, r = rr % h;
    const float *t = theta + 6 * (size_t) i;
    for (int q = 0; q < w; q++) {
      Taps tp;
      affine_taps (t, h, w, r, q, &tp);
      for (int ch = 0; ch < c; ch++) {
        const float *xp = x + ((size_t) i * c + ch) * plane;
        float v = 0.0f;
        for (int k = 0; k < 4; k++)
          if (tp.idx[k] >= 0)
            v += xp[tp.idx[k]] * tp.wt[k];
        y[((size_t) i * c + ch) * plane + (size_t) r * w + q] = v;
      }
    }
  }
}

/* The adjoint: each dy scatters into the taps it was sampled from.  Images
 * are independent, so they are the parallel unit and need no atomics. */
void
ncfm_cpu_dsa_affine_backward (NcfmBackend *be, int n, int c, int h, int w, const float *theta,
    const float *dy, float *dx)
{
  (void) be;
  const size_t plane = (size_t) h * w;
#pragma omp parallel for if ((size_t) n * c * plane > PAR_MIN / 4)
  for (int i = 0; i < n; i++) {
    const float *t = theta + 6 * (size_t) i;
    float *dxi = dx + (size_t) i * c * plane;
    const float *dyi = dy + (size_t) i * c * plane;
    for (size_t j = 0; j < (size_t) c * plane; j++)
      dxi[j] = 0.0f;
    for (int r = 0; r < h; r++)
      for (int q = 0; q < w; q++) {
        Taps tp;
      affine_taps (t, h, w, r, q, &tp);
        for (int ch = 0; ch < c; ch++) {
          const float g = dyi[(size_t) ch * plane + (size_t) r * w + q];
          float *dxp = dxi + (size_t) ch * plane;
          for (int k = 0; k < 4; k++)
            if (tp.idx[k] >= 0)
              dxp[tp.idx[k]] += g * tp.wt[k];
        }
      }
  }
}

void
ncfm_cpu_cutmix (NcfmBackend *be, int n, int c, int h, int w, const int32_t *perm,
    const int32_t *box, const float *x, float *y)
{
  (void) be;
  const size_t plane = (size_t) h * w;
#pragma omp parallel for if ((size_t) n * c * plane > PAR_MIN)
  for (int p = 0; p < n * c; p++) {
    const int i = p / c, ch = p % c;
    const float *xp = x + (size_t) p * plane;
    const float *xo = x + ((size_t) perm[i] * c + ch) * plane;
    float *yp = y + (size_t) p * plane;
    for (int r = 0; r < h; r++)
      for (int q = 0; q < w; q++) {
        const size_t k = (size_t) r * w + q;
        yp[k] = in_box (box, r, q) ? xo[k] : xp[k];
      }
  }
}
