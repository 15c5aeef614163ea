/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-l2norm.c: per-row L2 normalisation (F.normalize(x, dim=1, eps)) on the
 * CPU reference: exact values, a double reference, and finite-difference
 * checks of the backward both where ||x|| > eps and where it is clamped. */
#include "test-util.h"

#include <float.h>
#include <math.h>

static void
test_exact (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  /* rows: (3, 4) -> norm 5; zero row -> y 0 (clamped at eps) */
  float x[4] = { 3.0f, 4.0f, 0.0f, 0.0f }, y[4], norms[2];
  be->ops->l2norm_rows_forward (be, 2, 2, 1e-12f, x, y, norms);
  g_assert_cmpfloat (norms[0], ==, 5.0f);
  g_assert_cmpfloat (norms[1], ==, 0.0f);
  g_assert_cmpfloat_with_epsilon (y[0], 0.6f, FLT_EPSILON);
  g_assert_cmpfloat_with_epsilon (y[1], 0.8f, FLT_EPSILON);
  g_assert_cmpfloat (y[2], ==, 0.0f);
  g_assert_cmpfloat (y[3], ==, 0.0f);

  /* backward: row 0, dy = (1, 0): <dy, y> = 0.6, dx = (1 - 0.36, -0.48) / 5;
   * row 1 is clamped: dx = dy / eps */
  float dy[4] = { 1.0f, 0.0f, 2e-12f, -1e-12f }, dx[4];
  be->ops->l2norm_rows_backward (be, 2, 2, 1e-12f, y, norms, dy, dx);
  g_assert_cmpfloat_with_epsilon (dx[0], 0.128f, 4 * FLT_EPSILON * 0.128f);
  g_assert_cmpfloat_with_epsilon (dx[1], -0.096f, 4 * FLT_EPSILON * 0.096f);
  g_assert_cmpfloat_with_epsilon (dx[2], 2.0f, 2 * FLT_EPSILON * 2.0f);
  g_assert_cmpfloat_with_epsilon (dx[3], -1.0f, 2 * FLT_EPSILON);
  ncfm_backend_free (be);
}

/* Against a double reference: y = x / max(||x||, eps), and the backward by
 * its formula.  Tolerances: the norm is a double sum rounded once, y one
 * float division (2 ulp), dx a float dot product (rounded once from double)
 * and three float ops: 8 FLT_EPSILON relative to the row's scale. */
static void
test_vs_naive (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (21);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const int n = 6, d = 37;
  const float eps = 0.05f;
  const size_t nd = (size_t) n * d;
  g_autofree float *x = ncfm_test_new_uniform (rand, nd, -1.0f, 1.0f);
  for (int j = 0; j < d; j++)   /* row 2 inside the clamp: norm < eps */
    x[2 * d + j] *= 1e-3f;
  g_autofree float *dy = ncfm_test_new_uniform (rand, nd, -1.0f, 1.0f);
  g_autofree float *y = g_new (float, nd), *dx = g_new (float, nd), *norms = g_new (float, n);
  g_autofree float *want_y = g_new (float, nd), *want_dx = g_new (float, nd);
  float want_norms[6];

  be->ops->l2norm_rows_forward (be, n, d, eps, x, y, norms);
  be->ops->l2norm_rows_backward (be, n, d, eps, y, norms, dy, dx);
  for (int i = 0; i < n; i++) {
    const float *xi = x + (size_t) i * d, *dyi = dy + (size_t) i * d;
    double s = 0.0, dot = 0.0;
    for (int j = 0; j < d; j++)
      s += (double) xi[j] * xi[j];
    double norm = sqrt (s), denom = fmax (norm, eps);
    want_norms[i] = (float) norm;
    for (int j = 0; j < d; j++)
      dot += dyi[j] * (xi[j] / denom);
    for (int j = 0; j < d; j++) {
      want_y[(size_t) i * d + j] = (float) (xi[j] / denom);
      want_dx[(size_t) i * d + j] = (float) (norm >= eps
          ? (dyi[j] - xi[j] / denom * dot) / norm : dyi[j] / eps);
    }
  }
  g_assert_cmpfloat (norms[2], <, eps);
  ncfm_test_assert_close ("norms", norms, want_norms, n, 2 * FLT_EPSILON, 0);
  ncfm_test_assert_close ("y", y, want_y, nd, 4 * FLT_EPSILON, 0);
  /* dx = (dy - y <dy,y>) / norm: the subtraction may cancel, so the absolute
   * error is judged on the scale |dy| + |y <dy,y>| <= 1 + sqrt(d), over norm */
  ncfm_test_assert_close ("dx", dx, want_dx, nd, 8 * FLT_EPSILON,
      8 * FLT_EPSILON * (1.0 + sqrt (d)) / eps);
  ncfm_backend_free (be);
}

