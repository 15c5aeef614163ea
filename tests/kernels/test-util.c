/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "test-util.h"

#include <math.h>
#include <string.h>

NcfmBackend *
ncfm_test_cpu_backend (void)
{
  char err[256] = "";
  NcfmBackend *be = ncfm_backend_new ("cpu", err, sizeof err, NULL, 0);
  if (!be)
    g_error ("cannot create the CPU backend: %s", err);
  return be;
}

NcfmBackend *
ncfm_test_cuda_backend (void)
{
  if (ncfm_backend_cuda_device_count () == 0)
    return NULL;
  char err[256] = "";
  NcfmBackend *be = ncfm_backend_new ("cuda:0", err, sizeof err, NULL, 0);
  if (!be)
    g_printerr ("CUDA device present but unusable: %s\n", err);
  return be;
}

void
ncfm_test_fill_uniform (GRand *rand, float *x, size_t n, float lo, float hi)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rand, lo, hi);
}

void
ncfm_test_fill_normal (GRand *rand, float *x, size_t n, float stddev)
{
  for (size_t i = 0; i < n; i++) {
    double u1 = g_rand_double_range (rand, 1e-12, 1.0);
    double u2 = g_rand_double (rand);
    x[i] = (float) (stddev * sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2));
  }
}

float *
ncfm_test_new_uniform (GRand *rand, size_t n, float lo, float hi)
{
  float *x = g_new (float, n ? n : 1);
  ncfm_test_fill_uniform (rand, x, n, lo, hi);
  return x;
}

double
ncfm_test_dot (const float *a, const float *b, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double) a[i] * (double) b[i];
  return s;
}

double
ncfm_test_assert_close (const char *what, const float *got, const float *want, size_t n,
    double rtol, double atol)
{
  double worst_excess = -1.0, max_abs = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs ((double) got[i] - (double) want[i]);
    if (!(d == d) || isnan (got[i]) != isnan (want[i])) {
      worst = i;
      worst_excess = INFINITY;
      break;
    }
    if (d > max_abs)
      max_abs = d;
    double excess = d - (atol + rtol * fabs ((double) want[i]));
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (n && worst_excess > 0.0)
    g_error ("%s: element %zu: got %.9g, want %.9g (max |diff| %.3g, rtol %.1g, atol %.1g)",
        what, worst, got[worst], want[worst], max_abs, rtol, atol);
  g_test_message ("%s: max |diff| %.3g over %zu values", what, max_abs, n);
  return max_abs;
}

static double
central_difference (float *x, size_t i, double h, NcfmTestLossFunc loss, gpointer user_data)
{
  float saved = x[i];
  x[i] = (float) (saved + h);
  double hp = (double) x[i] - saved;   /* the step actually representable */
  double lp = loss (user_data);
  x[i] = (float) (saved - h);
  double hm = saved - (double) x[i];
  double lm = loss (user_data);
  x[i] = saved;
  return (lp - lm) / (hp + hm);
}

void
ncfm_test_gradcheck (const char *what, float *x, const float *analytic, size_t n,
    NcfmTestLossFunc loss, gpointer user_data, double h, double tol, size_t max_points,
    GRand *rand)
{
  ncfm_test_gradcheck_floor (what, x, analytic, n, loss, user_data, h, tol, max_points, rand,
      1e-3);
}

void
ncfm_test_gradcheck_floor (const char *what, float *x, const float *analytic, size_t n,
    NcfmTestLossFunc loss, gpointer user_data, double h, double tol, size_t max_points,
    GRand *rand, double floor_fraction)
{
  double gmax = 0.0;
  for (size_t i = 0; i < n; i++)
    gmax = fmax (gmax, fabs (analytic[i]));
  double floor = floor_fraction * gmax + 1e-12;
  double worst_rel = 0.0;

  size_t points = n <= max_points ? n : max_points;
  for (size_t p = 0; p < points; p++) {
    size_t i = n <= max_points ? p : (size_t) g_rand_int_range (rand, 0, (gint32) n);
    /* A ReLU kink (or a max, a clamp) inside [x - h, x + h] spoils the
     * difference quotient at that one element; a smaller step moves the kink
     * out.  So the step shrinks (h, h/4, ... h/256) until the two agree: a wrong
     * formula disagrees at every step; rounding noise grows as h shrinks. */
    double ana = analytic[i], num = 0.0, rel = INFINITY;
    for (double step = h; step >= h / 256.0 && rel > tol; step /= 4.0) {
      double n_step = central_difference (x, i, step, loss, user_data);
      double sc = fmax (fmax (fabs (n_step), fabs (ana)), floor);
      if (fabs (n_step - ana) / sc < rel) {
        rel = fabs (n_step - ana) / sc;
        num = n_step;
      }
    }
    worst_rel = fmax (worst_rel, rel);
    if (rel > tol)
      g_error ("%s: d/dx[%zu]: analytic %.8g, finite difference %.8g (rel err %.3g > %.1g)",
          what, i, ana, num, rel, tol);
  }

  /* one random direction over every element */
  float *saved = g_memdup2 (x, n * sizeof (float));
  float *v = g_new (float, n);
  ncfm_test_fill_uniform (rand, v, n, -1.0f, 1.0f);
  double ana_dir = ncfm_test_dot (analytic, v, n);
  /* <g, v> of a random v is ~ |g| |v| / sqrt(n) but can cancel to near 0:
   * judge it on a tenth of that typical size, not on its own rounding noise */
  double dir_floor = 0.1 * sqrt (ncfm_test_dot (analytic, analytic, n))
      * sqrt (ncfm_test_dot (v, v, n)) / sqrt ((double) n) + 1e-12;
  double num_dir = 0.0, dir_rel = INFINITY;
  /* moving every element at once crosses many kinks: shrink the step as above */
  for (double step = h; step >= h / 256.0 && dir_rel > tol; step /= 4.0) {
    for (size_t i = 0; i < n; i++)
      x[i] = (float) (saved[i] + step * v[i]);
    double lp = loss (user_data);
    for (size_t i = 0; i < n; i++)
      x[i] = (float) (saved[i] - step * v[i]);
    double lm = loss (user_data);
    memcpy (x, saved, n * sizeof (float));
    double nd = (lp - lm) / (2.0 * step);
    double sc = fmax (fmax (fabs (nd), fabs (ana_dir)), dir_floor);
    if (fabs (nd - ana_dir) / sc < dir_rel) {
      dir_rel = fabs (nd - ana_dir) / sc;
      num_dir = nd;
    }
  }
  g_free (saved);
  g_free (v);
  if (dir_rel > tol)
    g_error ("%s: directional derivative: analytic %.8g, finite difference %.8g (rel err %.3g > %.1g)",
        what, ana_dir, num_dir, dir_rel, tol);
  g_test_message ("%s: gradcheck ok, worst rel err %.3g over %zu points, directional %.3g",
      what, worst_rel, points, dir_rel);
}

