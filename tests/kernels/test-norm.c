/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-norm.c: GroupNorm / instance norm and BatchNorm on the CPU reference:
 * values against naive double loops, exact small cases, running statistics,
 * finite-difference checks of every gradient, NULL gradient outputs. */
#include "test-util.h"

#include <float.h>
#include <math.h>

#define EPS_F ((double) FLT_EPSILON)

/* Finite differences, h = 1e-2 on O(1) inputs.  The loss <y, r> is summed in
 * double from float y; moving one input moves the M <= 75 outputs of its set,
 * each rounded by eps/2 |y|, so a central difference carries noise of about
 * eps sqrt(M) rms|y r| / (sqrt(2) h) ~ 1.2e-7 * 8.7 * 0.6 / 1.4e-2 ~ 4.5e-5
 * (one sigma, 1.3e-4 at three).  gradcheck judges small elements against the
 * floor 1e-3 max|g| ~ 2e-3 (max|dx| ~ 2), so they may show relative errors
 * up to ~7e-2 (observed: <= 2e-2); truncation, ~h^2 rstd^3 / 6 ~ 1e-4
 * relative, is smaller.  Hence tol = 1e-1: a wrong formula errs by O(1), and
 * the directional check (judged against the whole gradient) lands near 1e-5. */
#define GC_H 1e-2
#define GC_TOL 1e-1

typedef struct {
  NcfmBackend *be;
  gboolean batch;   /* BatchNorm (training) instead of GroupNorm */
  int n, c, hw, groups;
  float eps;
  float *x, *gamma, *beta, *y, *mean, *rstd, *r;
} NormCtx;

static size_t
ctx_count (const NormCtx *t)
{
  return (size_t) t->n * t->c * t->hw;
}

static double
norm_loss (gpointer data)
{
  NormCtx *t = data;
  if (t->batch)
    t->be->ops->batchnorm_forward_train (t->be, t->n, t->c, t->hw, t->eps, 0.1f, t->x,
        t->gamma, t->beta, t->y, t->mean, t->rstd, NULL, NULL);
  else
    t->be->ops->groupnorm_forward (t->be, t->n, t->c, t->hw, t->groups, t->eps, t->x,
        t->gamma, t->beta, t->y, t->mean, t->rstd);
  return ncfm_test_dot (t->y, t->r, ctx_count (t));
}

/* Naive statistics in double: set k of GroupNorm is (sample, group), of
 * BatchNorm a channel.  set_of(i) maps a flat index to its set. */
static int
set_of (const NormCtx *t, size_t i)
{
  int s = (int) (i / ((size_t) t->c * t->hw)), ch = (int) (i / t->hw % t->c);
  return t->batch ? ch : s * t->groups + ch / (t->c / t->groups);
}

static int
nsets (const NormCtx *t)
{
  return t->batch ? t->c : t->n * t->groups;
}

static void
naive_stats (const NormCtx *t, double *mu, double *var, double *cnt)
{
  size_t count = ctx_count (t);
  int k = nsets (t);
  for (int j = 0; j < k; j++)
    mu[j] = var[j] = cnt[j] = 0.0;
  for (size_t i = 0; i < count; i++) {
    mu[set_of (t, i)] += t->x[i];
    cnt[set_of (t, i)] += 1.0;
  }
  for (int j = 0; j < k; j++)
    mu[j] /= cnt[j];
  for (size_t i = 0; i < count; i++) {
    double d = t->x[i] - mu[set_of (t, i)];
    var[set_of (t, i)] += d * d;
  }
  for (int j = 0; j < k; j++)
    var[j] /= cnt[j];
}

/* Forward values, mean and rstd against the naive loops. */
static void
check_forward_values (NormCtx *t, const char *what)
{
  size_t count = ctx_count (t);
  int k = nsets (t);
  g_autofree double *mu = g_new (double, k), *var = g_new (double, k), *cnt = g_new (double, k);
  g_autofree float *want = g_new (float, count);
  g_autofree float *want_mu = g_new (float, k), *want_r = g_new (float, k);
  naive_stats (t, mu, var, cnt);
  double scale = 0.0;
  for (size_t i = 0; i < count; i++) {
    int j = set_of (t, i), ch = (int) (i / t->hw % t->c);
    double xhat_g = (t->x[i] - mu[j]) / sqrt (var[j] + t->eps) * t->gamma[ch];
    want[i] = (float) (xhat_g + t->beta[ch]);
    scale = fmax (scale, fabs (xhat_g) + fabs (t->beta[ch]));
  }
  for (int j = 0; j < k; j++) {
    want_mu[j] = (float) mu[j];
    want_r[j] = (float) (1.0 / sqrt (var[j] + t->eps));
  }
  norm_loss (t);
  g_autofree char *w_y = g_strdup_printf ("%s y", what);
  g_autofree char *w_m = g_strdup_printf ("%s mean", what);
  g_autofree char *w_r = g_strdup_printf ("%s rstd", what);
  /* mean, rstd: double sums rounded once to float (the double sums' own error,
   * ~m 2^-53, is far below).  y: about six float roundings (mean, x - mean,
   * gamma*rstd, the product, + beta), each <= eps/2 of `scale`: 8 eps. */
  ncfm_test_assert_close (w_m, t->mean, want_mu, (size_t) k, EPS_F, 1e-12);
  ncfm_test_assert_close (w_r, t->rstd, want_r, (size_t) k, EPS_F, 0);
  ncfm_test_assert_close (w_y, t->y, want, count, 0, 8 * EPS_F * scale);
}

