/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-sampler-sorf.c: the structured (SORF) sampler.  Row norms have the law
 * of sigma N(0, I_d)'s rows (sigma chi_d: mean and variance), rows of a block
 * are orthogonal when d is a power of two, d not a power of two and M not a
 * multiple of the block, determinism by (seed, draw index) and resumption,
 * and the error messages. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "libncfm-test.h"

/* E[chi_k] = sqrt(2) Gamma((k + 1) / 2) / Gamma(k / 2); Var = k - E^2. */
static double
chi_mean (guint k)
{
  return sqrt (2.0) * exp (lgamma ((k + 1) / 2.0) - lgamma (k / 2.0));
}

static double
row_norm (const float *row, guint d)
{
  double sq = 0;
  for (guint j = 0; j < d; j++)
    sq += (double) row[j] * row[j];
  return sqrt (sq);
}

static double
row_cosine (const float *a, const float *b, guint d)
{
  double dot = 0;
  for (guint j = 0; j < d; j++)
    dot += (double) a[j] * b[j];
  return dot / (row_norm (a, d) * row_norm (b, d));
}

static float *
draw_host (NcfmSampler *s, guint m, guint d)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) t = ncfm_sampler_sample (s, &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_tensor_has_shape (t, (gint64[]) { m, d }, 2));
  return ncfm_test_tensor_host (t);
}

/* The norms of the M rows are sigma chi_d: mean and variance within 5
 * standard errors (the norms are independent: the scale s_r is drawn per
 * row and u_r / ||u_r|| has norm 1).  A sampler that fixed every norm at
 * sigma sqrt(d), as the SORF paper's scaling does, fails the variance. */
static void
assert_norm_law (const float *t, guint m, guint d, double sigma)
{
  const double mu = sigma * chi_mean (d), var = sigma * sigma * d - mu * mu;
  double sum = 0, sq = 0;
  for (guint r = 0; r < m; r++) {
    double n = row_norm (t + (gsize) r * d, d);
    g_assert_true (isfinite (n));
    sum += n;
    sq += n * n;
  }
  double mean = sum / m, v = sq / m - mean * mean;
  g_test_message ("d %u: norm mean %.4f (chi %.4f), variance %.4f (chi %.4f) over %u rows", d,
      mean, mu, v, var, m);
  g_assert_cmpfloat (fabs (mean - mu), <, 5 * sqrt (var / m));
  /* sd of a sample variance: var sqrt((kurtosis - 1) / n), kurtosis < 4 for chi */
  g_assert_cmpfloat (fabs (v - var), <, 5 * var * sqrt (3.0 / m));
}

static void
test_norms_and_orthogonality (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint m = 4096, d = 16;
  const double sigma = 1.5;
  g_autoptr (NcfmSampler) s = ncfm_sampler_new_structured (dev, m, d, sigma, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ncfm_sampler_get_kind (s), ==, NCFM_SAMPLER_STRUCTURED);
  g_assert_cmpuint (ncfm_sampler_get_distinct_freqs (s), ==, m);
  g_assert_cmpuint (ncfm_sampler_get_noise_rows (s), ==, 0);
  g_autofree float *t = draw_host (s, m, d);
  assert_norm_law (t, m, d, sigma);

  /* rows of one block (16 rows) are orthogonal to float rounding; rows of
   * two blocks are not (their largest |cosine| is far from 0) */
  double within = 0, across = 0;
  for (guint b = 0; b < m / d; b++)
    for (guint i = 0; i < d; i++)
      for (guint j = i + 1; j < d; j++)
        within = fmax (within, fabs (row_cosine (t + (gsize) (b * d + i) * d,
                    t + (gsize) (b * d + j) * d, d)));
  for (guint i = 0; i < d; i++)
    across = fmax (across, fabs (row_cosine (t + (gsize) i * d, t + (gsize) (d + i) * d, d)));
  g_test_message ("largest |cosine| within a block %.2e, across two blocks %.3f", within, across);
  g_assert_cmpfloat (within, <, 16 * d * FLT_EPSILON);
  g_assert_cmpfloat (across, >, 0.1);

  /* entries: mean 0, variance sigma^2 as for sigma N(0, I) (10 %: the
   * entries of one row are dependent) */
  double sum = 0, sq = 0;
  for (guint i = 0; i < m * d; i++) {
    sum += t[i];
    sq += (double) t[i] * t[i];
  }
  g_assert_cmpfloat (fabs (sum / (m * d)), <, 0.05 * sigma);
  g_assert_cmpfloat (fabs (sq / (m * d) / (sigma * sigma) - 1), <, 0.1);
}

