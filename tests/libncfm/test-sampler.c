/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sampler.c: the frequency samplers.  Gaussian draws (moments, the
 * Philox stream, continuation after save/load); the learned sampler psi
 * against a PyTorch golden file (forward, running statistics, gradients, one
 * ascent step), finite differences of its backward, the ascent direction,
 * exact resumption, and the error messages.  Regenerate the fixture with
 * /usr/bin/python3 tests/fixtures/make-sampler-fixture.py */
#include <math.h>
#include <string.h>

#include "libncfm-test.h"

static NcfmTensor *
tensor_from (NcfmDevice *dev, const float *data, gint64 rows, gint64 cols)
{
  g_autoptr (GError) error = NULL;
  gint64 shape[2] = { rows, cols };
  NcfmTensor *t = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, shape, 2,
      (const guint8 *) data, (gsize) (rows * cols) * sizeof (float), &error);
  g_assert_no_error (error);
  return t;
}

static double
max_abs (const float *x, gsize n)
{
  double m = 0;
  for (gsize i = 0; i < n; i++)
    m = fmax (m, fabs (x[i]));
  return m;
}

static gboolean
is_linear_bias (const gchar *name)
{
  /* net.0/3/6 are the Linear layers; their bias feeds a BatchNorm, which
   * removes per-channel constants: its gradient is exactly zero */
  return g_str_has_suffix (name, ".bias") && (name[4] - '0') % 3 == 0;
}

/* ---- Gaussian ---- */

static void
test_gaussian_moments (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint m = 256, d = 64;
  const double sigma = 2.0, n = m * d;
  g_autoptr (NcfmSampler) s = ncfm_sampler_new_gaussian (dev, m, d, sigma, 7, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ncfm_sampler_get_kind (s), ==, NCFM_SAMPLER_GAUSSIAN);
  g_assert_cmpuint (ncfm_sampler_get_num_freqs (s), ==, m);
  g_assert_cmpuint (ncfm_sampler_get_dim (s), ==, d);
  g_autoptr (NcfmTensor) t = ncfm_sampler_sample (s, &error);
  g_assert_no_error (error);
  gint64 shape[2] = { m, d };
  g_assert_true (ncfm_tensor_has_shape (t, shape, 2));
  g_autofree float *x = ncfm_test_tensor_host (t);
  double sum = 0, sq = 0, quad = 0;
  for (guint i = 0; i < m * d; i++) {
    sum += x[i];
    sq += (double) x[i] * x[i];
    quad += pow (x[i], 4);
  }
  double mean = sum / n, var = sq / n - mean * mean, kurt = quad / n / (var * var);
  g_test_message ("mean %.4f var %.4f kurtosis %.3f over %.0f draws", mean, var, kurt, n);
  /* 5 standard errors: sd(mean) = sigma/sqrt(n), sd(var) = sigma^2 sqrt(2/n),
   * sd(kurtosis) ~ sqrt(24/n) */
  g_assert_cmpfloat (fabs (mean), <, 5 * sigma / sqrt (n));
  g_assert_cmpfloat (fabs (var - sigma * sigma), <, 5 * sigma * sigma * sqrt (2 / n));
  g_assert_cmpfloat (fabs (kurt - 3), <, 5 * sqrt (24 / n));
}

