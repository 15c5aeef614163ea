/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-ncfd.c: the NCFM objective (CF statistics, NCFD and MMD losses and
 * their gradients) against PyTorch golden files, its properties, finite
 * differences through the whole objective, and errors.  Regenerate the
 * fixtures with /usr/bin/python3 tests/fixtures/make-ncfd-fixtures.py */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "libncfm-test.h"

static NcfmTensor *
load (NcfmSafetensors *ref, const gchar *name, NcfmDevice *dev)
{
  g_autoptr (GError) error = NULL;
  NcfmTensor *t = ncfm_tensor_new_from_safetensors (ref, name, dev, &error);
  g_assert_no_error (error);
  return t;
}

static void
test_torch_fixture (gconstpointer data)
{
  const gchar *file = data;
  g_autoptr (GError) error = NULL;
  /* scale 1e-3: the clamp fixture's gradients are exactly 0 */
  g_autoptr (NcfmSafetensors) ref = ncfm_test_load_fixture (file);
  NcfmMetric metric;
  g_assert_true (ncfm_metric_from_string (ncfm_safetensors_get_metadata (ref, "metric"), &metric));
  guint k = atoi (ncfm_safetensors_get_metadata (ref, "num_classes"));
  float alpha = g_ascii_strtod (ncfm_safetensors_get_metadata (ref, "alpha"), NULL);
  float beta = g_ascii_strtod (ncfm_safetensors_get_metadata (ref, "beta"), NULL);
  gboolean normalize = atoi (ncfm_safetensors_get_metadata (ref, "normalize"));

  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmTensor) real = load (ref, "real", dev);
  g_autoptr (NcfmTensor) lr = load (ref, "real_labels", dev);
  g_autoptr (NcfmTensor) syn = load (ref, "syn", dev);
  g_autoptr (NcfmTensor) ls = load (ref, "syn_labels", dev);
  g_autoptr (NcfmTensor) t = load (ref, "t", dev);
  g_autoptr (NcfmNcfd) loss = ncfm_ncfd_new (dev, metric, alpha, beta, NULL);
  g_assert_true (ncfm_ncfd_compute (loss, real, lr, syn, ls, t, k, normalize, &error));
  g_assert_no_error (error);
  ncfm_test_assert_tensor_matches (file, ncfm_ncfd_get_class_losses (loss), ref, "class_loss", 1e-3);
  ncfm_test_assert_tensor_matches (file, ncfm_ncfd_get_grad_syn_features (loss), ref, "grad.syn", 1e-3);
  ncfm_test_assert_tensor_matches (file, ncfm_ncfd_get_grad_real_features (loss), ref, "grad.real", 1e-3);
  if (metric == NCFM_METRIC_NCFD)
    ncfm_test_assert_tensor_matches (file, ncfm_ncfd_get_grad_t (loss), ref, "grad.t", 1e-3);
  else
    g_assert_null (ncfm_ncfd_get_grad_t (loss));
  double total = 0;
  for (guint c = 0; c < k; c++)
    total += ncfm_ncfd_get_class_loss (loss, c);
  g_assert_cmpfloat (fabs (total - ncfm_ncfd_get_loss (loss)), <=, 1e-9 * fabs (total) + 1e-12);
}

/* ---- properties ---- */