typedef struct {
  NcfmBackend *be;
  int n, d;
  float eps;
  float *x, *y, *norms, *r;
} L2Ctx;

static double
l2_loss (gpointer data)
{
  L2Ctx *c = data;
  c->be->ops->l2norm_rows_forward (c->be, c->n, c->d, c->eps, c->x, c->y, c->norms);
  return ncfm_test_dot (c->y, c->r, (size_t) c->n * c->d);
}

/* Finite differences of L = <y, r>.  Unclamped (x ~ U(-1,1), d = 19, norms
 * ~2.5): L sums d products of float y (each rounded 6e-8), so L's noise is
 * ~sqrt(d) 6e-8 ~ 3e-7 and, over 2h = 2e-2, ~1.5e-5 against gradients
 * |r| / ||x|| ~ 0.2; truncation h^2 |f'''| / 6 with f''' ~ 1 / ||x||^3 is
 * ~1e-6.  Clamped (||x|| ~ 1e-4 < eps = 1e-2): y = x / eps is linear, so only
 * rounding remains, ~3e-7 / (2 h) with h = 1e-5 against gradients
 * |r| / eps ~ 50.  Tolerance 2e-3 covers the smallest entries (floor 1e-3). */
static void
test_gradcheck (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (22);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  L2Ctx c = { .be = be, .n = 4, .d = 19, .eps = 1e-2f };
  const size_t nd = (size_t) c.n * c.d;
  c.x = ncfm_test_new_uniform (rand, nd, -1.0f, 1.0f);
  c.y = g_new (float, nd);
  c.norms = g_new (float, c.n);
  c.r = ncfm_test_new_uniform (rand, nd, -1.0f, 1.0f);
  g_autofree float *dx = g_new (float, nd);

  l2_loss (&c);
  be->ops->l2norm_rows_backward (be, c.n, c.d, c.eps, c.y, c.norms, c.r, dx);
  ncfm_test_gradcheck ("l2norm unclamped", c.x, dx, nd, l2_loss, &c, 1e-2, 2e-3, nd, rand);

  for (size_t i = 0; i < nd; i++)
    c.x[i] *= 1e-4f;
  l2_loss (&c);
  for (int i = 0; i < c.n; i++)
    g_assert_cmpfloat (c.norms[i], <, 0.5f * c.eps);
  be->ops->l2norm_rows_backward (be, c.n, c.d, c.eps, c.y, c.norms, c.r, dx);
  ncfm_test_gradcheck ("l2norm clamped", c.x, dx, nd, l2_loss, &c, 1e-5, 2e-3, nd, rand);

  g_free (c.x);
  g_free (c.y);
  g_free (c.norms);
  g_free (c.r);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/l2norm/exact", test_exact);
  g_test_add_func ("/kernels/l2norm/vs-naive", test_vs_naive);
  g_test_add_func ("/kernels/l2norm/gradcheck", test_gradcheck);
  return g_test_run ();
}