static void
test_gaussian_stream (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  NcfmBackend *be = ncfm_device_get_backend (dev);
  const guint m = 32, d = 5;
  const gsize n = m * d;
  g_autoptr (NcfmSampler) a = ncfm_sampler_new_gaussian (dev, m, d, 0.5f, 99, &error);
  g_autoptr (NcfmSampler) b = ncfm_sampler_new_gaussian (dev, m, d, 0.5f, 99, &error);
  g_autoptr (NcfmSampler) c = ncfm_sampler_new_gaussian (dev, m, d, 0.5f, 100, &error);
  g_assert_no_error (error);
  g_autoptr (NcfmTensor) a1 = ncfm_sampler_sample (a, NULL);
  g_autoptr (NcfmTensor) a2 = ncfm_sampler_sample (a, NULL);
  g_autoptr (NcfmTensor) b1 = ncfm_sampler_sample (b, NULL);
  g_autoptr (NcfmTensor) c1 = ncfm_sampler_sample (c, NULL);
  g_autofree float *ha1 = ncfm_test_tensor_host (a1), *ha2 = ncfm_test_tensor_host (a2);
  g_autofree float *hb1 = ncfm_test_tensor_host (b1), *hc1 = ncfm_test_tensor_host (c1);
  g_assert_cmpmem (ha1, n * 4, hb1, n * 4);            /* same seed, same draw */
  g_assert_true (memcmp (ha1, ha2, n * 4) != 0);       /* the stream moves on */
  g_assert_true (memcmp (ha1, hc1, n * 4) != 0);       /* another seed */
  g_assert_cmpuint (ncfm_sampler_get_offset (a), ==, 2 * n);
  /* the second draw is the slice [n, 2n) of the backend's stream */
  g_autofree float *want = g_new (float, n);
  be->ops->fill_normal (be, n, 99, n, 0.5f, want);
  g_assert_cmpmem (ha2, n * 4, want, n * 4);
  /* seeking to draw 1 draws it again; draw 0 after it comes back too */
  ncfm_sampler_seek_draw (b, 1);
  g_assert_cmpuint (ncfm_sampler_get_offset (b), ==, n);
  g_autoptr (NcfmTensor) b2 = ncfm_sampler_sample (b, NULL);
  ncfm_sampler_seek_draw (b, 0);
  g_autoptr (NcfmTensor) b1again = ncfm_sampler_sample (b, NULL);
  g_autofree float *hb2 = ncfm_test_tensor_host (b2);
  g_autofree float *hb1again = ncfm_test_tensor_host (b1again);
  g_assert_cmpmem (hb2, n * 4, ha2, n * 4);
  g_assert_cmpmem (hb1again, n * 4, ha1, n * 4);
  /* each draw is a new tensor, never written again */
  g_assert_true (a1 != a2);
  g_autofree float *again = ncfm_test_tensor_host (a1);
  g_assert_cmpmem (again, n * 4, ha1, n * 4);

  /* save after two draws; the copy continues the stream */
  g_autoptr (NcfmSafetensors) f = ncfm_safetensors_new ();
  ncfm_sampler_save (a, f, "freq.");
  g_autoptr (GBytes) bytes = ncfm_safetensors_serialize (f);
  g_autoptr (NcfmSafetensors) loaded = ncfm_safetensors_load_from_bytes (bytes, "state", &error);
  g_assert_no_error (error);
  g_autoptr (NcfmSampler) back = ncfm_sampler_new_from_safetensors (dev, loaded, "freq.", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (ncfm_sampler_get_sigma (back), ==, 0.5f);
  g_assert_cmpuint (ncfm_sampler_get_seed (back), ==, 99);
  g_autoptr (NcfmTensor) a3 = ncfm_sampler_sample (a, NULL);
  g_autoptr (NcfmFreqDraw) d3 = ncfm_sampler_draw (back, NULL, FALSE, NULL);
  NcfmTensor *r3 = ncfm_freq_draw_get_t (d3);
  g_autofree float *ha3 = ncfm_test_tensor_host (a3), *hr3 = ncfm_test_tensor_host (r3);
  g_assert_cmpmem (ha3, n * 4, hr3, n * 4);

  /* nothing to learn: backward checks its arguments and does nothing */
  g_autoptr (NcfmTensor) g = ncfm_tensor_new (dev, NCFM_DTYPE_F32, (gint64[]) { m, d }, 2, NULL);
  g_assert_true (ncfm_sampler_backward (back, d3, g, &error));
  g_assert_no_error (error);
  ncfm_sampler_ascent_step (back);
  g_assert_cmpuint (ncfm_sampler_get_step (back), ==, 0);
  g_assert_true (ncfm_sampler_backward (back, d3, g, &error));   /* in flight, as for psi */
  g_autoptr (NcfmFreqDraw) other = ncfm_sampler_draw (a, NULL, FALSE, NULL);
  g_assert_false (ncfm_sampler_backward (back, other, g, &error));    /* not its draw */
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpuint (ncfm_sampler_get_n_parameters (back), ==, 0);

  /* given noise: t = sigma * noise, the stream untouched */
  g_autoptr (NcfmTensor) noise = tensor_from (dev, want, m, d);
  g_autoptr (NcfmTensor) tn = ncfm_sampler_sample_with_noise (back, noise, &error);
  g_assert_no_error (error);
  g_autofree float *htn = ncfm_test_tensor_host (tn);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat (htn[i], ==, 0.5f * want[i]);
  g_assert_cmpuint (ncfm_sampler_get_offset (back), ==, 3 * n);
}

/* ---- learned: PyTorch golden file ---- */

static void
test_learned_torch (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "..", "fixtures",
      "sampler_psi.safetensors", NULL);
  g_autoptr (NcfmSafetensors) ref = ncfm_safetensors_load (path, &error);
  g_assert_no_error (error);
  guint64 m, d;
  g_assert_true (g_ascii_string_to_unsigned (ncfm_safetensors_get_metadata (ref, "num_freqs"),
          10, 32, 1 << 20, &m, NULL));
  g_assert_true (g_ascii_string_to_unsigned (ncfm_safetensors_get_metadata (ref, "dim"), 10, 1,
          4096, &d, NULL));
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmSampler) s = ncfm_sampler_new_learned (dev, m, d, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ncfm_sampler_get_n_parameters (s), ==, 18);
  for (guint i = 0; i < ncfm_sampler_get_n_parameters (s); i++) {
    const gchar *name = ncfm_sampler_get_parameter_name (s, i);
    g_autoptr (NcfmTensor) w = ncfm_tensor_new_from_safetensors (ref, name, dev, &error);
    g_assert_no_error (error);
    g_assert_true (ncfm_tensor_copy_from (ncfm_sampler_get_parameter (s, name), w, &error));
    g_assert_no_error (error);
  }
  g_autoptr (NcfmTensor) eps = ncfm_tensor_new_from_safetensors (ref, "eps", dev, &error);
  g_autoptr (NcfmTensor) proj = ncfm_tensor_new_from_safetensors (ref, "proj", dev, &error);
  g_assert_no_error (error);
  g_autoptr (NcfmFreqDraw) draw = ncfm_sampler_draw (s, eps, FALSE, &error);
  g_assert_no_error (error);
  NcfmTensor *t = ncfm_freq_draw_get_t (draw);
  g_assert_cmpuint (ncfm_sampler_get_offset (s), ==, 0);
  ncfm_test_assert_tensor_matches ("psi forward", t, ref, "t", 0);

  g_assert_true (ncfm_sampler_backward (s, draw, proj, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < ncfm_sampler_get_n_parameters (s); i++) {
    const gchar *name = ncfm_sampler_get_parameter_name (s, i);
    NcfmTensor *g = ncfm_sampler_get_gradient (s, name);
    g_autofree gchar *key = g_strconcat (g ? "grad." : "after.", name, NULL);
    double scale = 0;
    if (is_linear_bias (name)) {   /* zero up to rounding: judged on its weight's scale */
      g_autofree gchar *wname = g_strndup (name, strlen (name) - 4);
      g_autofree gchar *wkey = g_strconcat ("grad.", wname, "weight", NULL);
      g_autofree gfloat *gw = ncfm_safetensors_dup_f32 (ref, wkey, NULL, NULL);
      scale = max_abs (gw, (gsize) d * d);
    }
    ncfm_test_assert_tensor_matches ("psi backward", g ? g : ncfm_sampler_get_parameter (s, name), ref,
        key, scale);
  }

  /* one ascent step: parameters and momentum buffers after it */
  ncfm_sampler_ascent_step (s);
  g_assert_cmpuint (ncfm_sampler_get_step (s), ==, 1);
  g_autoptr (NcfmSafetensors) state = ncfm_safetensors_new ();
  ncfm_sampler_save (s, state, "psi/");
  for (guint i = 0; i < ncfm_sampler_get_n_parameters (s); i++) {
    const gchar *name = ncfm_sampler_get_parameter_name (s, i);
    NcfmTensor *g = ncfm_sampler_get_gradient (s, name);
    if (!g)
      continue;
    g_autofree float *hg = ncfm_test_tensor_host (g);
    g_assert_cmpfloat (max_abs (hg, (gsize) ncfm_tensor_get_numel (g)), ==, 0);   /* zeroed */
    g_autofree gchar *key = g_strconcat ("step.", name, NULL);
    ncfm_test_assert_tensor_matches ("psi ascent step", ncfm_sampler_get_parameter (s, name), ref, key, 0);
    g_autofree gchar *mkey = g_strconcat ("step.momentum.", name, NULL);
    g_autofree gchar *saved = g_strconcat ("psi/momentum.", name, NULL);
    gsize n;
    g_autofree gfloat *mom = ncfm_safetensors_dup_f32 (state, saved, &n, &error);
    g_assert_no_error (error);
    /* a Linear bias's buffer is its (zero) gradient's noise plus weight decay:
     * judged, like that gradient, on the scale of its weight's buffer */
    double scale = 0;
    if (is_linear_bias (name)) {
      g_autofree gchar *wkey = g_strndup (mkey, strlen (mkey) - 4);
      g_autofree gchar *wkey2 = g_strconcat (wkey, "weight", NULL);
      g_autofree gfloat *mw = ncfm_safetensors_dup_f32 (ref, wkey2, NULL, NULL);
      scale = max_abs (mw, (gsize) d * d);
    }
    ncfm_test_assert_matches ("psi momentum", mom, n, ref, mkey, scale);
  }
}

