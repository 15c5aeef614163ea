/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-conv2d.c: conv2d on the CPU reference against a naive direct
 * convolution written here (double accumulation), plus finite-difference
 * checks of dx, dw and dbias and the NULL-output combinations.
 *
 * Tolerances.  Two kinds of data are used:
 *  - random floats: each output is a sum of K products, so any summation
 *    order differs from the exact value by at most K * u * sum |a_i b_i|
 *    (u = 2^-24, the unit roundoff; Higham's bound gamma_K ~ K u).  The
 *    check uses atol = (K + 1) * u * max over outputs of that magnitude
 *    (+1 for the bias), computed from the data;
 *  - "dyadic" data (multiples of 1/16, |x| <= 3, |w|, |r| <= 1): every
 *    product needs <= 8 fraction bits and every partial sum of our sizes
 *    fits in 24 bits (|sum| < 2^13 here, even with x moved by h = 1), so float arithmetic is EXACT in
 *    any order: the backward passes must match the naive loops with
 *    tolerance 0, and the element-wise finite differences (h = 1, exactly
 *    representable; the loss is linear, so central differences have no
 *    truncation error) are exact too.  Only gradcheck's random-direction
 *    check perturbs by non-dyadic steps; its error is the rounding of
 *    x + h v and of y, relative order u * sqrt (K * numel) < 1e-4 / 10
 *    for these sizes, so it gets tol 1e-4.
 *
 * Algorithms.  NCFM_CONV_ALGO=im2col|winograd|direct|auto selects the CPU
 * path (kernels/cpu/conv2d.c).  The tests above the Winograd section force
 * im2col or direct where their tolerance is the direct sum's (the direct
 * path's chain of FMAs is one summation order of it); the exact tests run
 * on every path.  Winograd F(2x2,3x3) error bound (forward; dx is the same
 * with dy for x and c_out for c): with the standard model (gamma_n = n u /
 * (1 - n u)), U = G g G^T takes 2 + 2 additions (the 1/2 are exact), V =
 * B^T d B 1 + 1, the product 1 rounding, the channel sum c - 1, A^T M A
 * 2 + 2 and the bias 1, so |y - exact| <= gamma_{c+11} * S with
 *   S = |A^T| sum_c (|G||g||G^T| .* |B^T||d||B|) |A| + |b|.
 * |B^T||d||B| <= 4 max|x|; (|G||g||G^T|)_ab <= r_a r_b max|w| with
 * r = (1, 3/2, 3/2, 1); each row of |A^T| sums three consecutive r's (= 4),
 * so S <= 64 c max|x| max|w| + max|b|: 64/9 (~7x) the direct sum's
 * worst-case magnitude, small because the constants are 0, +-1/2, +-1.
 * Dyadic data stays exact through Winograd too (U: multiples of 1/64,
 * |U| <= 9/4 |w|; V: of 1/16, |V| <= 4 |x|): with |x|, |w| <= 1 and
 * c <= 130 every partial sum is a multiple of 2^-10 below 9 * 130 * 9 <
 * 2^14, i.e. fits 24 bits, so those checks use tolerance 0.
 */
#include "test-util.h"

#include <math.h>
#include <string.h>

#define UNIT_ROUNDOFF 5.9604644775390625e-8   /* 2^-24 */

typedef struct {
  const char *name;
  NcfmConv2dShape s;
} Geometry;

static const Geometry geometries[] = {
  { "1x1", { 2, 3, 5, 4, 4, 1, 1, 1, 0 } },
  { "3x3 pad 1", { 2, 4, 8, 8, 5, 3, 3, 1, 1 } },
  { "convnet first layer (1 ch, 28x28, pad 3)", { 2, 1, 28, 28, 8, 3, 3, 1, 3 } },
  { "5x3 kernel", { 3, 2, 9, 7, 3, 5, 3, 1, 2 } },
  { "stride 2", { 2, 3, 9, 9, 4, 3, 3, 2, 1 } },
  { "odd sizes, 4x2 kernel, stride 3", { 5, 2, 11, 13, 3, 4, 2, 3, 0 } },
  { "batch 9 (groups of 8 + 1)", { 9, 2, 6, 6, 3, 3, 3, 1, 1 } },
  { "16 channels", { 2, 16, 8, 8, 16, 3, 3, 1, 1 } },
  { "pad larger than kernel", { 2, 2, 3, 4, 2, 2, 2, 1, 3 } },
  /* the direct path's blocks of 6 channels and chunks of 16 pixels, each
   * with a partial one */
  { "3 -> 13 channels, 18 wide", { 2, 3, 5, 18, 13, 3, 3, 1, 1 } },
};

typedef struct {
  size_t nx, nw, ny;
  int ho, wo;
} Sizes;

static Sizes
sizes_of (const NcfmConv2dShape *s)
{
  Sizes z;
  z.ho = ncfm_conv2d_h_out (s);
  z.wo = ncfm_conv2d_w_out (s);
  z.nx = (size_t) s->n * s->c_in * s->h_in * s->w_in;
  z.nw = (size_t) s->c_out * s->c_in * s->kernel_h * s->kernel_w;
  z.ny = (size_t) s->n * s->c_out * z.ho * z.wo;
  return z;
}

/* Index of input pixel (i, c, ih, iw) read by output (oh, ow) at kernel tap
 * (ki, kj), or -1 when it falls in the padding. */
static long
input_index (const NcfmConv2dShape *s, int i, int c, int oh, int ow, int ki, int kj)
{
  int ih = oh * s->stride - s->pad + ki, iw = ow * s->stride - s->pad + kj;
  if (ih < 0 || ih >= s->h_in || iw < 0 || iw >= s->w_in)
    return -1;
  return (((long) i * s->c_in + c) * s->h_in + ih) * s->w_in + iw;
}

/* Calls fn (user, y index, x index, w index) for every product of the convolution. */
typedef void (*TermFunc) (gpointer user, size_t yi, size_t xi, size_t wi);

static void
for_each_term (const NcfmConv2dShape *s, TermFunc fn, gpointer user)
{
  const Sizes z = sizes_of (s);
  for (int i = 0; i < s->n; i++)
    for (int co = 0; co < s->c_out; co++)
      for (int oh = 0; oh < z.ho; oh++)
        for (int ow = 0; ow < z.wo; ow++) {
          size_t yi = (((size_t) i * s->c_out + co) * z.ho + oh) * z.wo + ow;
          for (int c = 0; c < s->c_in; c++)
            for (int ki = 0; ki < s->kernel_h; ki++)
              for (int kj = 0; kj < s->kernel_w; kj++) {
                long xi = input_index (s, i, c, oh, ow, ki, kj);
                if (xi >= 0)
                  fn (user, yi, (size_t) xi,
                      (((size_t) co * s->c_in + c) * s->kernel_h + ki) * s->kernel_w + kj);
              }
        }
}

typedef struct {
  const float *x, *w, *dy;
  double *y, *mag;             /* forward: sums and sums of |products| */
  double *dx, *dw;             /* backward */
} NaiveCtx;

static void
forward_term (gpointer user, size_t yi, size_t xi, size_t wi)
{
  NaiveCtx *c = user;
  double p = (double) c->x[xi] * c->w[wi];
  c->y[yi] += p;
  c->mag[yi] += fabs (p);
}

static void
backward_term (gpointer user, size_t yi, size_t xi, size_t wi)
{
  NaiveCtx *c = user;
  c->dx[xi] += (double) c->w[wi] * c->dy[yi];
  c->dw[wi] += (double) c->x[xi] * c->dy[yi];
}

/* y = naive conv (double), returns the atol of the derived bound. */
static double
naive_forward (const NcfmConv2dShape *s, const float *x, const float *w, const float *bias,
    float *y)
{
  const Sizes z = sizes_of (s);
  const int p = z.ho * z.wo, k = s->c_in * s->kernel_h * s->kernel_w;
  NaiveCtx c = { .x = x, .w = w, .y = g_new0 (double, z.ny), .mag = g_new0 (double, z.ny) };
  for_each_term (s, forward_term, &c);
  double mag_max = 0.0;
  for (size_t i = 0; i < z.ny; i++) {
    double b = bias ? bias[(i / p) % s->c_out] : 0.0;
    y[i] = (float) (c.y[i] + b);
    mag_max = fmax (mag_max, c.mag[i] + fabs (b));
  }
  g_free (c.y);
  g_free (c.mag);
  return (k + 1) * UNIT_ROUNDOFF * mag_max;
}

static void
naive_backward (const NcfmConv2dShape *s, const float *x, const float *w, const float *dy,
    float *dx, float *dw, float *dbias)
{
  const Sizes z = sizes_of (s);
  const int p = z.ho * z.wo;
  NaiveCtx c = { .x = x, .w = w, .dy = dy, .dx = g_new0 (double, z.nx),
    .dw = g_new0 (double, z.nw) };
  for_each_term (s, backward_term, &c);
  for (size_t i = 0; i < z.nx; i++)
    dx[i] = (float) c.dx[i];
  for (size_t i = 0; i < z.nw; i++)
    dw[i] = (float) c.dw[i];
  for (int co = 0; co < s->c_out; co++) {
    double sum = 0.0;
    for (int i = 0; i < s->n; i++)
      for (int q = 0; q < p; q++)
        sum += dy[((size_t) i * s->c_out + co) * p + q];
    dbias[co] = (float) sum;
  }
  g_free (c.dx);
  g_free (c.dw);
}

/* Multiples of 1/16 in [-range, range]: see the tolerance note on top. */
static float *
new_dyadic (GRand *rand, size_t n, int range)
{
  float *v = g_new (float, n ? n : 1);
  for (size_t i = 0; i < n; i++)
    v[i] = g_rand_int_range (rand, -16 * range, 16 * range + 1) / 16.0f;
  return v;
}

static float *
new_poisoned (size_t n)
{
  float *v = g_new (float, n ? n : 1);
  for (size_t i = 0; i < n; i++)
    v[i] = NAN;
  return v;
}

/* Forces a conv2d path for the following calls (NULL: back to auto). */
static void
set_algo (const char *algo)
{
  if (algo)
    g_setenv ("NCFM_CONV_ALGO", algo, TRUE);
  else
    g_unsetenv ("NCFM_CONV_ALGO");
}

static void
test_forward (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  static const char *const sum_algos[] = { "im2col", "direct" };   /* the direct sum's tolerance */
  for (guint gi = 0; gi < G_N_ELEMENTS (geometries); gi++) {
    const NcfmConv2dShape *s = &geometries[gi].s;
    const Sizes z = sizes_of (s);
    g_autofree float *x = ncfm_test_new_uniform (rand, z.nx, -1.0f, 1.0f);
    g_autofree float *w = ncfm_test_new_uniform (rand, z.nw, -0.5f, 0.5f);
    g_autofree float *b = ncfm_test_new_uniform (rand, s->c_out, -1.0f, 1.0f);
    g_autofree float *want = g_new (float, z.ny);
    for (guint a = 0; a < G_N_ELEMENTS (sum_algos); a++) {
      set_algo (sum_algos[a]);
      for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *bias = with_bias ? b : NULL;
        g_autofree float *y = new_poisoned (z.ny);
        g_autofree char *what = g_strdup_printf ("forward %s%s, %s", geometries[gi].name,
            with_bias ? ", bias" : "", sum_algos[a]);
        double atol = naive_forward (s, x, w, bias, want);
        be->ops->conv2d_forward (be, s, x, w, bias, y);
        ncfm_test_assert_close (what, y, want, z.ny, 0.0, atol);
      }
    }
  }
  set_algo (NULL);
  ncfm_backend_free (be);
}

