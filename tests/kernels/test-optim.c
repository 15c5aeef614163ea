/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-optim.c: AdamW and SGD(momentum) on the CPU reference, over several
 * steps, against a double-precision reimplementation of torch.optim. */
#include "test-util.h"

#include <float.h>
#include <math.h>

#define N 1031
#define STEPS 10

typedef struct { float lr, beta1, beta2, eps, wd; } AdamCfg;

/* torch.optim.AdamW (_single_tensor_adamw, amsgrad off) in double. */
static void
ref_adamw (size_t n, double *p, const float *g, double *m, double *v, const AdamCfg *c, int step)
{
  double bc1 = 1.0 - pow (c->beta1, step), bc2 = 1.0 - pow (c->beta2, step);
  for (size_t i = 0; i < n; i++) {
    p[i] *= 1.0 - (double) c->lr * c->wd;
    m[i] = c->beta1 * m[i] + (1.0 - c->beta1) * g[i];
    v[i] = c->beta2 * v[i] + (1.0 - c->beta2) * (double) g[i] * g[i];
    p[i] -= c->lr / bc1 * m[i] / (sqrt (v[i]) / sqrt (bc2) + c->eps);
  }
}

static float *
to_float (const double *v, size_t n)
{
  float *f = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    f[i] = (float) v[i];
  return f;
}

static double *
to_double (const float *v, size_t n)
{
  double *d = g_new (double, n);
  for (size_t i = 0; i < n; i++)
    d[i] = v[i];
  return d;
}

/* Each step rounds ~6 float ops: p picks up ~2 ulp of |p| from the decay and
 * the final add, and the update (size <= lr / (1 - beta1) ~ 10 lr for any
 * gradient sequence) ~8 FLT_EPSILON relative; m and v a few ulps relative,
 * which feed later updates.  Errors add over the steps, so: rtol
 * 4 STEPS FLT_EPSILON on p, m and v, plus atol 80 STEPS FLT_EPSILON lr on p
 * (v is a sum of squares and never cancels; m gets an atol below). */
static void
test_adamw (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (41);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const AdamCfg cfgs[] = {
    { 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-2f },
    { 3e-3f, 0.8f, 0.99f, 1e-6f, 0.0f },
    { 1e-1f, 0.5f, 0.9f, 1e-3f, 0.5f },
  };
  for (guint ci = 0; ci < G_N_ELEMENTS (cfgs); ci++) {
    const AdamCfg *c = &cfgs[ci];
    g_autofree float *p = ncfm_test_new_uniform (rand, N, -2.0f, 2.0f);
    g_autofree float *m = g_new0 (float, N), *v = g_new0 (float, N);
    g_autofree float *g = g_new (float, N);
    g_autofree double *rp = to_double (p, N), *rm = g_new0 (double, N), *rv = g_new0 (double, N);
    for (int t = 1; t <= STEPS; t++) {
      /* gradients of varied scale, including tiny ones where eps matters */
      ncfm_test_fill_normal (rand, g, N, t % 3 == 0 ? 1e-4f : 1.0f);
      be->ops->adamw_step (be, N, p, g, m, v, c->lr, c->beta1, c->beta2, c->eps, c->wd, t);
      ref_adamw (N, rp, g, rm, rv, c, t);
    }
    g_autofree float *wp = to_float (rp, N), *wm = to_float (rm, N), *wv = to_float (rv, N);
    const double rtol = 4.0 * STEPS * FLT_EPSILON;
    ncfm_test_assert_close ("adamw param", p, wp, N, rtol, 80.0 * STEPS * FLT_EPSILON * c->lr);
    /* m sums gradients of both signs, so it can cancel: its error is
     * relative to the gradients' scale (|g| < ~5 for these normal draws) */
    ncfm_test_assert_close ("adamw exp_avg", m, wm, N, rtol, rtol * 5.0);
    ncfm_test_assert_close ("adamw exp_avg_sq", v, wv, N, rtol, 0);
  }

  /* step 1 from zero state, no decay: m_hat = g, v_hat = g^2, so the update
   * is lr g / (|g| + eps): p moves by lr * sign(g) for |g| >> eps */
  float p1[3] = { 1.0f, -0.5f, 0.25f }, g1[3] = { 2.0f, -0.5f, 1.0f };
  float m1[3] = { 0 }, v1[3] = { 0 };
  be->ops->adamw_step (be, 3, p1, g1, m1, v1, 0.125f, 0.9f, 0.999f, 1e-12f, 0.0f, 1);
  const float want1[3] = { 0.875f, -0.375f, 0.125f };
  ncfm_test_assert_close ("adamw first step", p1, want1, 3, 4 * FLT_EPSILON, 4 * FLT_EPSILON);
  ncfm_backend_free (be);
}

