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