static void
run_backward (NormCtx *t, const float *dy, float *dx, float *dg, float *db)
{
  if (t->batch)
    t->be->ops->batchnorm_backward (t->be, t->n, t->c, t->hw, t->x, t->gamma, t->mean, t->rstd,
        dy, dx, dg, db);
  else
    t->be->ops->groupnorm_backward (t->be, t->n, t->c, t->hw, t->groups, t->x, t->gamma,
        t->mean, t->rstd, dy, dx, dg, db);
}

/* dgamma = sum dy xhat and dbeta = sum dy per channel, naive in double. */
static void
check_param_grads (NormCtx *t, const float *dg, const float *db, const char *what)
{
  size_t count = ctx_count (t);
  int k = nsets (t);
  g_autofree double *mu = g_new (double, k), *var = g_new (double, k), *cnt = g_new (double, k);
  g_autofree double *sg = g_new0 (double, t->c), *sb = g_new0 (double, t->c);
  g_autofree double *l1 = g_new0 (double, t->c);
  g_autofree float *want_g = g_new (float, t->c), *want_b = g_new (float, t->c);
  naive_stats (t, mu, var, cnt);
  double bound = 0.0;
  for (size_t i = 0; i < count; i++) {
    int j = set_of (t, i), ch = (int) (i / t->hw % t->c);
    double r = 1.0 / sqrt (var[j] + t->eps);
    sg[ch] += t->r[i] * (t->x[i] - mu[j]) * r;
    sb[ch] += t->r[i];
    /* the kernel's saved float mean is off by <= eps |mu|: |dy| rstd eps |mu| */
    l1[ch] += fabs (t->r[i]) * (fabs (t->x[i] - mu[j]) + fabs (mu[j])) * r;
  }
  for (int ch = 0; ch < t->c; ch++) {
    want_g[ch] = (float) sg[ch];
    want_b[ch] = (float) sb[ch];
    bound = fmax (bound, l1[ch]);
  }
  g_autofree char *w_g = g_strdup_printf ("%s dgamma", what);
  g_autofree char *w_b = g_strdup_printf ("%s dbeta", what);
  /* saved float mean and rstd (eps/2 each), the final rounding: 2 eps of the
   * L1 scale of the summands */
  ncfm_test_assert_close (w_g, dg, want_g, (size_t) t->c, EPS_F, 2 * EPS_F * bound);
  ncfm_test_assert_close (w_b, db, want_b, (size_t) t->c, EPS_F, 0);
}

/* Every NULL combination of (dx, dgamma, dbeta) gives the same values in the
 * outputs that are asked for, overwriting (not accumulating into) them. */
static void
check_null_outputs (NormCtx *t, const float *dx, const float *dg, const float *db)
{
  size_t count = ctx_count (t);
  g_autofree float *ex = g_new (float, count), *eg = g_new (float, t->c), *eb = g_new (float, t->c);
  for (int mask = 0; mask < 8; mask++) {
    for (size_t i = 0; i < count; i++)
      ex[i] = NAN;
    for (int ch = 0; ch < t->c; ch++)
      eg[ch] = eb[ch] = NAN;
    run_backward (t, t->r, mask & 1 ? ex : NULL, mask & 2 ? eg : NULL, mask & 4 ? eb : NULL);
    if (mask & 1)
      ncfm_test_assert_close ("NULL combo dx", ex, dx, count, 0, 0);
    if (mask & 2)
      ncfm_test_assert_close ("NULL combo dgamma", eg, dg, (size_t) t->c, 0, 0);
    if (mask & 4)
      ncfm_test_assert_close ("NULL combo dbeta", eb, db, (size_t) t->c, 0, 0);
  }
}