/* ---- PyTorch fixtures: a minimal safetensors reader (F32 only) ---- */

gchar *
ncfm_test_fixture_path (const char *file)
{
  const char *dir = g_getenv ("NCFM_FIXTURES_DIR");
  if (dir && *dir)
    return g_build_filename (dir, file, NULL);
  /* tests/kernels/../fixtures when G_TEST_SRCDIR points at tests/kernels */
  gchar *p = g_test_build_filename (G_TEST_DIST, "..", "fixtures", file, NULL);
  if (g_file_test (p, G_FILE_TEST_EXISTS))
    return p;
  g_free (p);
  /* compile-time fallback: __FILE__ is this source, relative to the build dir
   * (meson's cwd for tests) or absolute */
  gchar *src_dir = g_path_get_dirname (__FILE__);
  p = g_build_filename (src_dir, "..", "fixtures", file, NULL);
  g_free (src_dir);
  return p;
}

/* Parses "[a,b,...]" starting at the first '[' after `key` in `entry`. */
static int
parse_ints (const char *entry, const char *key, gint64 *out, int max)
{
  const char *k = strstr (entry, key);
  g_assert_nonnull (k);
  const char *p = strchr (k, '[');
  g_assert_nonnull (p);
  int count = 0;
  p++;
  while (*p == ' ')
    p++;
  while (*p && *p != ']') {
    char *end;
    gint64 v = g_ascii_strtoll (p, &end, 10);
    g_assert_true (end != p);
    g_assert_cmpint (count, <, max);
    out[count++] = v;
    p = end;
    while (*p == ',' || *p == ' ')
      p++;
  }
  return count;
}

float *
ncfm_test_load_fixture_f32_shape (const char *file, const char *name, gsize *n, gint64 *shape,
    int max_dims, int *n_dims)
{
  g_autofree gchar *path = ncfm_test_fixture_path (file);
  g_autofree gchar *data = NULL;
  gsize len = 0;
  GError *err = NULL;
  if (!g_file_get_contents (path, &data, &len, &err)) {
    g_test_message ("cannot read %s: %s", path, err->message);
    g_error_free (err);
    return NULL;
  }
  g_assert_cmpuint (len, >=, 8);
  guint64 hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = (hlen << 8) | (guint8) data[i];
  g_assert_cmpuint (hlen, <=, len - 8);
  g_autofree gchar *header = g_strndup (data + 8, hlen);
  const gsize data_start = 8 + hlen;

  g_autofree gchar *quoted = g_strdup_printf ("\"%s\":", name);
  const char *entry = strstr (header, quoted);
  if (!entry) {
    g_test_message ("%s has no tensor %s", path, name);
    return NULL;
  }
  const char *entry_end = strchr (entry, '}');
  const char *dtype = strstr (entry, "\"dtype\"");
  g_assert_true (dtype && entry_end && dtype < entry_end);
  if (!g_str_has_prefix (dtype + strlen ("\"dtype\""), ":\"F32\""))
    g_error ("%s: tensor %s is not F32", path, name);
  gint64 dims[8];
  int nd = parse_ints (entry, "\"shape\"", dims, 8);
  gint64 off[2];
  g_assert_cmpint (parse_ints (entry, "\"data_offsets\"", off, 2), ==, 2);
  gsize count = 1;
  for (int d = 0; d < nd; d++) {
    g_assert_cmpint (dims[d], >=, 0);
    count *= (gsize) dims[d];
    if (shape && d < max_dims)
      shape[d] = dims[d];
  }
  if (shape)
    g_assert_cmpint (nd, <=, max_dims);
  g_assert_cmpint (off[1] - off[0], ==, (gint64) (count * 4));
  g_assert_cmpuint (data_start + (gsize) off[1], <=, len);
  float *v = g_new (float, count ? count : 1);
  const guint8 *src = (const guint8 *) data + data_start + off[0];
  for (gsize i = 0; i < count; i++) {   /* little-endian on any host */
    guint32 bits = (guint32) src[4 * i] | (guint32) src[4 * i + 1] << 8
        | (guint32) src[4 * i + 2] << 16 | (guint32) src[4 * i + 3] << 24;
    memcpy (&v[i], &bits, 4);
  }
  if (n)
    *n = count;
  if (n_dims)
    *n_dims = nd;
  return v;
}

float *
ncfm_test_load_fixture_f32 (const char *file, const char *name, gsize *n)
{
  return ncfm_test_load_fixture_f32_shape (file, name, n, NULL, 0, NULL);
}