static void
test_properties (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint m = 48, d = 12, k = 3;
  g_autoptr (NcfmTensor) t = ncfm_test_random_tensor (dev, rand, m, d, 1.0f);
  g_autoptr (NcfmTensor) a = ncfm_test_random_tensor (dev, rand, 30, d, 1.0f);
  g_autoptr (NcfmTensor) b = ncfm_test_random_tensor (dev, rand, 12, d, 1.0f);
  g_autoptr (NcfmTensor) la = ncfm_test_labels_tensor (dev, 30, k);
  g_autoptr (NcfmTensor) lb = ncfm_test_labels_tensor (dev, 12, k);

  /* the CF of a single point has modulus 1 */
  {
    g_autoptr (NcfmCFStats) one = ncfm_cf_stats_new (dev, 1, m, d, TRUE, &error);
    g_autoptr (NcfmTensor) x = ncfm_test_random_tensor (dev, rand, 1, d, 3.0f);
    g_autoptr (NcfmTensor) l = ncfm_test_labels_tensor (dev, 1, 1);
    g_assert_true (ncfm_cf_stats_accumulate (one, x, l, t, &error));
    g_autoptr (NcfmTensor) re = NULL;
    g_autoptr (NcfmTensor) im = NULL;
    g_assert_true (ncfm_cf_stats_compute_cf (one, &re, &im, &error));
    const float *r = ncfm_tensor_f32 (re), *i = ncfm_tensor_f32 (im);
    for (guint j = 0; j < m; j++)
      g_assert_cmpfloat_with_epsilon (r[j] * r[j] + i[j] * i[j], 1.0, 1e-5);
  }

  /* two half batches accumulate to the full batch */
  {
    g_autoptr (NcfmCFStats) full = ncfm_cf_stats_new (dev, k, m, d, TRUE, &error);
    g_autoptr (NcfmCFStats) half = ncfm_cf_stats_new (dev, k, m, d, TRUE, &error);
    g_autoptr (NcfmCFStats) other = ncfm_cf_stats_new (dev, k, m, d, TRUE, &error);
    g_assert_true (ncfm_cf_stats_accumulate (full, a, la, t, &error));
    gint64 hs[2] = { 15, d }, hl[1] = { 15 };
    g_autoptr (NcfmTensor) x1 = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, hs, 2,
        (const guint8 *) ncfm_tensor_f32 (a), 15 * d * 4, &error);
    g_autoptr (NcfmTensor) x2 = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, hs, 2,
        (const guint8 *) (ncfm_tensor_f32 (a) + 15 * d), 15 * d * 4, &error);
    const gint32 *lah = ncfm_tensor_get_data (la);
    g_autoptr (NcfmTensor) l1 = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_I32, hl, 1,
        (const guint8 *) lah, 60, &error);
    g_autoptr (NcfmTensor) l2 = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_I32, hl, 1,
        (const guint8 *) (lah + 15), 60, &error);
    g_assert_true (ncfm_cf_stats_accumulate (half, x1, l1, t, &error));
    g_assert_true (ncfm_cf_stats_accumulate (other, x2, l2, t, &error));
    g_assert_true (ncfm_cf_stats_merge (half, other, &error));
    for (guint c = 0; c < k; c++)
      g_assert_cmpint (ncfm_cf_stats_get_count (half, c), ==, ncfm_cf_stats_get_count (full, c));
    /* sums of up to 10 terms of magnitude <= 1 in another order */
    ncfm_test_assert_close ("merged sum_cos", ncfm_tensor_f32 (ncfm_cf_stats_get_sum_cos (half)),
        ncfm_tensor_f32 (ncfm_cf_stats_get_sum_cos (full)), k * m, 0, 1e-5);
    ncfm_test_assert_close ("merged sum_sin", ncfm_tensor_f32 (ncfm_cf_stats_get_sum_sin (half)),
        ncfm_tensor_f32 (ncfm_cf_stats_get_sum_sin (full)), k * m, 0, 1e-5);
  }

  /* equal sets give (numerically) zero loss; the loss is symmetric in R and S */
  {
    g_autoptr (NcfmNcfd) l = ncfm_ncfd_new (dev, NCFM_METRIC_NCFD, 0.5f, 0.5f, NULL);
    g_assert_true (ncfm_ncfd_compute (l, a, la, a, la, t, k, TRUE, &error));
    /* only the clamp remains: 300 sqrt(0.5e-12) per class */
    g_assert_cmpfloat (ncfm_ncfd_get_loss (l), <=, k * 300 * sqrt (0.5e-12) * 1.01 + 1e-3);
    g_assert_true (ncfm_ncfd_compute (l, a, la, b, lb, t, k, TRUE, &error));
    double ab = ncfm_ncfd_get_loss (l);
    g_assert_true (ncfm_ncfd_compute (l, b, lb, a, la, t, k, TRUE, &error));
    double ba = ncfm_ncfd_get_loss (l);
    g_assert_cmpfloat (ab, >, 1.0);
    g_assert_cmpfloat (fabs (ab - ba), <=, 1e-5 * ab);
    /* the weights matter */
    g_autoptr (NcfmNcfd) l2 = ncfm_ncfd_new (dev, NCFM_METRIC_NCFD, 0.9f, 0.1f, NULL);
    g_assert_true (ncfm_ncfd_compute (l2, a, la, b, lb, t, k, TRUE, &error));
    g_assert_cmpfloat (fabs (ncfm_ncfd_get_loss (l2) - ab), >, 1e-3 * ab);
  }
}

/* ---- finite differences through the whole objective ---- */

typedef struct {
  NcfmNcfd *loss;
  NcfmTensor *real, *lr, *syn, *ls, *t;
  guint k;
} ObjCtx;