static void
check_shape (NcfmBackend *be, GRand *rand, gboolean batch, int n, int c, int hw, int groups)
{
  NormCtx t = { .be = be, .batch = batch, .n = n, .c = c, .hw = hw, .groups = groups,
    .eps = 1e-5f };
  size_t count = ctx_count (&t);
  int k = batch ? c : n * groups;
  g_autofree char *what = g_strdup_printf ("%s n=%d c=%d hw=%d groups=%d",
      batch ? "batchnorm" : "groupnorm", n, c, hw, groups);
  t.x = ncfm_test_new_uniform (rand, count, -2.0f, 2.0f);
  /* an offset per set: the kernels must not rely on zero-mean inputs */
  for (size_t i = 0; i < count; i++)
    t.x[i] += 0.5f * (float) (set_of (&t, i) % 3);
  t.gamma = ncfm_test_new_uniform (rand, c, 0.5f, 1.5f);
  t.beta = ncfm_test_new_uniform (rand, c, -0.5f, 0.5f);
  t.r = ncfm_test_new_uniform (rand, count, -1.0f, 1.0f);
  t.y = g_new (float, count);
  t.mean = g_new (float, k);
  t.rstd = g_new (float, k);
  g_autofree float *dx = g_new (float, count), *dg = g_new (float, c), *db = g_new (float, c);

  check_forward_values (&t, what);
  run_backward (&t, t.r, dx, dg, db);
  check_param_grads (&t, dg, db, what);
  g_autofree char *w_x = g_strdup_printf ("%s dx", what);
  g_autofree char *w_g = g_strdup_printf ("%s dgamma (fd)", what);
  g_autofree char *w_b = g_strdup_printf ("%s dbeta (fd)", what);
  ncfm_test_gradcheck (w_x, t.x, dx, count, norm_loss, &t, GC_H, GC_TOL, 200, rand);
  ncfm_test_gradcheck (w_g, t.gamma, dg, (size_t) c, norm_loss, &t, GC_H, GC_TOL, 200, rand);
  ncfm_test_gradcheck (w_b, t.beta, db, (size_t) c, norm_loss, &t, GC_H, GC_TOL, 200, rand);
  norm_loss (&t);
  check_null_outputs (&t, dx, dg, db);

  float *bufs[] = { t.x, t.gamma, t.beta, t.r, t.y, t.mean, t.rstd };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    g_free (bufs[i]);
}

static void
test_groupnorm (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  /* {n, c, hw, groups}: groups 1 < g < c, instance norm (g == c), odd sizes, hw = 1 */
  const int shapes[][4] = {
    { 2, 6, 5, 3 }, { 3, 4, 7, 1 }, { 2, 5, 9, 5 }, { 3, 8, 1, 2 }, { 1, 6, 25, 2 },
  };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    check_shape (be, rand, FALSE, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]);
  ncfm_backend_free (be);
}