typedef struct {
  NcfmBackend *be;
  const NcfmConv2dShape *s;
  float *x, *w, *b, *y, *r;
  size_t ny;
} LossCtx;

static double
conv_loss (gpointer data)
{
  LossCtx *c = data;
  c->be->ops->conv2d_forward (c->be, c->s, c->x, c->w, c->b, c->y);
  return ncfm_test_dot (c->y, c->r, c->ny);
}

/* Exact data: both paths must match the naive loops bit for bit. */
static void
test_backward (gconstpointer algo)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (12);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  set_algo (algo);
  for (guint gi = 0; gi < G_N_ELEMENTS (geometries); gi++) {
    const NcfmConv2dShape *s = &geometries[gi].s;
    const Sizes z = sizes_of (s);
    const char *name = geometries[gi].name;
    LossCtx c = { .be = be, .s = s, .ny = z.ny };
    c.x = new_dyadic (rand, z.nx, 2);
    c.w = new_dyadic (rand, z.nw, 1);
    c.b = new_dyadic (rand, s->c_out, 1);
    c.r = new_dyadic (rand, z.ny, 1);
    c.y = g_new (float, z.ny);
    g_autofree float *dx = new_poisoned (z.nx), *dw = new_poisoned (z.nw);
    g_autofree float *db = new_poisoned (s->c_out);
    g_autofree float *want_dx = g_new (float, z.nx), *want_dw = g_new (float, z.nw);
    g_autofree float *want_db = g_new (float, s->c_out);

    /* exact data, so the forward must be exact as well */
    naive_forward (s, c.x, c.w, c.b, c.y);
    g_autofree float *y_exact = g_memdup2 (c.y, z.ny * sizeof (float));
    be->ops->conv2d_forward (be, s, c.x, c.w, c.b, c.y);
    ncfm_test_assert_close ("forward (exact data)", c.y, y_exact, z.ny, 0.0, 0.0);

    naive_backward (s, c.x, c.w, c.r, want_dx, want_dw, want_db);
    be->ops->conv2d_backward (be, s, c.x, c.w, c.r, dx, dw, db);
    g_test_message ("backward %s", name);
    ncfm_test_assert_close ("dx vs naive", dx, want_dx, z.nx, 0.0, 0.0);
    ncfm_test_assert_close ("dw vs naive", dw, want_dw, z.nw, 0.0, 0.0);
    ncfm_test_assert_close ("dbias vs naive", db, want_db, s->c_out, 0.0, 0.0);

    ncfm_test_gradcheck ("dx", c.x, dx, z.nx, conv_loss, &c, 1.0, 1e-4, 200, rand);
    ncfm_test_gradcheck ("dw", c.w, dw, z.nw, conv_loss, &c, 1.0, 1e-4, 200, rand);
    ncfm_test_gradcheck ("dbias", c.b, db, s->c_out, conv_loss, &c, 1.0, 1e-4, 200, rand);

    /* every subset of outputs, each overwriting a poisoned buffer */
    for (int mask = 0; mask < 8; mask++) {
      g_autofree float *dx2 = new_poisoned (z.nx), *dw2 = new_poisoned (z.nw);
      g_autofree float *db2 = new_poisoned (s->c_out);
      be->ops->conv2d_backward (be, s, c.x, c.w, c.r, mask & 1 ? dx2 : NULL,
          mask & 2 ? dw2 : NULL, mask & 4 ? db2 : NULL);
      if (mask & 1)
        ncfm_test_assert_close ("dx (subset)", dx2, dx, z.nx, 0.0, 0.0);
      if (mask & 2)
        ncfm_test_assert_close ("dw (subset)", dw2, dw, z.nw, 0.0, 0.0);
      if (mask & 4)
        ncfm_test_assert_close ("dbias (subset)", db2, db, s->c_out, 0.0, 0.0);
    }
    g_free (c.x);
    g_free (c.w);
    g_free (c.b);
    g_free (c.r);
    g_free (c.y);
  }
  set_algo (NULL);
  ncfm_backend_free (be);
}