static double
obj_loss (gpointer data)
{
  ObjCtx *c = data;
  g_assert_true (ncfm_ncfd_compute (c->loss, c->real, c->lr, c->syn, c->ls, c->t, c->k, TRUE, NULL));
  return ncfm_ncfd_get_loss (c->loss);
}

static void
test_gradcheck (gconstpointer data)
{
  NcfmMetric metric = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (17);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint m = 40, d = 6, k = 2;
  ObjCtx c = { 0 };
  c.k = k;
  c.loss = ncfm_ncfd_new (dev, metric, 0.6f, 0.4f, NULL);
  c.real = ncfm_test_random_tensor (dev, rand, 20, d, 1.0f);
  c.syn = ncfm_test_random_tensor (dev, rand, 6, d, 1.0f);
  c.t = ncfm_test_random_tensor (dev, rand, m, d, 1.0f);
  c.lr = ncfm_test_labels_tensor (dev, 20, k);
  c.ls = ncfm_test_labels_tensor (dev, 6, k);
  obj_loss (&c);
  g_autofree gfloat *gs = g_memdup2 (ncfm_tensor_f32 (ncfm_ncfd_get_grad_syn_features (c.loss)),
      6 * d * 4);
  g_autofree gfloat *gr = g_memdup2 (ncfm_tensor_f32 (ncfm_ncfd_get_grad_real_features (c.loss)),
      20 * d * 4);
  /* float32 CFs: the loss (~100, with the x300 scale) carries ~1e-4 of
   * rounding, which the 2h = 2e-2 quotient turns into ~5e-3 absolute noise;
   * entries are judged on at least 5% of the largest gradient entry, to 2%
   * (a wrong formula is off by O(1); the fixtures check these to 1e-4) */
  ncfm_test_gradcheck_floor ("objective d/dsyn", ncfm_tensor_f32 (c.syn), gs, 6 * d, obj_loss, &c,
      1e-2, 2e-2, 36, rand, 5e-2);
  ncfm_test_gradcheck_floor ("objective d/dreal", ncfm_tensor_f32 (c.real), gr, 20 * d, obj_loss,
      &c, 1e-2, 2e-2, 40, rand, 5e-2);
  if (metric == NCFM_METRIC_NCFD) {
    obj_loss (&c);
    g_autofree gfloat *gt = g_memdup2 (ncfm_tensor_f32 (ncfm_ncfd_get_grad_t (c.loss)), m * d * 4);
    ncfm_test_gradcheck_floor ("objective d/dt", ncfm_tensor_f32 (c.t), gt, m * d, obj_loss, &c,
        1e-2, 2e-2, 60, rand, 5e-2);
  }
  g_object_unref (c.loss);
  g_object_unref (c.real);
  g_object_unref (c.syn);
  g_object_unref (c.t);
  g_object_unref (c.lr);
  g_object_unref (c.ls);
}

/* ---- reuse of the real stats' phases by real_backward ---- */

typedef struct {
  NcfmDevice *dev;
  NcfmTensor *t, *xs, *ls, *lr;
} ReuseCtx;

/* dL/dt and dL/dreal features of synthetic() + real_backward(features), as
 * host copies [m * d] and [n * d]. */
static void
real_grads (ReuseCtx *c, NcfmNcfd *loss, NcfmCFStats *stats, NcfmTensor *features, float **gt,
    float **gr)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (ncfm_ncfd_synthetic (loss, stats, c->xs, c->ls, c->t, TRUE, &error));
  g_assert_true (ncfm_ncfd_real_backward (loss, features, c->lr, TRUE, &error));
  g_assert_no_error (error);
  *gt = ncfm_test_tensor_host (ncfm_ncfd_get_grad_t (loss));
  *gr = ncfm_test_tensor_host (ncfm_ncfd_get_grad_real_features (loss));
}

/* The same values in another tensor: never reused (identity, not content). */
static NcfmTensor *
copy_tensor (NcfmTensor *x)
{
  guint nd = 0;
  const gint64 *shape = ncfm_tensor_get_shape (x, &nd);
  NcfmTensor *y = ncfm_tensor_new (ncfm_tensor_get_device (x), ncfm_tensor_get_dtype (x), shape,
      nd, NULL);
  g_assert_true (ncfm_tensor_copy_from (y, x, NULL));
  return y;
}

/* The same sums and counts (0 + x is exact) without a remembered batch:
 * real_backward on these recomputes the phases whatever the tensors. */