/* torch.optim.SGD (dampening 0, nesterov off) in double; buf NULL when
 * momentum is 0. */
static void
ref_sgd (size_t n, double *p, const float *g, double *buf, float lr, float momentum, float wd)
{
  for (size_t i = 0; i < n; i++) {
    double d = g[i] + (double) wd * p[i];
    if (buf) {
      buf[i] = momentum * buf[i] + d;
      d = buf[i];
    }
    p[i] -= lr * d;
  }
}

/* Each step rounds 4-5 float ops; the buffer (size <= |g| / (1 - momentum))
 * carries a few ulps relative, p ~2 ulp of |p| plus lr times the buffer's
 * error: rtol 4 STEPS FLT_EPSILON, atol 4 STEPS FLT_EPSILON lr max|buf|. */
static void
test_sgd (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const struct { float lr, momentum, wd; } cfgs[] = {
    { 0.1f, 0.9f, 5e-4f },
    { 0.05f, 0.0f, 1e-2f },   /* no momentum: buffer NULL */
    { 0.01f, 0.5f, 0.0f },
  };
  for (guint ci = 0; ci < G_N_ELEMENTS (cfgs); ci++) {
    const float lr = cfgs[ci].lr, mom = cfgs[ci].momentum, wd = cfgs[ci].wd;
    g_autofree float *p = ncfm_test_new_uniform (rand, N, -2.0f, 2.0f);
    g_autofree float *buf = mom != 0.0f ? g_new0 (float, N) : NULL;
    g_autofree float *g = g_new (float, N);
    g_autofree double *rp = to_double (p, N);
    g_autofree double *rbuf = mom != 0.0f ? g_new0 (double, N) : NULL;
    for (int t = 1; t <= STEPS; t++) {
      ncfm_test_fill_normal (rand, g, N, 1.0f);
      be->ops->sgd_step (be, N, p, g, buf, lr, mom, wd);
      ref_sgd (N, rp, g, rbuf, lr, mom, wd);
    }
    g_autofree float *wp = to_float (rp, N);
    const double rtol = 4.0 * STEPS * FLT_EPSILON;
    /* |g| < ~5 for these normal draws; the buffer stays below 5 / (1 - mom) */
    double buf_max = 5.0 / (1.0 - mom);
    ncfm_test_assert_close ("sgd param", p, wp, N, rtol, rtol * lr * buf_max);
    if (buf) {
      g_autofree float *wb = to_float (rbuf, N);
      /* the buffer sums gradients of both signs: judged on its bound */
      ncfm_test_assert_close ("sgd momentum_buf", buf, wb, N, rtol, rtol * buf_max);
    }
  }

  /* first step with a zero buffer is torch's clone: p - lr (g + wd p) */
  float p1[2] = { 1.0f, -2.0f }, g1[2] = { 0.5f, 0.25f }, b1[2] = { 0 };
  be->ops->sgd_step (be, 2, p1, g1, b1, 0.5f, 0.9f, 0.25f);
  const float want_b[2] = { 0.75f, -0.25f }, want_p[2] = { 0.625f, -1.875f };
  ncfm_test_assert_close ("sgd first buffer", b1, want_b, 2, 0, 0);
  ncfm_test_assert_close ("sgd first step", p1, want_p, 2, 0, 0);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/optim/adamw", test_adamw);
  g_test_add_func ("/kernels/optim/sgd", test_sgd);
  return g_test_run ();
}