/* Random (non-exact) data on a larger layer: backward against the naive
 * loops within the derived bound (reduction length times u times magnitude). */
static void
test_backward_rounding (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (13);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const NcfmConv2dShape s = { 4, 24, 10, 10, 20, 3, 3, 1, 1 };
  const Sizes z = sizes_of (&s);
  g_autofree float *x = ncfm_test_new_uniform (rand, z.nx, -1.0f, 1.0f);
  g_autofree float *w = ncfm_test_new_uniform (rand, z.nw, -0.5f, 0.5f);
  g_autofree float *dy = ncfm_test_new_uniform (rand, z.ny, -1.0f, 1.0f);
  g_autofree float *dx = g_new (float, z.nx), *dw = g_new (float, z.nw);
  g_autofree float *db = g_new (float, s.c_out);
  g_autofree float *want_dx = g_new (float, z.nx), *want_dw = g_new (float, z.nw);
  g_autofree float *want_db = g_new (float, s.c_out);
  naive_backward (&s, x, w, dy, want_dx, want_dw, want_db);
  set_algo ("im2col");   /* the tolerances are the direct sum's */
  be->ops->conv2d_backward (be, &s, x, w, dy, dx, dw, db);
  set_algo (NULL);
  /* |x|, |dy| <= 1 and |w| <= 0.5 bound the magnitudes of the sums */
  const double p = z.ho * z.wo, taps = s.kernel_h * s.kernel_w;
  const double len_dx = s.c_out * taps, len_dw = s.n * p;
  ncfm_test_assert_close ("dx (random data)", dx, want_dx, z.nx, 0.0,
      len_dx * UNIT_ROUNDOFF * len_dx * 0.5);
  ncfm_test_assert_close ("dw (random data)", dw, want_dw, z.nw, 0.0,
      len_dw * UNIT_ROUNDOFF * len_dw);
  ncfm_test_assert_close ("dbias (random data)", db, want_db, s.c_out, 0.0,
      len_dw * UNIT_ROUNDOFF * len_dw);
  ncfm_backend_free (be);
}

