/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-loss.c: softmax cross-entropy (hard labels and soft targets) on the CPU
 * reference: exact values, a double-precision naive reference, numerical
 * stability, and finite-difference checks of the backward pass. */
#include "test-util.h"

#include <float.h>
#include <math.h>

/* Naive double reference: probs and the batch-mean loss. */
static double
naive_cross_entropy (int n, int k, const float *z, const int32_t *labels, const float *t,
    double *probs)
{
  double total = 0.0;
  for (int i = 0; i < n; i++) {
    const float *zi = z + (size_t) i * k;
    double zmax = zi[0], sum = 0.0;
    for (int j = 1; j < k; j++)
      zmax = fmax (zmax, zi[j]);
    for (int j = 0; j < k; j++)
      sum += exp (zi[j] - zmax);
    for (int j = 0; j < k; j++) {
      double logp = zi[j] - zmax - log (sum);
      probs[(size_t) i * k + j] = exp (logp);
      double target = labels ? (j == labels[i] ? 1.0 : 0.0) : t[(size_t) i * k + j];
      total -= target == 0.0 ? 0.0 : target * logp;
    }
  }
  return total / n;
}

static float *
to_float (const double *v, size_t n)
{
  float *f = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    f[i] = (float) v[i];
  return f;
}

/* Random rows of probabilities (the soft targets), some with exact zeros. */
static float *
new_soft_targets (GRand *rand, int n, int k)
{
  float *t = ncfm_test_new_uniform (rand, (size_t) n * k, 0.0f, 1.0f);
  for (int i = 0; i < n; i++) {
    double s = 0.0;
    for (int j = 0; j < k; j++) {
      if (g_rand_int_range (rand, 0, 4) == 0)
        t[(size_t) i * k + j] = 0.0f;
      s += t[(size_t) i * k + j];
    }
    for (int j = 0; j < k; j++)
      t[(size_t) i * k + j] = s > 0 ? (float) (t[(size_t) i * k + j] / s) : 1.0f / k;
  }
  return t;
}

static void
test_equal_logits (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  enum { N = 3, K = 10 };
  float z[N * K], probs[N * K], loss = -1.0f, d[N * K];
  for (int i = 0; i < N * K; i++)
    z[i] = 2.5f;
  int32_t labels[N] = { 0, 4, 9 };
  be->ops->cross_entropy_forward (be, N, K, z, labels, NULL, probs, &loss);
  /* every term is exp(0) = 1 exactly, so probs are 1/k to rounding and the
   * loss is log k to the rounding of one log and one float conversion */
  for (int i = 0; i < N * K; i++)
    g_assert_cmpfloat_with_epsilon (probs[i], 0.1f, FLT_EPSILON * 0.1f);
  g_assert_cmpfloat_with_epsilon (loss, log (10.0), 2 * FLT_EPSILON * log (10.0));
  be->ops->cross_entropy_backward (be, N, K, probs, labels, NULL, d);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < K; j++)
      g_assert_cmpfloat_with_epsilon (d[i * K + j], (j == labels[i] ? -0.9 : 0.1) / N, 4 * FLT_EPSILON);

  /* a uniform soft target on equal logits gives the same log k */
  float t[N * K];
  for (int i = 0; i < N * K; i++)
    t[i] = 0.1f;
  be->ops->cross_entropy_forward (be, N, K, z, NULL, t, probs, &loss);
  g_assert_cmpfloat_with_epsilon (loss, log (10.0), 8 * FLT_EPSILON * log (10.0));
  ncfm_backend_free (be);
}

/* Forward against the double reference, hard and soft.  Tolerances: each
 * prob is exp(float) / sum of k floats, a few ulps each plus k rounding steps
 * of the sum, so 4 k FLT_EPSILON relative; the loss is a sum of log-probs
 * whose error is FLT_EPSILON times |z| + log k per term. */
static void
test_vs_naive (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const int n = 7, k = 13;
  const size_t nk = (size_t) n * k;
  g_autofree float *z = ncfm_test_new_uniform (rand, nk, -6.0f, 6.0f);
  g_autofree float *t = new_soft_targets (rand, n, k);
  int32_t labels[7];
  for (int i = 0; i < n; i++)
    labels[i] = g_rand_int_range (rand, 0, k);
  g_autofree float *probs = g_new (float, nk);
  g_autofree double *want_d = g_new (double, nk);
  float loss;
  const double rtol = 4.0 * k * FLT_EPSILON, loss_tol = 4.0 * FLT_EPSILON * (6.0 + log (k));

  for (int soft = 0; soft < 2; soft++) {
    const int32_t *l = soft ? NULL : labels;
    const float *st = soft ? t : NULL;
    double want_loss = naive_cross_entropy (n, k, z, l, st, want_d);
    be->ops->cross_entropy_forward (be, n, k, z, l, st, probs, &loss);
    g_autofree float *want = to_float (want_d, nk);
    ncfm_test_assert_close (soft ? "soft probs" : "hard probs", probs, want, nk, rtol, 1e-30);
    g_assert_cmpfloat_with_epsilon (loss, want_loss, loss_tol * fmax (1.0, fabs (want_loss)));

    /* backward is (probs - target) / n exactly as computed in float */
    g_autofree float *d = g_new (float, nk), *want_dz = g_new (float, nk);
    be->ops->cross_entropy_backward (be, n, k, probs, l, st, d);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < k; j++) {
        size_t idx = (size_t) i * k + j;
        double target = soft ? t[idx] : (j == labels[i] ? 1.0 : 0.0);
        want_dz[idx] = (float) ((want_d[idx] - target) / n);
      }
    /* probs carry rtol; subtracting the target can cancel, so judge on 1/n */
    ncfm_test_assert_close ("dlogits", d, want_dz, nk, rtol, rtol / n);
  }
  ncfm_backend_free (be);
}