/* ---- learned: finite differences, ascent, init ---- */

typedef struct {
  NcfmSampler *s;
  NcfmTensor *noise;
  float *r;
  gsize n;
} PsiCtx;

static double
psi_loss (gpointer data)
{
  PsiCtx *c = data;
  g_autoptr (NcfmTensor) t = ncfm_sampler_sample_with_noise (c->s, c->noise, NULL);
  g_assert_nonnull (t);
  g_autofree float *h = ncfm_test_tensor_host (t);
  return ncfm_test_dot (h, c->r, c->n);
}

/* A small psi (d = 6, 8 noise rows) with non-trivial BatchNorm affine
 * parameters, fixed noise and a projection R; L = <t, R>. */
static NcfmSampler *
small_psi (NcfmDevice *dev, GRand *rand, guint m, guint d, PsiCtx *ctx)
{
  g_autoptr (GError) error = NULL;
  NcfmSampler *s = ncfm_sampler_new_learned (dev, m, d, 21, &error);
  g_assert_no_error (error);
  for (guint b = 0; b < 3; b++) {
    g_autofree gchar *w = g_strdup_printf ("net.%u.weight", 3 * b + 1);
    g_autofree gchar *bias = g_strdup_printf ("net.%u.bias", 3 * b + 1);
    ncfm_test_fill_uniform (rand, ncfm_tensor_f32 (ncfm_sampler_get_parameter (s, w)), d, 0.5, 1.5);
    ncfm_test_fill_uniform (rand, ncfm_tensor_f32 (ncfm_sampler_get_parameter (s, bias)), d,
        -0.2, 0.2);
  }
  guint rows = ncfm_sampler_get_noise_rows (s);
  g_autofree float *noise = g_new (float, rows * d);
  ncfm_test_fill_normal (rand, noise, rows * d, 1.0f);
  ctx->s = s;
  ctx->noise = tensor_from (dev, noise, rows, d);
  ctx->n = (gsize) m * d;
  ctx->r = ncfm_test_new_uniform (rand, ctx->n, -1, 1);
  return s;
}