/* ---- Winograd F(2x2,3x3) against im2col and the naive loops ---- */

/* 3x3 stride 1: odd sizes (partial tiles at the border), pads 0..3 (pad 3:
 * dx runs with pad -1), several groups of images with a partial last one,
 * channels 16..130. */
static const Geometry wino_geometries[] = {
  { "7x9, 16 ch", { 3, 16, 7, 9, 16, 3, 3, 1, 1 } },
  { "8x8, 130 -> 17 ch", { 2, 130, 8, 8, 17, 3, 3, 1, 1 } },
  { "16x16, 24 -> 130 ch", { 2, 24, 16, 16, 130, 3, 3, 1, 1 } },
  { "15x13 pad 0, 33 -> 20 ch", { 3, 33, 15, 13, 20, 3, 3, 1, 0 } },
  { "5x6 pad 2", { 2, 16, 5, 6, 18, 3, 3, 1, 2 } },
  { "9x7 pad 3", { 2, 17, 9, 7, 16, 3, 3, 1, 3 } },
  { "8x8, batch 37 (several groups)", { 37, 16, 8, 8, 16, 3, 3, 1, 1 } },
  { "16x16, batch 9", { 9, 16, 16, 16, 20, 3, 3, 1, 1 } },
};

static const char *const algos[] = { "im2col", "winograd", "direct", "auto" };