/* Huge logits must not overflow: softmax is shift-invariant, so logits + 1000
 * give the same probs and loss as the originals. */
static void
test_stability (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (12);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  enum { N = 4, K = 6 };
  g_autofree float *z = ncfm_test_new_uniform (rand, N * K, -3.0f, 3.0f);
  float zbig[N * K], p[N * K], pbig[N * K], loss, loss_big;
  for (int i = 0; i < N * K; i++)
    zbig[i] = z[i] + 1000.0f;
  int32_t labels[N] = { 1, 5, 0, 3 };
  be->ops->cross_entropy_forward (be, N, K, z, labels, NULL, p, &loss);
  be->ops->cross_entropy_forward (be, N, K, zbig, labels, NULL, pbig, &loss_big);
  g_assert_true (isfinite (loss_big));
  /* z + 1000 rounds to a multiple of 2^-14 (ulp at 1000 is 6.1e-5): the
   * shifted logits differ by up to 3.1e-5, so probs by that relatively */
  ncfm_test_assert_close ("probs shifted by 1000", pbig, p, N * K, 1e-4, 1e-7);
  g_assert_cmpfloat_with_epsilon (loss_big, loss, 1e-4);

  /* logits -1e30 for all but one class: prob 1 and loss 0, no NaN */
  float zext[K] = { -1e30f, -1e30f, 5.0f, -1e30f, -1e30f, -1e30f }, pext[K];
  int32_t l2 = 2;
  be->ops->cross_entropy_forward (be, 1, K, zext, &l2, NULL, pext, &loss);
  g_assert_cmpfloat (pext[2], ==, 1.0f);
  g_assert_cmpfloat (loss, ==, 0.0f);
  ncfm_backend_free (be);
}

/* Out-of-range labels (a caller bug) must not read out of bounds: the row
 * contributes no loss and no target.  Only checks that results stay finite. */
static void
test_bad_labels (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  float z[2 * 3] = { 1, 2, 3, 4, 5, 6 }, p[6], d[6], loss;
  int32_t labels[2] = { -1, 3 };
  be->ops->cross_entropy_forward (be, 2, 3, z, labels, NULL, p, &loss);
  be->ops->cross_entropy_backward (be, 2, 3, p, labels, NULL, d);
  g_assert_cmpfloat (loss, ==, 0.0f);
  for (int i = 0; i < 6; i++)
    g_assert_true (isfinite (d[i]) && d[i] >= 0.0f);
  ncfm_backend_free (be);
}

typedef struct {
  NcfmBackend *be;
  int n, k;
  float *z, *t, *probs;
  int32_t *labels;
} CeCtx;

static double
ce_loss (gpointer data)
{
  CeCtx *c = data;
  float loss;
  c->be->ops->cross_entropy_forward (c->be, c->n, c->k, c->z, c->labels, c->t, c->probs, &loss);
  return loss;
}

/* The loss is a float of size ~log k ~ 2, rounded to half an ulp (1.2e-7),
 * so a central difference of step h = 1e-2 carries up to ~1.2e-5 of rounding
 * noise; truncation h^2 |f'''| / 6 is ~1e-6.  The smallest gradient entries
 * are ~prob / n ~ 2e-3 here (probs >= ~0.01 for logits in [-2, 2], k = 7),
 * so their relative error can reach ~6e-3: tolerance 1e-2. */
static void
test_gradcheck (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (13);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  CeCtx c = { .be = be, .n = 5, .k = 7 };
  const size_t nk = (size_t) c.n * c.k;
  c.z = ncfm_test_new_uniform (rand, nk, -2.0f, 2.0f);
  c.probs = g_new (float, nk);
  int32_t labels[5] = { 0, 6, 3, 3, 1 };
  g_autofree float *t = new_soft_targets (rand, c.n, c.k);
  g_autofree float *d = g_new (float, nk);

  c.labels = labels;
  ce_loss (&c);
  be->ops->cross_entropy_backward (be, c.n, c.k, c.probs, labels, NULL, d);
  ncfm_test_gradcheck ("cross_entropy hard", c.z, d, nk, ce_loss, &c, 1e-2, 1e-2, nk, rand);

  c.labels = NULL;
  c.t = t;
  ce_loss (&c);
  be->ops->cross_entropy_backward (be, c.n, c.k, c.probs, NULL, t, d);
  ncfm_test_gradcheck ("cross_entropy soft", c.z, d, nk, ce_loss, &c, 1e-2, 1e-2, nk, rand);

  g_free (c.z);
  g_free (c.probs);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/loss/equal-logits", test_equal_logits);
  g_test_add_func ("/kernels/loss/vs-naive", test_vs_naive);
  g_test_add_func ("/kernels/loss/stability", test_stability);
  g_test_add_func ("/kernels/loss/bad-labels", test_bad_labels);
  g_test_add_func ("/kernels/loss/gradcheck", test_gradcheck);
  return g_test_run ();
}