static NcfmCFStats *
forgetful_copy (NcfmDevice *dev, NcfmCFStats *stats)
{
  NcfmCFStats *plain = ncfm_cf_stats_new (dev, ncfm_cf_stats_get_num_classes (stats),
      ncfm_cf_stats_get_num_freqs (stats), ncfm_cf_stats_get_dim (stats),
      ncfm_cf_stats_get_normalize (stats), NULL);
  g_assert_true (ncfm_cf_stats_merge (plain, stats, NULL));
  return plain;
}

/* real_backward of `features` on `stats` (phases reused from the stats iff
 * `reused`) is bitwise that with recomputed phases, twice in a row. */
static void
assert_as_recomputed (ReuseCtx *c, NcfmCFStats *stats, NcfmTensor *features, gboolean reused)
{
  const gint64 n = ncfm_tensor_get_dim (features, 0), d = ncfm_tensor_get_dim (features, 1);
  const gsize gt_bytes = ncfm_tensor_get_n_bytes (c->t), gr_bytes = n * d * sizeof (float);
  g_assert_cmpint (ncfm_cf_stats_peek_phases (stats, features, c->t) != NULL, ==, reused);
  g_autoptr (NcfmCFStats) plain = forgetful_copy (c->dev, stats);
  g_autoptr (NcfmTensor) same = copy_tensor (features);
  g_assert_null (ncfm_cf_stats_peek_phases (stats, same, c->t));
  g_autoptr (NcfmNcfd) loss = ncfm_ncfd_new (c->dev, NCFM_METRIC_NCFD, 0.5f, 0.5f, NULL);
  g_autofree float *gt_ref = NULL, *gr_ref = NULL, *gt_copy = NULL, *gr_copy = NULL;
  real_grads (c, loss, plain, features, &gt_ref, &gr_ref);
  real_grads (c, loss, stats, same, &gt_copy, &gr_copy);
  g_assert_cmpmem (gt_copy, gt_bytes, gt_ref, gt_bytes);
  g_assert_cmpmem (gr_copy, gr_bytes, gr_ref, gr_bytes);
  for (guint round = 0; round < 2; round++) {   /* the stats' phases survive (copied, not used in place) */
    g_autofree float *gt = NULL, *gr = NULL;
    real_grads (c, loss, stats, features, &gt, &gr);
    g_assert_cmpmem (gt, gt_bytes, gt_ref, gt_bytes);
    g_assert_cmpmem (gr, gr_bytes, gr_ref, gr_bytes);
  }
  /* a second real_backward after the same synthetic: the same dL/dreal */
  g_assert_true (ncfm_ncfd_real_backward (loss, features, c->lr, TRUE, NULL));
  g_autofree float *gr2 = ncfm_test_tensor_host (ncfm_ncfd_get_grad_real_features (loss));
  g_assert_cmpmem (gr2, gr_bytes, gr_ref, gr_bytes);
}

static void
test_phase_reuse (gconstpointer data)
{
  const gboolean normalize = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (23);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint m = 48, d = 12, k = 3, n = 30;
  g_autoptr (NcfmTensor) t = ncfm_test_random_tensor (dev, rand, m, d, 1.0f);
  g_autoptr (NcfmTensor) b1 = ncfm_test_random_tensor (dev, rand, n, d, 1.0f);
  g_autoptr (NcfmTensor) b2 = ncfm_test_random_tensor (dev, rand, n, d, 1.0f);
  g_autoptr (NcfmTensor) xs = ncfm_test_random_tensor (dev, rand, 9, d, 1.0f);
  g_autoptr (NcfmTensor) lr = ncfm_test_labels_tensor (dev, n, k);
  g_autoptr (NcfmTensor) ls = ncfm_test_labels_tensor (dev, 9, k);
  ReuseCtx c = { dev, t, xs, ls, lr };

  g_autoptr (NcfmCFStats) stats = ncfm_cf_stats_new (dev, k, m, d, normalize, &error);
  g_assert_true (ncfm_cf_stats_accumulate (stats, b1, lr, t, &error));
  assert_as_recomputed (&c, stats, b1, TRUE);
  g_autoptr (NcfmTensor) t_copy = copy_tensor (t);
  g_assert_null (ncfm_cf_stats_peek_phases (stats, b1, t_copy));

  /* B2 accumulated after B1: B1's real_backward must not take B2's phases */
  g_assert_true (ncfm_cf_stats_accumulate (stats, b2, lr, t, &error));
  assert_as_recomputed (&c, stats, b1, FALSE);
  assert_as_recomputed (&c, stats, b2, TRUE);

  /* a merge keeps self's batch; a reset and a failed accumulate forget it */
  g_autoptr (NcfmCFStats) other = ncfm_cf_stats_new (dev, k, m, d, normalize, &error);
  g_assert_true (ncfm_cf_stats_accumulate (other, b1, lr, t, &error));
  g_assert_true (ncfm_cf_stats_merge (stats, other, &error));
  g_assert_nonnull (ncfm_cf_stats_peek_phases (stats, b2, t));
  g_assert_null (ncfm_cf_stats_peek_phases (stats, b1, t));
  ncfm_cf_stats_reset (other);
  g_assert_null (ncfm_cf_stats_peek_phases (other, b1, t));
  g_autoptr (NcfmTensor) bad = ncfm_test_labels_tensor (dev, n, k);
  ((gint32 *) ncfm_tensor_get_data (bad))[0] = (gint32) k;
  g_assert_false (ncfm_cf_stats_accumulate (stats, b2, bad, t, NULL));
  g_assert_null (ncfm_cf_stats_peek_phases (stats, b2, t));
}