/* Dyadic data (|x|, |w|, |dy| <= 1): forward and dx exact on every path. */
static void
test_winograd_exact (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (14);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  for (guint gi = 0; gi < G_N_ELEMENTS (wino_geometries); gi++) {
    const NcfmConv2dShape *s = &wino_geometries[gi].s;
    const Sizes z = sizes_of (s);
    g_autofree float *x = new_dyadic (rand, z.nx, 1), *w = new_dyadic (rand, z.nw, 1);
    g_autofree float *b = new_dyadic (rand, s->c_out, 1), *dy = new_dyadic (rand, z.ny, 1);
    g_autofree float *want_y = g_new (float, z.ny), *want_dx = g_new (float, z.nx);
    g_autofree float *want_dw = g_new (float, z.nw), *want_db = g_new (float, s->c_out);
    naive_forward (s, x, w, b, want_y);
    naive_backward (s, x, w, dy, want_dx, want_dw, want_db);
    g_test_message ("winograd exact: %s", wino_geometries[gi].name);
    for (guint a = 0; a < G_N_ELEMENTS (algos); a++) {
      g_autofree float *y = new_poisoned (z.ny), *dx = new_poisoned (z.nx);
      g_autofree float *dw = new_poisoned (z.nw), *db = new_poisoned (s->c_out);
      set_algo (algos[a]);
      be->ops->conv2d_forward (be, s, x, w, b, y);
      be->ops->conv2d_backward (be, s, x, w, dy, dx, dw, db);
      g_test_message ("  %s", algos[a]);
      ncfm_test_assert_close ("forward", y, want_y, z.ny, 0.0, 0.0);
      ncfm_test_assert_close ("dx", dx, want_dx, z.nx, 0.0, 0.0);
      ncfm_test_assert_close ("dw", dw, want_dw, z.nw, 0.0, 0.0);
      ncfm_test_assert_close ("dbias", db, want_db, s->c_out, 0.0, 0.0);
    }
  }
  set_algo (NULL);
  ncfm_backend_free (be);
}