/* d = 20 pads to p = 32 and M = 4003 ends with a block of 3 rows; d = 1 and
 * d = 3 are the smallest cases (a row of B may lie in the padding for d = 3). */
static void
test_odd_sizes (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint dims[] = { 20, 1, 3 };
  for (guint k = 0; k < G_N_ELEMENTS (dims); k++) {
    g_autoptr (GError) error = NULL;
    const guint m = 4003, d = dims[k];
    g_autoptr (NcfmSampler) s = ncfm_sampler_new_structured (dev, m, d, 1.0f, 11, &error);
    g_assert_no_error (error);
    g_autofree float *t = draw_host (s, m, d);
    assert_norm_law (t, m, d, 1.0);
  }
  /* fewer rows than one block */
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmSampler) small = ncfm_sampler_new_structured (dev, 5, 64, 1.0f, 11, &error);
  g_assert_no_error (error);
  g_autofree float *t = draw_host (small, 5, 64);
  for (guint i = 0; i < 5; i++)
    for (guint j = i + 1; j < 5; j++)
      g_assert_cmpfloat (fabs (row_cosine (t + i * 64, t + j * 64, 64)), <, 1e-5);
}

/* Draw k is a function of (seed, k): the same for two samplers of the same
 * seed, another for the next k or another seed, and a saved sampler
 * continues with the draw the original would have made next. */
static void
test_determinism (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint m = 40, d = 12;
  const gsize bytes = m * d * sizeof (float);
  g_autoptr (NcfmSampler) a = ncfm_sampler_new_structured (dev, m, d, 1.0f, 5, &error);
  g_autoptr (NcfmSampler) b = ncfm_sampler_new_structured (dev, m, d, 1.0f, 5, &error);
  g_autoptr (NcfmSampler) c = ncfm_sampler_new_structured (dev, m, d, 1.0f, 6, &error);
  g_assert_no_error (error);
  g_autofree float *a0 = draw_host (a, m, d), *a1 = draw_host (a, m, d);
  g_autofree float *b0 = draw_host (b, m, d), *c0 = draw_host (c, m, d);
  g_assert_cmpmem (a0, bytes, b0, bytes);
  g_assert_true (memcmp (a0, a1, bytes) != 0);
  g_assert_true (memcmp (a0, c0, bytes) != 0);
  g_assert_cmpuint (ncfm_sampler_get_offset (a), ==, 2);

  g_autoptr (NcfmSafetensors) f = ncfm_safetensors_new ();
  ncfm_sampler_save (a, f, "s.");
  g_assert_cmpstr (ncfm_safetensors_get_metadata (f, "s.kind"), ==, "structured");
  g_autoptr (NcfmSampler) back = ncfm_sampler_new_from_safetensors (dev, f, "s.", &error);
  g_assert_no_error (error);
  g_assert_cmpint (ncfm_sampler_get_kind (back), ==, NCFM_SAMPLER_STRUCTURED);
  g_autofree float *a2 = draw_host (a, m, d), *r2 = draw_host (back, m, d);
  g_assert_cmpmem (a2, bytes, r2, bytes);
  /* load_state rewinds b (one draw made) to a's position */
  g_assert_true (ncfm_sampler_load_state (b, f, "s.", &error));
  g_assert_no_error (error);
  g_autofree float *b2 = draw_host (b, m, d);
  g_assert_cmpmem (a2, bytes, b2, bytes);
  /* a distinct draw is the whole draw */
  g_autoptr (NcfmFreqDraw) dd = ncfm_sampler_draw (back, NULL, TRUE, &error);
  g_assert_no_error (error);
  g_autofree float *a3 = draw_host (a, m, d), *r3 = ncfm_test_tensor_host (
      ncfm_freq_draw_get_t (dd));
  g_assert_cmpmem (a3, bytes, r3, bytes);
  /* seek_draw (k) makes the next draw the k-th of a fresh sampler (ncfmcf numbers
   * draws by batch offset: class shards must draw the same t) */
  g_autoptr (NcfmSampler) s = ncfm_sampler_new_structured (dev, m, d, 1.0f, 5, &error);
  ncfm_sampler_seek_draw (s, 1);
  g_autofree float *s1 = draw_host (s, m, d);
  g_assert_cmpmem (a1, bytes, s1, bytes);
  ncfm_sampler_seek_draw (s, 0);
  g_autofree float *s0 = draw_host (s, m, d);
  g_assert_cmpmem (a0, bytes, s0, bytes);
}