static void
psi_backward (PsiCtx *ctx)
{
  g_autoptr (GError) error = NULL;
  NcfmDevice *dev = ncfm_sampler_get_device (ctx->s);
  g_autoptr (NcfmFreqDraw) draw = ncfm_sampler_draw (ctx->s, ctx->noise, FALSE, &error);
  g_autoptr (NcfmTensor) gt = tensor_from (dev, ctx->r, ncfm_sampler_get_num_freqs (ctx->s),
      ncfm_sampler_get_dim (ctx->s));
  g_assert_true (ncfm_sampler_backward (ctx->s, draw, gt, &error));
  g_assert_no_error (error);
}

/* Every accumulated gradient of sa is bitwise that of sb. */
static void
assert_same_gradients (NcfmSampler *sa, NcfmSampler *sb)
{
  for (guint i = 0; i < ncfm_sampler_get_n_parameters (sa); i++) {
    const gchar *name = ncfm_sampler_get_parameter_name (sa, i);
    NcfmTensor *g1 = ncfm_sampler_get_gradient (sa, name), *g2 = ncfm_sampler_get_gradient (sb, name);
    if (!g1)
      continue;
    g_autofree float *h1 = ncfm_test_tensor_host (g1), *h2 = ncfm_test_tensor_host (g2);
    g_assert_cmpmem (h1, ncfm_tensor_get_n_bytes (g1), h2, ncfm_tensor_get_n_bytes (g2));
  }
}

static void
psi_ctx_clear (PsiCtx *ctx)
{
  g_object_unref (ctx->noise);
  g_free (ctx->r);
}

/* Pipelining: dL/dpsi of a draw taken back after two newer draws equals
 * that of the same draw taken back at once (the records keep its values). */
static void
test_learned_in_flight (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GRand) ra = g_rand_new_with_seed (23), rb = g_rand_new_with_seed (23);
  PsiCtx a, b;
  g_autoptr (NcfmSampler) sa = small_psi (dev, ra, 64, 5, &a);
  g_autoptr (NcfmSampler) sb = small_psi (dev, rb, 64, 5, &b);
  g_autoptr (NcfmTensor) gt = tensor_from (dev, a.r, 64, 5);
  g_autoptr (NcfmFreqDraw) da = ncfm_sampler_draw (sa, NULL, FALSE, &error);
  NcfmTensor *ta = ncfm_freq_draw_get_t (da);
  g_assert_true (ncfm_sampler_backward (sa, da, gt, &error));
  g_autoptr (NcfmFreqDraw) db = ncfm_sampler_draw (sb, NULL, FALSE, &error);
  NcfmTensor *tb = ncfm_freq_draw_get_t (db);
  g_autoptr (NcfmTensor) tb2 = ncfm_sampler_sample (sb, &error);
  g_autoptr (NcfmTensor) tb3 = ncfm_sampler_sample (sb, &error);
  g_autofree float *ha = ncfm_test_tensor_host (ta), *hb = ncfm_test_tensor_host (tb);
  g_assert_cmpmem (ha, 64 * 5 * 4, hb, 64 * 5 * 4);
  g_assert_true (ncfm_sampler_backward (sb, db, gt, &error));
  g_assert_no_error (error);
  assert_same_gradients (sa, sb);
  psi_ctx_clear (&a);
  psi_ctx_clear (&b);
}

/* A distinct draw is the first M/16 rows of the tiled draw from the same
 * state, advances the stream alike, and its backward with the sum of the
 * 16 tiles' dL/dt (summed in the order backward sums them) gives bitwise
 * the gradients of the tiled draw's backward.  A Gaussian sampler's distinct
 * draw is its whole draw. */