/* gamma_{c+11} * (64 c max|x| max|w| + max|b|): the bound in the note on top. */
static double
winograd_atol (int c, double x_max, double w_max, double b_max)
{
  const double n = c + 11;
  return n * UNIT_ROUNDOFF / (1.0 - n * UNIT_ROUNDOFF) * (64.0 * c * x_max * w_max + b_max);
}

/* Random data: Winograd forward and dx against the naive loops (double)
 * within the derived bound; im2col is printed beside it for comparison. */
static void
test_winograd_rounding (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (15);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  for (guint gi = 0; gi < G_N_ELEMENTS (wino_geometries); gi++) {
    const NcfmConv2dShape *s = &wino_geometries[gi].s;
    const Sizes z = sizes_of (s);
    g_autofree float *x = ncfm_test_new_uniform (rand, z.nx, -1.0f, 1.0f);
    g_autofree float *w = ncfm_test_new_uniform (rand, z.nw, -0.5f, 0.5f);
    g_autofree float *b = ncfm_test_new_uniform (rand, s->c_out, -1.0f, 1.0f);
    g_autofree float *dy = ncfm_test_new_uniform (rand, z.ny, -1.0f, 1.0f);
    g_autofree float *want_y = g_new (float, z.ny), *want_dx = g_new (float, z.nx);
    g_autofree float *want_dw = g_new (float, z.nw), *want_db = g_new (float, s->c_out);
    naive_forward (s, x, w, b, want_y);
    naive_backward (s, x, w, dy, want_dx, want_dw, want_db);
    const double atol_y = winograd_atol (s->c_in, 1.0, 0.5, 1.0);
    const double atol_dx = winograd_atol (s->c_out, 1.0, 0.5, 0.0);
    g_test_message ("winograd rounding: %s (atol y %.2e, dx %.2e)", wino_geometries[gi].name,
        atol_y, atol_dx);
    for (guint a = 0; a < 2; a++) {
      g_autofree float *y = new_poisoned (z.ny), *dx = new_poisoned (z.nx);
      set_algo (algos[a]);
      be->ops->conv2d_forward (be, s, x, w, b, y);
      be->ops->conv2d_backward (be, s, x, w, dy, dx, NULL, NULL);
      g_test_message ("  %s", algos[a]);
      ncfm_test_assert_close ("forward", y, want_y, z.ny, 0.0, atol_y);
      ncfm_test_assert_close ("dx", dx, want_dx, z.nx, 0.0, atol_dx);
    }
  }
  set_algo (NULL);
  ncfm_backend_free (be);
}