static void
test_batchnorm (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (12);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  /* {n, c, hw}: BatchNorm2d-like, odd sizes, BatchNorm1d (hw = 1) */
  const int shapes[][3] = { { 4, 3, 5 }, { 7, 5, 1 }, { 3, 2, 9 }, { 2, 4, 16 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    check_shape (be, rand, TRUE, shapes[s][0], shapes[s][1], shapes[s][2], 1);
  ncfm_backend_free (be);
}

/* x = [1 2 3 4]: mean 2.5, biased var 1.25, unbiased 5/3. */
static void
test_exact_values (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const float x[4] = { 1, 2, 3, 4 };
  float y[4], mean[2], rstd[2];
  const float one[2] = { 1, 1 }, zero[2] = { 0, 0 };
  const double r = 1.0 / sqrt (1.25);
  const float want[4] = { (float) (-1.5 * r), (float) (-0.5 * r), (float) (0.5 * r),
    (float) (1.5 * r) };

  /* one group of 4 (n=1, c=2, hw=2), eps 0: values to 2 roundings */
  be->ops->groupnorm_forward (be, 1, 2, 2, 1, 0.0f, x, one, zero, y, mean, rstd);
  g_assert_cmpfloat (mean[0], ==, 2.5f);
  ncfm_test_assert_close ("exact groupnorm", y, want, 4, 2 * EPS_F, 0);
  /* instance norm of [1 2] and [3 4]: both (-1, 1); gamma 2, beta 1: (-1, 3) */
  const float g2[2] = { 2, 2 }, b1[2] = { 1, 1 }, want_in[4] = { -1, 3, -1, 3 };
  be->ops->groupnorm_forward (be, 1, 2, 2, 2, 0.0f, x, g2, b1, y, mean, rstd);
  ncfm_test_assert_close ("exact instance norm", y, want_in, 4, 0, 4 * EPS_F);
  g_assert_cmpfloat (mean[1], ==, 3.5f);
  g_assert_cmpfloat (rstd[0], ==, 2.0f);

  /* BatchNorm, c = 1, samples [1 2] and [3 4]: same statistics as above.
   * Running stats from (0, 1), momentum 0.1: mean 0.25, var 0.9 + 0.1 * 5/3. */
  float rm = 0.0f, rv = 1.0f;
  be->ops->batchnorm_forward_train (be, 2, 1, 2, 0.0f, 0.1f, x, one, zero, y, mean, rstd,
      &rm, &rv);
  ncfm_test_assert_close ("exact batchnorm", y, want, 4, 2 * EPS_F, 0);
  g_assert_cmpfloat (fabs (rm - 0.25), <=, EPS_F * 0.25);
  g_assert_cmpfloat (fabs (rv - (0.9 + 0.1 * 5.0 / 3.0)), <=, 2 * EPS_F);
  /* eval with those running stats: (x - 0.25) / sqrt(rv) */
  be->ops->batchnorm_forward_eval (be, 2, 1, 2, 0.0f, x, one, zero, &rm, &rv, y);
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat (fabs (y[i] - (x[i] - rm) / sqrt (rv)), <=, 4 * EPS_F * fabs (y[i]));
  ncfm_backend_free (be);
}

/* Running statistics of a random batch against a hand computation, and NULL
 * running pointers changing nothing else. */
static void
test_batchnorm_running_stats (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (13);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const int n = 5, c = 3, hw = 6;
  const size_t count = (size_t) n * c * hw;
  const float momentum = 0.3f, eps = 1e-3f;
  g_autofree float *x = ncfm_test_new_uniform (rand, count, -1.0f, 3.0f);
  g_autofree float *gamma = ncfm_test_new_uniform (rand, c, 0.5f, 1.5f);
  g_autofree float *beta = ncfm_test_new_uniform (rand, c, -1.0f, 1.0f);
  g_autofree float *rm = ncfm_test_new_uniform (rand, c, -1.0f, 1.0f);
  g_autofree float *rv = ncfm_test_new_uniform (rand, c, 0.5f, 2.0f);
  g_autofree float *rm0 = g_memdup2 (rm, c * sizeof (float)), *rv0 = g_memdup2 (rv, c * sizeof (float));
  g_autofree float *y = g_new (float, count), *y2 = g_new (float, count);
  float mean[3], rstd[3], mean2[3], rstd2[3], want_m[3], want_v[3];

  be->ops->batchnorm_forward_train (be, n, c, hw, eps, momentum, x, gamma, beta, y, mean, rstd,
      rm, rv);
  for (int ch = 0; ch < c; ch++) {
    double s = 0.0, sq = 0.0;
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++)
        s += x[((size_t) i * c + ch) * hw + p];
    double mu = s / (n * hw);
    for (int i = 0; i < n; i++)
      for (int p = 0; p < hw; p++) {
        double d = x[((size_t) i * c + ch) * hw + p] - mu;
        sq += d * d;
      }
    want_m[ch] = (float) ((1.0 - momentum) * rm0[ch] + momentum * mu);
    want_v[ch] = (float) ((1.0 - momentum) * rv0[ch] + momentum * sq / (n * hw - 1));
  }
  /* one rounding of a double expression (momentum itself is the float 0.3f) */
  ncfm_test_assert_close ("running_mean", rm, want_m, c, EPS_F, 1e-7);
  ncfm_test_assert_close ("running_var", rv, want_v, c, EPS_F, 0);

  be->ops->batchnorm_forward_train (be, n, c, hw, eps, momentum, x, gamma, beta, y2, mean2,
      rstd2, NULL, NULL);
  ncfm_test_assert_close ("y without running stats", y2, y, count, 0, 0);
  ncfm_test_assert_close ("mean without running stats", mean2, mean, c, 0, 0);
  ncfm_test_assert_close ("rstd without running stats", rstd2, rstd, c, 0, 0);

  /* eval against naive loops with the updated running stats */
  be->ops->batchnorm_forward_eval (be, n, c, hw, eps, x, gamma, beta, rm, rv, y);
  double scale = 0.0;
  for (size_t i = 0; i < count; i++) {
    int ch = (int) (i / hw % c);
    double a = (x[i] - rm[ch]) / sqrt ((double) rv[ch] + eps) * gamma[ch];
    y2[i] = (float) (a + beta[ch]);
    scale = fmax (scale, fabs (a) + fabs (beta[ch]));
  }
  /* x - mean, rstd, gamma*rstd, product, + beta: 6 eps of the scale */
  ncfm_test_assert_close ("batchnorm eval", y, y2, count, 0, 6 * EPS_F * scale);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/norm/exact", test_exact_values);
  g_test_add_func ("/kernels/norm/groupnorm", test_groupnorm);
  g_test_add_func ("/kernels/norm/batchnorm", test_batchnorm);
  g_test_add_func ("/kernels/norm/batchnorm-running-stats", test_batchnorm_running_stats);
  return g_test_run ();
}