/* ncfm_freq_draw_phases: the fast path of a structured draw equals x t^T by
 * GEMM up to rounding (3 log2 p butterfly stages on values up to ||x|| ||t||);
 * a Gaussian draw and a structured draw with a row in the padding (d = 3)
 * have no structure and take the GEMM; wrong shapes are refused by name. */
static void
test_phases (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  NcfmBackend *be = ncfm_device_get_backend (dev);
  const guint n = 7, d = 24, m = 80;
  g_autoptr (NcfmSampler) s = ncfm_sampler_new_structured (dev, m, d, 1.0f, 4, &error);
  g_autoptr (NcfmSampler) g = ncfm_sampler_new_gaussian (dev, m, d, 1.0f, 4, &error);
  g_autoptr (NcfmSampler) small = ncfm_sampler_new_structured (dev, 4003, 3, 1.0f, 4, &error);
  g_assert_no_error (error);
  g_autoptr (NcfmFreqDraw) sd = ncfm_sampler_draw (s, NULL, TRUE, &error);
  g_autoptr (NcfmFreqDraw) gd = ncfm_sampler_draw (g, NULL, TRUE, &error);
  g_autoptr (NcfmFreqDraw) smd = ncfm_sampler_draw (small, NULL, TRUE, &error);
  g_assert_no_error (error);
  NcfmTensor *signs, *scale;
  g_assert_true (ncfm_freq_draw_get_structure (sd, &signs, &scale));
  g_assert_true (ncfm_tensor_has_shape (signs, (gint64[]) { 3, 3 * 32 }, 2));
  g_assert_true (ncfm_tensor_has_shape (scale, (gint64[]) { m, 1 }, 2));
  g_assert_false (ncfm_freq_draw_get_structure (gd, &signs, &scale));
  g_assert_null (signs);
  g_assert_false (ncfm_freq_draw_get_structure (smd, NULL, NULL));

  g_autoptr (NcfmTensor) x = ncfm_tensor_new (dev, NCFM_DTYPE_F32, (gint64[]) { n, d }, 2, NULL);
  be->ops->fill_normal (be, n * d, 8, 0, 1.0f, ncfm_tensor_f32 (x));
  g_autoptr (NcfmTensor) fast = ncfm_tensor_new (dev, NCFM_DTYPE_F32, (gint64[]) { n, m }, 2,
      NULL);
  g_autofree float *want = g_new (float, n * m);
  NcfmFreqDraw *draws[] = { sd, gd };
  for (guint k = 0; k < G_N_ELEMENTS (draws); k++) {
    g_assert_true (ncfm_freq_draw_phases (draws[k], x, fast, &error));
    g_assert_no_error (error);
    be->ops->linear_forward (be, n, d, m, ncfm_tensor_f32 (x),
        ncfm_tensor_f32 (ncfm_freq_draw_get_t (draws[k])), NULL, want);
    g_autofree float *got = ncfm_test_tensor_host (fast);
    double worst = 0;
    for (guint i = 0; i < n * m; i++)
      worst = fmax (worst, fabs (got[i] - want[i]));
    g_test_message ("draw %u: phases vs GEMM max |difference| %.2e", k, worst);
    /* |phase| <= ||x|| ||t|| ~ 5 * 5; 16 log2(p) roundings of that scale */
    g_assert_cmpfloat (worst, <, 16 * 5 * FLT_EPSILON * 25);
  }
  g_autoptr (NcfmTensor) bad = ncfm_tensor_new (dev, NCFM_DTYPE_F32, (gint64[]) { n, m - 1 }, 2,
      NULL);
  g_assert_false (ncfm_freq_draw_phases (sd, x, bad, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_SHAPE,
      "draw phases: phase must be F32 [7, 80]");
  g_assert_false (ncfm_freq_draw_phases (sd, bad, fast, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_SHAPE,
      "draw phases: x (features) must be F32 [7, 24]");
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  NcfmSamplerKind kind;
  g_assert_true (ncfm_sampler_kind_from_string ("structured", &kind));
  g_assert_cmpint (kind, ==, NCFM_SAMPLER_STRUCTURED);
  g_assert_cmpstr (ncfm_sampler_kind_to_string (NCFM_SAMPLER_STRUCTURED), ==, "structured");

  g_assert_null (ncfm_sampler_new_structured (dev, 0, 8, 1.0f, 1, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
      "invalid structured sampler: num_freqs 0");
  g_assert_null (ncfm_sampler_new_structured (dev, 8, 0, 1.0f, 1, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "dim 0 (1..65536)");
  g_assert_null (ncfm_sampler_new_structured (dev, 8, 65537, 1.0f, 1, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "dim 65537");
  g_assert_null (ncfm_sampler_new_structured (dev, 8, 4, NAN, 1, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "sigma nan");
  g_assert_null (ncfm_sampler_new_structured (dev, 8, 4, 0.0f, 1, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "sigma 0");

  /* no noise; backward checks its arguments and has nothing to learn */
  g_autoptr (NcfmSampler) s = ncfm_sampler_new_structured (dev, 8, 4, 1.0f, 1, &error);
  g_assert_no_error (error);
  g_autoptr (NcfmTensor) good = ncfm_tensor_new (dev, NCFM_DTYPE_F32, (gint64[]) { 8, 4 }, 2,
      NULL);
  g_autoptr (NcfmTensor) bad = ncfm_tensor_new (dev, NCFM_DTYPE_F32, (gint64[]) { 8, 3 }, 2,
      NULL);
  g_assert_null (ncfm_sampler_sample_with_noise (s, good, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "takes no noise");
  g_assert_cmpuint (ncfm_sampler_get_offset (s), ==, 0);
  g_autoptr (NcfmFreqDraw) draw = ncfm_sampler_draw (s, NULL, TRUE, &error);
  g_assert_no_error (error);
  g_assert_false (ncfm_sampler_backward (s, draw, bad, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_SHAPE,
      "structured sampler: grad_t (dL/dt) must be F32 [8, 4]");
  g_assert_true (ncfm_sampler_backward (s, draw, good, &error));
  g_assert_no_error (error);
  ncfm_sampler_ascent_step (s);
  g_assert_cmpuint (ncfm_sampler_get_step (s), ==, 0);

  /* a saved structured sampler with a bad sigma */
  g_autoptr (NcfmSafetensors) f = ncfm_safetensors_new ();
  ncfm_sampler_save (s, f, NULL);
  ncfm_safetensors_set_metadata (f, "sigma", "0");
  g_assert_null (ncfm_sampler_new_from_safetensors (dev, f, NULL, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
      "invalid structured sampler");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sampler/structured/norms-and-orthogonality", test_norms_and_orthogonality);
  g_test_add_func ("/sampler/structured/odd-sizes", test_odd_sizes);
  g_test_add_func ("/sampler/structured/determinism", test_determinism);
  g_test_add_func ("/sampler/structured/phases", test_phases);
  g_test_add_func ("/sampler/structured/errors", test_errors);
  return g_test_run ();
}