/* conv_block_forward against conv2d_forward -> groupnorm_forward (groups =
 * c_out) -> leaky_relu_forward (slope 0) -> avgpool2x2_forward on every
 * geometry and path, with instance norm and without: the block shares the
 * convolution and the norm's helpers, so it must agree bit for bit. */
static void
test_block (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (16);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const guint n_plain = G_N_ELEMENTS (geometries);
  for (guint gi = 0; gi < n_plain + G_N_ELEMENTS (wino_geometries); gi++) {
    const Geometry *g = gi < n_plain ? &geometries[gi] : &wino_geometries[gi - n_plain];
    const NcfmConv2dShape *s = &g->s;
    const Sizes z = sizes_of (s);
    const int hw = z.ho * z.wo;
    const size_t np = (size_t) s->n * s->c_out * (z.ho / 2) * (z.wo / 2);
    if (!np)
      continue;
    g_autofree float *x = ncfm_test_new_uniform (rand, z.nx, -1.0f, 1.0f);
    g_autofree float *w = ncfm_test_new_uniform (rand, z.nw, -0.5f, 0.5f);
    g_autofree float *b = ncfm_test_new_uniform (rand, s->c_out, -1.0f, 1.0f);
    g_autofree float *gamma = ncfm_test_new_uniform (rand, s->c_out, 0.5f, 1.5f);
    g_autofree float *beta = ncfm_test_new_uniform (rand, s->c_out, -0.5f, 0.5f);
    g_autofree float *y = g_new (float, z.ny), *yn = g_new (float, z.ny);
    g_autofree float *mean = g_new (float, (size_t) s->n * s->c_out);
    g_autofree float *rstd = g_new (float, (size_t) s->n * s->c_out);
    g_autofree float *want = g_new (float, np);
    g_test_message ("block: %s", g->name);
    for (guint a = 0; a < G_N_ELEMENTS (algos); a++) {
      set_algo (algos[a]);
      for (int norm = 0; norm < 2; norm++) {
        be->ops->conv2d_forward (be, s, x, w, b, y);
        float *act = y;
        if (norm) {
          be->ops->groupnorm_forward (be, s->n, s->c_out, hw, s->c_out, 1e-5f, y, gamma, beta,
              yn, mean, rstd);
          act = yn;
        }
        be->ops->leaky_relu_forward (be, z.ny, 0.0f, act, act);
        be->ops->avgpool2x2_forward (be, s->n, s->c_out, z.ho, z.wo, act, want);
        g_autofree float *got = new_poisoned (np);
        be->ops->conv_block_forward (be, s, x, w, b, 1e-5f, norm ? gamma : NULL,
            norm ? beta : NULL, got);
        g_autofree char *what = g_strdup_printf ("%s, %s", algos[a],
            norm ? "instance norm" : "no norm");
        ncfm_test_assert_close (what, got, want, np, 0.0, 0.0);
      }
    }
  }
  set_algo (NULL);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/conv2d/forward", test_forward);
  g_test_add_data_func ("/kernels/conv2d/backward/im2col", "im2col", test_backward);
  g_test_add_data_func ("/kernels/conv2d/backward/winograd", "winograd", test_backward);
  g_test_add_data_func ("/kernels/conv2d/backward/direct", "direct", test_backward);
  g_test_add_func ("/kernels/conv2d/backward-rounding", test_backward_rounding);
  g_test_add_func ("/kernels/conv2d/winograd-exact", test_winograd_exact);
  g_test_add_func ("/kernels/conv2d/winograd-rounding", test_winograd_rounding);
  g_test_add_func ("/kernels/conv2d/block", test_block);
  return g_test_run ();
}
