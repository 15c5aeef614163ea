/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-image.c: the image data path on the CPU reference: u8_to_f32 and
 * channel_affine exact values, the multi-formation tiles against an explicit
 * index formula, tiles_merge(tiles_split(x)) == x, and the adjoint identity
 * <split(x), y> == <x, merge(y)>. */
#include "test-util.h"

#include <float.h>
#include <math.h>

static void
test_u8_to_f32 (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  uint8_t x[256];
  float y[256];
  for (int i = 0; i < 256; i++)
    x[i] = (uint8_t) (255 - i);
  /* one float multiply of an exact integer: the same rounding as x * scale */
  be->ops->u8_to_f32 (be, 256, 1.0f / 255.0f, x, y);
  for (int i = 0; i < 256; i++)
    g_assert_cmpfloat (y[i], ==, (float) (255 - i) * (1.0f / 255.0f));
  g_assert_cmpfloat (y[0], ==, 1.0f);
  g_assert_cmpfloat (y[255], ==, 0.0f);
  be->ops->u8_to_f32 (be, 256, 1.0f, x, y);
  for (int i = 0; i < 256; i++)
    g_assert_cmpfloat (y[i], ==, (float) (255 - i));
  ncfm_backend_free (be);
}

static void
test_channel_affine (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  enum { N = 2, C = 3, HW = 5 };
  float x[N * C * HW], y[N * C * HW];
  for (int i = 0; i < N * C * HW; i++)
    x[i] = (float) i * 0.25f - 3.0f;
  NcfmChannelAffine a = { .scale = { 2.0f, -0.5f, 4.0f, 9.0f }, .shift = { 1.0f, 0.25f, -8.0f, 9.0f } };
  be->ops->channel_affine (be, N, C, HW, a, x, y);
  for (int i = 0; i < N; i++)
    for (int ch = 0; ch < C; ch++)
      for (int p = 0; p < HW; p++) {
        int k = (i * C + ch) * HW + p;
        g_assert_cmpfloat (y[k], ==, x[k] * a.scale[ch] + a.shift[ch]);
      }
  /* in place */
  be->ops->channel_affine (be, N, C, HW, a, x, x);
  for (int k = 0; k < N * C * HW; k++)
    g_assert_cmpfloat (x[k], ==, y[k]);

  /* normalisation with mean/std as the loader does it, then its inverse */
  const float mean[3] = { 0.4914f, 0.4822f, 0.4465f }, std[3] = { 0.2470f, 0.2435f, 0.2616f };
  NcfmChannelAffine norm = { { 0 }, { 0 } }, inv = { { 0 }, { 0 } };
  for (int ch = 0; ch < C; ch++) {
    norm.scale[ch] = 1.0f / std[ch];
    norm.shift[ch] = -mean[ch] / std[ch];
    inv.scale[ch] = std[ch];
    inv.shift[ch] = mean[ch];
  }
  float px[N * C * HW], z[N * C * HW], back[N * C * HW];
  for (int k = 0; k < N * C * HW; k++)
    px[k] = (float) (k % 11) / 10.0f;
  be->ops->channel_affine (be, N, C, HW, norm, px, z);
  be->ops->channel_affine (be, N, C, HW, inv, z, back);
  for (int i = 0; i < N; i++)
    for (int ch = 0; ch < C; ch++)
      for (int p = 0; p < HW; p++) {
        int k = (i * C + ch) * HW + p;
        double want = ((double) px[k] - mean[ch]) / std[ch];
        /* two roundings of |z| <= ~2.1 and of the float coefficients */
        g_assert_cmpfloat (fabs (z[k] - want), <=, 4 * 2.1 * FLT_EPSILON);
        g_assert_cmpfloat (fabs (back[k] - px[k]), <=, 8 * FLT_EPSILON);
      }
  ncfm_backend_free (be);
}

typedef struct { int n, c, h, w, rho; } Shape;

static const Shape shapes[] = {
  { 2, 3, 4, 6, 2 },
  { 1, 1, 9, 6, 3 },
  { 3, 2, 8, 8, 4 },
  { 2, 3, 5, 7, 1 },     /* rho 1: the identity */
  { 1, 2, 4, 4, 4 },     /* 1x1 tiles */
};

