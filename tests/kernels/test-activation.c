/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-activation.c: elementwise ops and activations on the CPU reference,
 * with finite-difference checks of the backward passes. */
#include "test-util.h"

#include <math.h>

#define N 257

typedef struct {
  NcfmBackend *be;
  float slope;
  gboolean tanh;
  float *x, *y, *r;
} ActCtx;

static double
act_loss (gpointer data)
{
  ActCtx *c = data;
  if (c->tanh)
    c->be->ops->tanh_forward (c->be, N, c->x, c->y);
  else
    c->be->ops->leaky_relu_forward (c->be, N, c->slope, c->x, c->y);
  return ncfm_test_dot (c->y, c->r, N);
}

static void
test_activation_gradcheck (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  ActCtx c = { .be = be };
  c.x = ncfm_test_new_uniform (rand, N, -2.0f, 2.0f);
  /* keep away from the kink at 0, where the derivative is undefined */
  for (int i = 0; i < N; i++)
    if (fabsf (c.x[i]) < 0.05f)
      c.x[i] = 0.5f;
  c.y = g_new (float, N);
  c.r = ncfm_test_new_uniform (rand, N, -1.0f, 1.0f);
  g_autofree float *dx = g_new (float, N);

  const float slopes[] = { 0.0f, 0.2f };
  for (guint s = 0; s < G_N_ELEMENTS (slopes); s++) {
    c.slope = slopes[s];
    c.tanh = FALSE;
    act_loss (&c);
    be->ops->leaky_relu_backward (be, N, c.slope, c.x, c.r, dx);
    ncfm_test_gradcheck ("leaky_relu", c.x, dx, N, act_loss, &c, 1e-3, 1e-3, N, rand);
    /* backward from y gives the same gradient (same sign for slope >= 0) */
    g_autofree float *dx_y = g_new (float, N);
    be->ops->leaky_relu_backward (be, N, c.slope, c.y, c.r, dx_y);
    ncfm_test_assert_close ("leaky_relu backward from y", dx_y, dx, N, 0, 0);
  }
  c.tanh = TRUE;
  act_loss (&c);
  be->ops->tanh_backward (be, N, c.y, c.r, dx);
  ncfm_test_gradcheck ("tanh", c.x, dx, N, act_loss, &c, 1e-3, 2e-3, N, rand);

  /* exact values */
  float v[4] = { -2.0f, -0.0f, 0.5f, 3.0f }, out[4];
  be->ops->leaky_relu_forward (be, 4, 0.2f, v, out);
  g_assert_cmpfloat (out[0], ==, -0.4f);
  g_assert_cmpfloat (out[2], ==, 0.5f);
  be->ops->leaky_relu_forward (be, 4, 0.0f, v, out);
  g_assert_cmpfloat (out[0], ==, 0.0f);
  g_assert_cmpfloat (out[3], ==, 3.0f);

  g_free (c.x);
  g_free (c.y);
  g_free (c.r);
  ncfm_backend_free (be);
}

static void
test_elementwise (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  float x[5] = { -1, 0, 1, 2, 3 }, y[5] = { 1, 1, 1, 1, 1 };
  be->ops->axpby (be, 5, 2.0f, x, -1.0f, y);
  const float want[5] = { -3, -1, 1, 3, 5 };
  ncfm_test_assert_close ("axpby", y, want, 5, 0, 0);
  be->ops->clamp (be, 5, 0.0f, 1.0f, y);
  const float want_c[5] = { 0, 0, 1, 1, 1 };
  ncfm_test_assert_close ("clamp", y, want_c, 5, 0, 0);
  be->ops->fill (be, 5, -7.0f, y);
  for (int i = 0; i < 5; i++)
    g_assert_cmpfloat (y[i], ==, -7.0f);
  float m[6] = { 1, 2, 3, 4, 5, 6 }, sc[3] = { 2, 0, -1 };
  be->ops->scale_rows (be, 3, 2, sc, m);
  const float want_m[6] = { 2, 4, 0, 0, -5, -6 };
  ncfm_test_assert_close ("scale_rows", m, want_m, 6, 0, 0);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/activation/gradcheck", test_activation_gradcheck);
  g_test_add_func ("/kernels/elementwise/values", test_elementwise);
  return g_test_run ();
}
