/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pool.c: 2x2 average pooling (floor mode) on the CPU reference: exact
 * values, naive loops, the dropped row/column, finite-difference gradients. */
#include "test-util.h"

#include <float.h>
#include <math.h>

#define EPS_F ((double) FLT_EPSILON)

typedef struct {
  NcfmBackend *be;
  int n, c, h, w;
  float *x, *y, *r;
} PoolCtx;

static double
pool_loss (gpointer data)
{
  PoolCtx *t = data;
  t->be->ops->avgpool2x2_forward (t->be, t->n, t->c, t->h, t->w, t->x, t->y);
  return ncfm_test_dot (t->y, t->r, (size_t) t->n * t->c * (t->h / 2) * (t->w / 2));
}

static void
check_shape (NcfmBackend *be, GRand *rand, int n, int c, int h, int w)
{
  const int ho = h / 2, wo = w / 2;
  const size_t nx = (size_t) n * c * h * w, ny = (size_t) n * c * ho * wo;
  PoolCtx t = { be, n, c, h, w, NULL, NULL, NULL };
  g_autofree char *what = g_strdup_printf ("avgpool2x2 n=%d c=%d h=%d w=%d", n, c, h, w);
  t.x = ncfm_test_new_uniform (rand, nx, -1.0f, 1.0f);
  t.y = g_new (float, ny ? ny : 1);
  t.r = ncfm_test_new_uniform (rand, ny, -1.0f, 1.0f);
  g_autofree float *want = g_new (float, ny ? ny : 1);
  g_autofree float *dx = g_new (float, nx), *want_dx = g_new0 (float, nx);

  /* naive loops in double */
  for (int p = 0; p < n * c; p++)
    for (int i = 0; i < ho; i++)
      for (int j = 0; j < wo; j++) {
        double s = 0.0;
        for (int a = 0; a < 2; a++)
          for (int b = 0; b < 2; b++)
            s += t.x[((size_t) p * h + 2 * i + a) * w + 2 * j + b];
        want[((size_t) p * ho + i) * wo + j] = (float) (s / 4.0);
        for (int a = 0; a < 2; a++)
          for (int b = 0; b < 2; b++)
            want_dx[((size_t) p * h + 2 * i + a) * w + 2 * j + b] =
                t.r[((size_t) p * ho + i) * wo + j] / 4.0f;
      }
  pool_loss (&t);
  /* three float additions of |x| <= 1, each <= eps/2 of a partial sum <= 4,
   * then an exact * 0.25: |err| <= 1.5 eps, plus the final rounding */
  ncfm_test_assert_close (what, t.y, want, ny, 0, 2 * EPS_F);

  for (size_t i = 0; i < nx; i++)
    dx[i] = NAN;   /* backward overwrites, including the dropped row/column */
  be->ops->avgpool2x2_backward (be, n, c, h, w, t.r, dx);
  /* r / 4 is exact, and the dropped row/column is exactly 0 */
  ncfm_test_assert_close ("avgpool2x2 backward", dx, want_dx, nx, 0, 0);
  /* the loss is linear in x: the difference quotient is exact up to the
   * float rounding of y (eps |y r| sqrt(4) / h ~ 1e-7 * 2 / 1e-2 = 2e-5
   * against gradients of 0.25 |r|, floor 2.5e-4): tol 1e-2 */
  ncfm_test_gradcheck (what, t.x, dx, nx, pool_loss, &t, 1e-2, 1e-2, 300, rand);
  g_free (t.x);
  g_free (t.y);
  g_free (t.r);
}

static void
test_pool_shapes (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (21);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  /* even, odd h, odd w, both odd, 1-wide (empty output), the ConvNet's 32x32 */
  const int shapes[][4] = {
    { 2, 3, 4, 6 }, { 1, 2, 5, 4 }, { 2, 1, 6, 7 }, { 3, 2, 7, 9 }, { 1, 2, 1, 5 },
    { 2, 4, 32, 32 },
  };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    check_shape (be, rand, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]);
  ncfm_backend_free (be);
}

static void
test_pool_exact (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  /* one 3x5 plane: floor mode reads rows 0-1 and columns 0-3 only */
  const float x[15] = {
    1, 2, 3, 4, 100,
    5, 6, 7, 8, 100,
    100, 100, 100, 100, 100,
  };
  float y[2];
  be->ops->avgpool2x2_forward (be, 1, 1, 3, 5, x, y);
  g_assert_cmpfloat (y[0], ==, 3.5f);
  g_assert_cmpfloat (y[1], ==, 5.5f);

  const float dy[2] = { 4, -8 };
  const float want[15] = {
    1, 1, -2, -2, 0,
    1, 1, -2, -2, 0,
    0, 0, 0, 0, 0,
  };
  float dx[15];
  for (int i = 0; i < 15; i++)
    dx[i] = 42.0f;
  be->ops->avgpool2x2_backward (be, 1, 1, 3, 5, dy, dx);
  ncfm_test_assert_close ("avgpool2x2 exact backward", dx, want, 15, 0, 0);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/pool/exact", test_pool_exact);
  g_test_add_func ("/kernels/pool/shapes", test_pool_shapes);
  return g_test_run ();
}