static void
test_learned_distinct (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GRand) ra = g_rand_new_with_seed (29), rb = g_rand_new_with_seed (29);
  PsiCtx a, b;
  g_autoptr (NcfmSampler) sa = small_psi (dev, ra, 64, 5, &a);
  g_autoptr (NcfmSampler) sb = small_psi (dev, rb, 64, 5, &b);
  g_assert_cmpuint (ncfm_sampler_get_distinct_freqs (sb), ==, 4);
  g_autoptr (NcfmFreqDraw) da = ncfm_sampler_draw (sa, NULL, FALSE, &error);
  g_autoptr (NcfmFreqDraw) db = ncfm_sampler_draw (sb, NULL, TRUE, &error);
  NcfmTensor *ta = ncfm_freq_draw_get_t (da), *tb = ncfm_freq_draw_get_t (db);
  g_assert_no_error (error);
  const gint64 dshape[2] = { 4, 5 };
  g_assert_true (ncfm_tensor_has_shape (tb, dshape, 2));
  g_autofree float *ha = ncfm_test_tensor_host (ta), *hb = ncfm_test_tensor_host (tb);
  g_assert_cmpmem (ha, 4 * 5 * 4, hb, 4 * 5 * 4);

  g_autoptr (NcfmTensor) gt = tensor_from (dev, a.r, 64, 5);
  float sum[4 * 5];
  memcpy (sum, a.r, sizeof sum);
  for (guint k = 1; k < 16; k++)
    for (guint i = 0; i < 4 * 5; i++)
      sum[i] = sum[i] + a.r[k * 4 * 5 + i];
  g_autoptr (NcfmTensor) gd = tensor_from (dev, sum, 4, 5);
  g_assert_true (ncfm_sampler_backward (sa, da, gt, &error));
  /* the tiled gradient's shape is not a distinct draw's */
  g_assert_false (ncfm_sampler_backward (sb, db, gt, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_true (ncfm_sampler_backward (sb, db, gd, &error));
  g_assert_no_error (error);
  assert_same_gradients (sa, sb);
  /* the streams advanced alike; with given noise too */
  g_autoptr (NcfmTensor) tb2 = ncfm_sampler_sample_distinct (sb, b.noise, &error);
  g_autoptr (NcfmTensor) ta3 = ncfm_sampler_sample_with_noise (sa, a.noise, &error);
  g_autofree float *ha3 = ncfm_test_tensor_host (ta3), *hb2 = ncfm_test_tensor_host (tb2);
  g_assert_cmpmem (ha3, 4 * 5 * 4, hb2, 4 * 5 * 4);
  g_autoptr (NcfmTensor) ta4 = ncfm_sampler_sample (sa, &error);
  g_autoptr (NcfmTensor) tb4 = ncfm_sampler_sample_distinct (sb, NULL, &error);
  g_autofree float *ha4 = ncfm_test_tensor_host (ta4), *hb4 = ncfm_test_tensor_host (tb4);
  g_assert_cmpmem (ha4, 4 * 5 * 4, hb4, 4 * 5 * 4);

  g_autoptr (NcfmSampler) ga = ncfm_sampler_new_gaussian (dev, 12, 3, 2.0f, 5, &error);
  g_autoptr (NcfmSampler) gb = ncfm_sampler_new_gaussian (dev, 12, 3, 2.0f, 5, &error);
  g_assert_cmpuint (ncfm_sampler_get_distinct_freqs (gb), ==, 12);
  g_autoptr (NcfmTensor) g1 = ncfm_sampler_sample (ga, &error);
  g_autoptr (NcfmTensor) g2 = ncfm_sampler_sample_distinct (gb, NULL, &error);
  g_autofree float *hg1 = ncfm_test_tensor_host (g1), *hg2 = ncfm_test_tensor_host (g2);
  g_assert_cmpmem (hg1, 12 * 3 * 4, hg2, 12 * 3 * 4);
  psi_ctx_clear (&a);
  psi_ctx_clear (&b);
}

static void
test_learned_gradcheck (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (17);
  PsiCtx ctx;
  g_autoptr (NcfmSampler) s = small_psi (dev, rand, 128, 6, &ctx);
  psi_backward (&ctx);
  /* L = <t, R> sums 768 terms of |t| <= 1 (L ~ 10); each t carries float32
   * rounding amplified by three BatchNorm 1/std factors, so L is exact to
   * ~1e-5, which the 2h = 2e-2 quotient turns into ~5e-4 noise; entries are
   * judged on at least 5% of the largest gradient (~10 here), to 5%.  A wrong
   * formula is off by O(1); the PyTorch fixture checks these gradients to
   * 1e-4, and its float32 gradients agree with a float64 run to ~1e-6. */
  for (guint i = 0; i < ncfm_sampler_get_n_parameters (s); i++) {
    const gchar *name = ncfm_sampler_get_parameter_name (s, i);
    NcfmTensor *g = ncfm_sampler_get_gradient (s, name);
    if (!g || is_linear_bias (name))    /* exactly zero: only noise to measure */
      continue;
    NcfmTensor *p = ncfm_sampler_get_parameter (s, name);
    g_autofree float *gh = ncfm_test_tensor_host (g);
    g_autofree gchar *what = g_strdup_printf ("psi %s", name);
    ncfm_test_gradcheck_floor (what, ncfm_tensor_f32 (p), gh, ncfm_tensor_get_numel (p),
        psi_loss, &ctx, 1e-2, 5e-2, 12, rand, 5e-2);
  }
  /* gradients accumulate over backward calls */
  g_autofree float *once = ncfm_test_tensor_host (ncfm_sampler_get_gradient (s, "net.3.weight"));
  psi_backward (&ctx);
  g_autofree float *twice = ncfm_test_tensor_host (ncfm_sampler_get_gradient (s, "net.3.weight"));
  for (guint i = 0; i < 36; i++)
    g_assert_cmpfloat (fabs (twice[i] - 2 * once[i]), <=, 1e-5 * fabs (once[i]) + 1e-6);
  ncfm_sampler_zero_grad (s);
  g_autofree float *zero = ncfm_test_tensor_host (ncfm_sampler_get_gradient (s, "net.3.weight"));
  g_assert_cmpfloat (max_abs (zero, 36), ==, 0);
  psi_ctx_clear (&ctx);
}

static void
test_learned_ascent (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (23);
  PsiCtx ctx;
  g_autoptr (NcfmSampler) s = small_psi (dev, rand, 64, 6, &ctx);
  gfloat lr, mom, wd;
  ncfm_sampler_get_optimizer (s, &lr, &mom, &wd);
  g_assert_cmpfloat (lr, ==, 1e-3f);
  g_assert_cmpfloat (mom, ==, 0.5f);
  g_assert_cmpfloat (wd, ==, 5e-4f);
  g_assert_true (ncfm_sampler_set_optimizer (s, 1e-4f, 0.5f, 5e-4f, NULL));
  /* L(p - lr g') ~ L + lr |g|^2 to first order: every small step goes uphill */
  double prev = psi_loss (&ctx);
  for (guint k = 0; k < 5; k++) {
    psi_backward (&ctx);
    ncfm_sampler_ascent_step (s);
    double now = psi_loss (&ctx);
    g_test_message ("ascent step %u: L %.6f -> %.6f", k + 1, prev, now);
    g_assert_cmpfloat (now, >, prev);
    prev = now;
  }
  g_assert_cmpuint (ncfm_sampler_get_step (s), ==, 5);
  psi_ctx_clear (&ctx);
}

static void
test_learned_stream_and_init (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  NcfmBackend *be = ncfm_device_get_backend (dev);
  const guint m = 48, d = 10, rows = 3;
  g_autoptr (NcfmSampler) s = ncfm_sampler_new_learned (dev, m, d, 5, &error);
  g_autoptr (NcfmSampler) same = ncfm_sampler_new_learned (dev, m, d, 5, &error);
  g_autoptr (NcfmSampler) other = ncfm_sampler_new_learned (dev, m, d, 6, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ncfm_sampler_get_noise_rows (s), ==, rows);
  /* PyTorch's default init: Linear in +-1/sqrt(d), BatchNorm ones and zeros */
  g_autofree float *w = ncfm_test_tensor_host (ncfm_sampler_get_parameter (s, "net.6.weight"));
  g_autofree float *w2 = ncfm_test_tensor_host (ncfm_sampler_get_parameter (same, "net.6.weight"));
  g_autofree float *wo = ncfm_test_tensor_host (ncfm_sampler_get_parameter (other, "net.6.weight"));
  g_assert_cmpmem (w, d * d * 4, w2, d * d * 4);
  g_assert_true (memcmp (w, wo, d * d * 4) != 0);
  g_assert_cmpfloat (max_abs (w, d * d), <=, 1 / sqrt (d));
  g_assert_cmpfloat (max_abs (w, d * d), >, 0.5 / sqrt (d));
  g_autofree float *gamma = ncfm_test_tensor_host (ncfm_sampler_get_parameter (s, "net.4.weight"));
  g_autofree float *var = ncfm_test_tensor_host (ncfm_sampler_get_parameter (s, "net.7.running_var"));
  for (guint i = 0; i < d; i++)
    g_assert_true (gamma[i] == 1.0f && var[i] == 1.0f);
  g_assert_null (ncfm_sampler_get_parameter (s, "net.2.weight"));
  g_assert_null (ncfm_sampler_get_gradient (s, "net.1.running_mean"));

  /* a draw is psi of the next noise slice, tiled 16 times, in (-1, 1) */
  g_autoptr (NcfmTensor) t1 = ncfm_sampler_sample (s, &error);
  g_assert_no_error (error);
  g_autofree float *noise = g_new (float, rows * d);
  be->ops->fill_normal (be, rows * d, 5, 0, 1.0f, noise);
  g_autoptr (NcfmTensor) nt = tensor_from (dev, noise, rows, d);
  g_autoptr (NcfmTensor) t1b = ncfm_sampler_sample_with_noise (same, nt, &error);
  g_autofree float *h1 = ncfm_test_tensor_host (t1), *h1b = ncfm_test_tensor_host (t1b);
  g_assert_cmpmem (h1, m * d * 4, h1b, m * d * 4);
  for (guint k = 1; k < 16; k++)
    g_assert_cmpmem (h1, rows * d * 4, h1 + k * rows * d, rows * d * 4);
  g_assert_cmpfloat (max_abs (h1, m * d), <, 1);
  g_assert_cmpuint (ncfm_sampler_get_offset (s), ==, rows * d);
  g_autoptr (NcfmTensor) t2 = ncfm_sampler_sample (s, &error);
  g_autofree float *h2 = ncfm_test_tensor_host (t2);
  g_assert_true (memcmp (h1, h2, m * d * 4) != 0);
}

static void
test_learned_resume (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GRand) rand = g_rand_new_with_seed (31);
  const guint m = 64, d = 8;
  g_autoptr (NcfmSampler) s = ncfm_sampler_new_learned (dev, m, d, 77, &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_sampler_set_optimizer (s, 2e-3f, 0.6f, 1e-4f, NULL));
  g_autofree float *r = ncfm_test_new_uniform (rand, m * d, -1, 1);
  g_autoptr (NcfmTensor) gt = tensor_from (dev, r, m, d);
  /* two steps so momentum and running statistics are non-trivial */
  for (guint k = 0; k < 2; k++) {
    g_autoptr (NcfmFreqDraw) draw = ncfm_sampler_draw (s, NULL, FALSE, &error);
    g_assert_true (ncfm_sampler_backward (s, draw, gt, &error));
    ncfm_sampler_ascent_step (s);
  }
  g_autoptr (NcfmSafetensors) f = ncfm_safetensors_new ();
  ncfm_sampler_save (s, f, "sampler.");
  g_assert_true (ncfm_safetensors_contains (f, "sampler.momentum.net.0.weight"));
  g_assert_true (ncfm_safetensors_contains (f, "sampler.net.7.running_var"));
  g_assert_cmpstr (ncfm_safetensors_get_metadata (f, "sampler.kind"), ==, "learned");
  g_assert_cmpstr (ncfm_safetensors_get_metadata (f, "sampler.step"), ==, "2");
  g_autoptr (GBytes) bytes = ncfm_safetensors_serialize (f);
  g_autoptr (NcfmSafetensors) loaded = ncfm_safetensors_load_from_bytes (bytes, "state", &error);
  g_autoptr (NcfmSampler) back = ncfm_sampler_new_from_safetensors (dev, loaded, "sampler.",
      &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ncfm_sampler_get_step (back), ==, 2);
  gfloat lr, mom, wd;
  ncfm_sampler_get_optimizer (back, &lr, &mom, &wd);
  g_assert_true (lr == 2e-3f && mom == 0.6f && wd == 1e-4f);

  /* the next draw, step and draw after it are identical, bit for bit */
  NcfmSampler *both[2] = { s, back };
  float *draws[2][2];
  float *w[2];
  for (guint k = 0; k < 2; k++) {
    g_autoptr (NcfmFreqDraw) draw = ncfm_sampler_draw (both[k], NULL, FALSE, &error);
    draws[k][0] = ncfm_test_tensor_host (ncfm_freq_draw_get_t (draw));
    g_assert_true (ncfm_sampler_backward (both[k], draw, gt, &error));
    ncfm_sampler_ascent_step (both[k]);
    g_autoptr (NcfmTensor) t2 = ncfm_sampler_sample (both[k], &error);
    draws[k][1] = ncfm_test_tensor_host (t2);
    w[k] = ncfm_test_tensor_host (ncfm_sampler_get_parameter (both[k], "net.3.weight"));
  }
  g_assert_cmpmem (draws[0][0], m * d * 4, draws[1][0], m * d * 4);
  g_assert_cmpmem (draws[0][1], m * d * 4, draws[1][1], m * d * 4);
  g_assert_cmpmem (w[0], d * d * 4, w[1], d * d * 4);
  g_autoptr (NcfmSafetensors) fa = ncfm_safetensors_new ();
  g_autoptr (NcfmSafetensors) fb = ncfm_safetensors_new ();
  ncfm_sampler_save (s, fa, NULL);
  ncfm_sampler_save (back, fb, NULL);
  g_autoptr (GBytes) ba = ncfm_safetensors_serialize (fa);
  g_autoptr (GBytes) bb = ncfm_safetensors_serialize (fb);
  g_assert_true (g_bytes_equal (ba, bb));
  for (guint k = 0; k < 2; k++) {
    g_free (draws[k][0]);
    g_free (draws[k][1]);
    g_free (w[k]);
  }
}