static void
test_tiles_values (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const Shape *sh = &shapes[s];
    const int th = sh->h / sh->rho, tw = sh->w / sh->rho;
    const size_t count = (size_t) sh->n * sh->c * sh->h * sh->w;
    g_autofree float *x = g_new (float, count), *y = g_new (float, count);
    g_autofree float *back = g_new (float, count);
    for (size_t i = 0; i < count; i++)
      x[i] = (float) i;   /* each value names its own index */
    for (size_t i = 0; i < count; i++)
      y[i] = back[i] = NAN;   /* both directions must overwrite everything */
    be->ops->tiles_split (be, sh->n, sh->c, sh->h, sh->w, sh->rho, x, y);
    for (int i = 0; i < sh->n; i++)
      for (int ty = 0; ty < sh->rho; ty++)
        for (int tx = 0; tx < sh->rho; tx++)
          for (int ch = 0; ch < sh->c; ch++)
            for (int r = 0; r < th; r++)
              for (int q = 0; q < tw; q++) {
                size_t tile = (size_t) i * sh->rho * sh->rho + ty * sh->rho + tx;
                size_t got = ((tile * sh->c + ch) * th + r) * tw + q;
                size_t want = (((size_t) i * sh->c + ch) * sh->h + ty * th + r) * sh->w
                    + tx * tw + q;
                g_assert_cmpfloat (y[got], ==, (float) want);
              }
    be->ops->tiles_merge (be, sh->n, sh->c, sh->h, sh->w, sh->rho, y, back);
    ncfm_test_assert_close ("merge(split(x))", back, x, count, 0, 0);
    if (sh->rho == 1)
      ncfm_test_assert_close ("rho 1 split", y, x, count, 0, 0);
  }
  ncfm_backend_free (be);
}

/* split is a permutation, so <split(x), y> and <x, merge(y)> sum the same
 * products in a different order: only the double accumulation's rounding
 * (count products of magnitude <= 1) separates them. */
static void
test_tiles_adjoint (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (41);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const Shape *sh = &shapes[s];
    const size_t count = (size_t) sh->n * sh->c * sh->h * sh->w;
    g_autofree float *x = ncfm_test_new_uniform (rand, count, -1.0f, 1.0f);
    g_autofree float *y = ncfm_test_new_uniform (rand, count, -1.0f, 1.0f);
    g_autofree float *sx = g_new (float, count), *my = g_new (float, count);
    be->ops->tiles_split (be, sh->n, sh->c, sh->h, sh->w, sh->rho, x, sx);
    be->ops->tiles_merge (be, sh->n, sh->c, sh->h, sh->w, sh->rho, y, my);
    double lhs = ncfm_test_dot (sx, y, count), rhs = ncfm_test_dot (x, my, count);
    g_assert_cmpfloat_with_epsilon (lhs, rhs, count * 4 * DBL_EPSILON);
    /* and split(merge(y)) == y: merge is also split's inverse from the other side */
    be->ops->tiles_split (be, sh->n, sh->c, sh->h, sh->w, sh->rho, my, sx);
    ncfm_test_assert_close ("split(merge(y))", sx, y, count, 0, 0);
  }
  ncfm_backend_free (be);
}

/* Large enough to take the OpenMP path. */
static void
test_tiles_large (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const int n = 16, c = 3, h = 64, w = 64, rho = 2;
  const size_t count = (size_t) n * c * h * w;
  g_autofree float *x = ncfm_test_new_uniform (rand, count, -1.0f, 1.0f);
  g_autofree float *y = g_new (float, count), *back = g_new (float, count);
  be->ops->tiles_split (be, n, c, h, w, rho, x, y);
  /* spot check: tile 3 (ty 1, tx 1) of image 5, channel 2, top-left */
  g_assert_cmpfloat (y[((size_t) (5 * 4 + 3) * c + 2) * 32 * 32],
      ==, x[(((size_t) 5 * c + 2) * h + 32) * w + 32]);
  be->ops->tiles_merge (be, n, c, h, w, rho, y, back);
  ncfm_test_assert_close ("large merge(split(x))", back, x, count, 0, 0);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/image/u8-to-f32", test_u8_to_f32);
  g_test_add_func ("/kernels/image/channel-affine", test_channel_affine);
  g_test_add_func ("/kernels/image/tiles-values", test_tiles_values);
  g_test_add_func ("/kernels/image/tiles-adjoint", test_tiles_adjoint);
  g_test_add_func ("/kernels/image/tiles-large", test_tiles_large);
  return g_test_run ();
}