/* ---- psi's frequencies: the tiled draw against its distinct rows ---- */

/* The objective at a learned sampler's M frequencies (M/16 distinct rows
 * tiled 16 times) equals the objective at the distinct rows: the loss per
 * class, dL/dsynthetic and dL/dreal features, and dL/dt of a distinct row
 * against the sum of dL/dt over its 16 copies (float rounding apart). */
static void
test_distinct_frequencies (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (41);
  const guint k = 3, m = 64, d = 12, r = m / 16;
  const gint64 n_r = 30, n_s = 9;
  g_autoptr (NcfmTensor) xr = ncfm_test_random_tensor (dev, rand, n_r, d, 1.0f);
  g_autoptr (NcfmTensor) xs = ncfm_test_random_tensor (dev, rand, n_s, d, 1.0f);
  g_autoptr (NcfmTensor) lr = ncfm_test_labels_tensor (dev, n_r, k);
  g_autoptr (NcfmTensor) ls = ncfm_test_labels_tensor (dev, n_s, k);
  g_autoptr (NcfmTensor) noise = ncfm_test_random_tensor (dev, rand, r, d, 1.0f);
  g_autoptr (NcfmSampler) tiled_psi = ncfm_sampler_new_learned (dev, m, d, 4, &error);
  g_autoptr (NcfmSampler) distinct_psi = ncfm_sampler_new_learned (dev, m, d, 4, &error);
  g_autoptr (NcfmTensor) t_all = ncfm_sampler_sample_with_noise (tiled_psi, noise, &error);
  g_autoptr (NcfmTensor) t_one = ncfm_sampler_sample_distinct (distinct_psi, noise, &error);
  g_assert_no_error (error);
  double loss[2][3];
  float *gs[2], *gr[2], *gt[2];
  for (guint v = 0; v < 2; v++) {
    NcfmTensor *t = v ? t_one : t_all;
    g_autoptr (NcfmCFStats) stats = ncfm_cf_stats_new (dev, k, v ? r : m, d, TRUE, &error);
    g_autoptr (NcfmNcfd) l = ncfm_ncfd_new (dev, NCFM_METRIC_NCFD, 0.5f, 0.5f, NULL);
    g_assert_true (ncfm_cf_stats_accumulate (stats, xr, lr, t, &error));
    g_assert_true (ncfm_ncfd_synthetic (l, stats, xs, ls, t, TRUE, &error));
    g_assert_true (ncfm_ncfd_real_backward (l, xr, lr, TRUE, &error));
    g_assert_no_error (error);
    for (guint c = 0; c < k; c++)
      loss[v][c] = ncfm_ncfd_get_class_loss (l, c);
    gs[v] = ncfm_test_tensor_host (ncfm_ncfd_get_grad_syn_features (l));
    gr[v] = ncfm_test_tensor_host (ncfm_ncfd_get_grad_real_features (l));
    gt[v] = ncfm_test_tensor_host (ncfm_ncfd_get_grad_t (l));
  }
  for (guint c = 0; c < k; c++) {
    g_test_message ("class %u: loss %.7g (M rows) %.7g (M/16 rows)", c, loss[0][c], loss[1][c]);
    g_assert_cmpfloat (loss[0][c], >, 0.0);
    g_assert_cmpfloat (fabs (loss[0][c] - loss[1][c]), <=, 1e-5 * loss[0][c]);
  }
  ncfm_test_assert_close ("dL/dsynthetic", gs[1], gs[0], n_s * d, 1e-4, 1e-6);
  ncfm_test_assert_close ("dL/dreal", gr[1], gr[0], n_r * d, 1e-4, 1e-6);
  g_autofree float *sum = g_new0 (float, r * d);
  for (guint j = 0; j < 16; j++)
    for (guint i = 0; i < r * d; i++)
      sum[i] += gt[0][j * r * d + i];
  ncfm_test_assert_close ("dL/dt (sum of the copies)", gt[1], sum, r * d, 1e-4, 1e-6);
  for (guint v = 0; v < 2; v++) {
    g_free (gs[v]);
    g_free (gr[v]);
    g_free (gt[v]);
  }
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmTensor) t = ncfm_test_random_tensor (dev, rand, 16, 8, 1.0f);
  g_autoptr (NcfmTensor) x = ncfm_test_random_tensor (dev, rand, 4, 8, 1.0f);
  g_autoptr (NcfmTensor) wrong = ncfm_test_random_tensor (dev, rand, 4, 7, 1.0f);
  g_autoptr (NcfmTensor) l = ncfm_test_labels_tensor (dev, 4, 4);
  g_autoptr (NcfmCFStats) stats = ncfm_cf_stats_new (dev, 3, 16, 8, TRUE, &error);

  /* label 3 with 3 classes */
  g_assert_false (ncfm_cf_stats_accumulate (stats, x, l, t, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "label 3 at row 3"));
  g_clear_error (&error);
  g_assert_cmpint (ncfm_cf_stats_get_count (stats, 0), ==, 0);   /* nothing was added */

  /* feature dimension 7 vs t's 8 */
  g_autoptr (NcfmCFStats) s4 = ncfm_cf_stats_new (dev, 4, 16, 8, TRUE, &error);
  g_assert_false (ncfm_cf_stats_accumulate (s4, wrong, l, t, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "real features must be F32 [4, 8]"));
  g_clear_error (&error);

  /* labels of the wrong type */
  g_assert_false (ncfm_cf_stats_accumulate (s4, x, x, t, &error));
  g_assert_nonnull (strstr (error->message, "real labels must be I32 [4]"));
  g_clear_error (&error);

  /* real_backward before synthetic, and a synthetic batch with bad labels */
  g_autoptr (NcfmNcfd) loss = ncfm_ncfd_new (dev, NCFM_METRIC_NCFD, 0.5f, 0.5f, NULL);
  g_assert_false (ncfm_ncfd_real_backward (loss, x, l, TRUE, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (ncfm_cf_stats_accumulate (s4, x, l, t, &error));
  g_autoptr (NcfmTensor) l3 = ncfm_test_labels_tensor (dev, 4, 4);
  ((gint32 *) ncfm_tensor_get_data (l3))[1] = -2;
  g_assert_false (ncfm_ncfd_synthetic (loss, s4, x, l3, t, TRUE, &error));
  g_assert_nonnull (strstr (error->message, "synthetic labels: label -2 at row 1"));
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const gchar *fixtures[] = { "ncfd_m64_d16_k3.safetensors", "ncfd_m128_d32_k2_a08.safetensors",
    "ncfd_m32_d8_k4_raw.safetensors", "ncfd_clamp.safetensors", "mmd_d16_k3.safetensors" };
  for (guint i = 0; i < G_N_ELEMENTS (fixtures); i++) {
    g_autofree gchar *p = g_strdup_printf ("/ncfd/torch/%s", fixtures[i]);
    g_test_add_data_func (p, fixtures[i], test_torch_fixture);
  }
  g_test_add_func ("/ncfd/properties", test_properties);
  g_test_add_data_func ("/ncfd/gradcheck/ncfd", GINT_TO_POINTER (NCFM_METRIC_NCFD), test_gradcheck);
  g_test_add_data_func ("/ncfd/gradcheck/mmd", GINT_TO_POINTER (NCFM_METRIC_MMD), test_gradcheck);
  g_test_add_data_func ("/ncfd/phase-reuse/normalized", GINT_TO_POINTER (TRUE), test_phase_reuse);
  g_test_add_data_func ("/ncfd/phase-reuse/raw", GINT_TO_POINTER (FALSE), test_phase_reuse);
  g_test_add_func ("/ncfd/distinct-frequencies", test_distinct_frequencies);
  g_test_add_func ("/ncfd/errors", test_errors);
  return g_test_run ();
}