/* ---- errors ---- */

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint m = 32, d = 4;
  g_assert_null (ncfm_sampler_new_learned (dev, 40, d, 1, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "multiple of 16");
  g_assert_null (ncfm_sampler_new_learned (dev, 16, d, 1, &error));  /* one noise row */
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "num_freqs 16");
  g_assert_null (ncfm_sampler_new_gaussian (dev, 8, 0, 1.0f, 1, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "dim 0");
  g_assert_null (ncfm_sampler_new_gaussian (dev, 8, 2, NAN, 1, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "sigma");

  g_autoptr (NcfmSampler) s = ncfm_sampler_new_learned (dev, m, d, 1, &error);
  g_assert_no_error (error);
  g_autoptr (NcfmFreqDraw) old = ncfm_sampler_draw (s, NULL, FALSE, &error);
  g_autoptr (NcfmFreqDraw) t = ncfm_sampler_draw (s, NULL, FALSE, &error);
  g_autoptr (NcfmTensor) good = ncfm_tensor_new (dev, NCFM_DTYPE_F32, (gint64[]) { m, d }, 2, NULL);
  g_autoptr (NcfmTensor) bad = ncfm_tensor_new (dev, NCFM_DTYPE_F32, (gint64[]) { m / 16, d }, 2,
      NULL);
  g_assert_false (ncfm_sampler_backward (s, t, bad, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_SHAPE, "grad_t (dL/dt) must be F32 [32, 4]");
  g_assert_true (ncfm_sampler_backward (s, old, good, &error));   /* still in flight */
  ncfm_sampler_ascent_step (s);    /* draws in flight may still come back */
  g_assert_true (ncfm_sampler_backward (s, t, good, &error));
  /* another sampler's draw, and a draw from before a state was loaded */
  g_autoptr (NcfmSampler) other = ncfm_sampler_new_learned (dev, m, d, 1, &error);
  g_autoptr (NcfmFreqDraw) theirs = ncfm_sampler_draw (other, NULL, FALSE, &error);
  g_assert_false (ncfm_sampler_backward (s, theirs, good, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "not one of its draws");
  g_autoptr (NcfmSafetensors) state = ncfm_safetensors_new ();
  ncfm_sampler_save (s, state, NULL);
  g_assert_true (ncfm_sampler_load_state (s, state, NULL, &error));
  g_assert_false (ncfm_sampler_backward (s, t, good, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "drawn before its state was loaded");
  g_assert_null (ncfm_sampler_sample_with_noise (s, good, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_SHAPE, "noise must be F32 [2, 4]");

  /* loading: a missing tensor, a wrong shape, missing or bad metadata */
  g_autoptr (NcfmSafetensors) f = ncfm_safetensors_new ();
  ncfm_sampler_save (s, f, "p.");
  g_assert_true (ncfm_safetensors_remove (f, "p.net.3.bias"));
  g_assert_null (ncfm_sampler_new_from_safetensors (dev, f, "p.", &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_WEIGHTS,
      "'p.net.3.bias' of the learned sampler is missing");
  ncfm_sampler_save (s, f, "p.");
  g_assert_true (ncfm_safetensors_remove (f, "p.momentum.net.7.weight"));
  g_assert_null (ncfm_sampler_new_from_safetensors (dev, f, "p.", &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_WEIGHTS, "p.momentum.net.7.weight");
  ncfm_sampler_save (s, f, "p.");
  ncfm_safetensors_set (f, "p.net.4.weight", NCFM_DTYPE_F32, (gint64[]) { d + 1 }, 1,
      (float[8]) { 0 }, (d + 1) * 4);
  g_assert_null (ncfm_sampler_new_from_safetensors (dev, f, "p.", &error));
  ncfm_test_assert_error (&error, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_SHAPE, "p.net.4.weight");
  g_assert_null (ncfm_sampler_new_from_safetensors (dev, f, "q.", &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_WEIGHTS, "metadata 'q.kind' is missing");
  ncfm_safetensors_set_metadata (f, "p.offset", "-3");
  g_assert_null (ncfm_sampler_new_from_safetensors (dev, f, "p.", &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_WEIGHTS, "metadata 'p.offset' is '-3'");
  ncfm_safetensors_set_metadata (f, "p.kind", "uniform");
  g_assert_null (ncfm_sampler_new_from_safetensors (dev, f, "p.", &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_WEIGHTS, "'uniform'");
  ncfm_sampler_save (s, f, "p.");
  ncfm_safetensors_set_metadata (f, "p.num_freqs", "24");
  g_assert_null (ncfm_sampler_new_from_safetensors (dev, f, "p.", &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "multiple of 16");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sampler/gaussian/moments", test_gaussian_moments);
  g_test_add_func ("/sampler/gaussian/stream", test_gaussian_stream);
  g_test_add_func ("/sampler/learned/torch", test_learned_torch);
  g_test_add_func ("/sampler/learned/gradcheck", test_learned_gradcheck);
  g_test_add_func ("/sampler/learned/in-flight", test_learned_in_flight);
  g_test_add_func ("/sampler/learned/distinct", test_learned_distinct);
  g_test_add_func ("/sampler/learned/ascent", test_learned_ascent);
  g_test_add_func ("/sampler/learned/stream-and-init", test_learned_stream_and_init);
  g_test_add_func ("/sampler/learned/resume", test_learned_resume);
  g_test_add_func ("/sampler/errors", test_errors);
  return g_test_run ();
}
