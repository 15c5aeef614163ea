/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* image.c: the image data path (CPU reference): uint8 -> float, per-channel
 * affine (mean/std normalisation) and the multi-formation tiles. */
#include "cpu-ops.h"

void
ncfm_cpu_u8_to_f32 (NcfmBackend *be, size_t count, float scale, const uint8_t *x, float *y)
{
  (void) be;
#pragma omp parallel for schedule(static) if (count > 65536)
  for (size_t i = 0; i < count; i++)
    y[i] = (float) x[i] * scale;
}

void
ncfm_cpu_channel_affine (NcfmBackend *be, int n, int c, int hw, NcfmChannelAffine a,
    const float *x, float *y)
{
  (void) be;
  const int planes = n * c;
#pragma omp parallel for schedule(static) if ((size_t) planes * hw > 65536)
  for (int p = 0; p < planes; p++) {
    const float s = a.scale[p % c], t = a.shift[p % c];
    const float *xp = x + (size_t) p * hw;
    float *yp = y + (size_t) p * hw;
    for (int j = 0; j < hw; j++)
      yp[j] = xp[j] * s + t;
  }
}

/* One loop for both directions: tile (i, t = ty * rho + tx), channel ch, row
 * r of the tile is the run of w / rho values at row ty * th + r, column
 * tx * tw of image i.  split copies image -> tile, merge tile -> image; the
 * two are permutations of each other, so each is the other's inverse and
 * adjoint. */
static void
tiles_copy (int n, int c, int h, int w, int rho, float *image, float *tiles, int to_tiles)
{
  const int th = h / rho, tw = w / rho, nt = rho * rho;
  const int rows = n * nt * c * th;   /* tile rows, each tw long */
#pragma omp parallel for schedule(static) if ((size_t) n * c * h * w > 65536)
  for (int row = 0; row < rows; row++) {
    int r = row % th;
    int ch = (row / th) % c;
    int t = (row / (th * c)) % nt;
    int i = row / (th * c * nt);
    int ty = t / rho, tx = t % rho;
    float *img = image + (((size_t) i * c + ch) * h + (size_t) ty * th + r) * w
        + (size_t) tx * tw;
    float *tile = tiles + (size_t) row * tw;
    if (to_tiles)
      for (int q = 0; q < tw; q++)
        tile[q] = img[q];
    else
      for (int q = 0; q < tw; q++)
        img[q] = tile[q];
  }
}

void
ncfm_cpu_tiles_split (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *x,
    float *y)
{
  (void) be;
  tiles_copy (n, c, h, w, rho, (float *) x, y, 1);
}

void
ncfm_cpu_tiles_merge (NcfmBackend *be, int n, int c, int h, int w, int rho, const float *y,
    float *x)
{
  (void) be;
  tiles_copy (n, c, h, w, rho, x, (float *) y, 0);
}
