/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-resize.c: bilinear resize (F.interpolate, align_corners=False) on the
 * CPU reference: closed forms, a double reference, the adjoint identity,
 * finite-difference checks, and agreement with PyTorch on a stored fixture. */
#include "test-util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Naive double reference of PyTorch's formula, one plane at a time. */
static void
naive_resize (int planes, int hi, int wi, int ho, int wo, const float *x, float *y)
{
  for (int p = 0; p < planes; p++)
    for (int oh = 0; oh < ho; oh++)
      for (int ow = 0; ow < wo; ow++) {
        double sh = fmax (((double) hi / ho) * (oh + 0.5) - 0.5, 0.0);
        double sw = fmax (((double) wi / wo) * (ow + 0.5) - 0.5, 0.0);
        int h0 = (int) sh, w0 = (int) sw;
        int h1 = h0 < hi - 1 ? h0 + 1 : h0, w1 = w0 < wi - 1 ? w0 + 1 : w0;
        double lh = sh - h0, lw = sw - w0;
        const float *xp = x + (size_t) p * hi * wi;
        y[((size_t) p * ho + oh) * wo + ow] = (float) (
            (1 - lh) * ((1 - lw) * xp[h0 * wi + w0] + lw * xp[h0 * wi + w1])
            + lh * ((1 - lw) * xp[h1 * wi + w0] + lw * xp[h1 * wi + w1]));
      }
}

static void
test_closed_forms (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  /* 2x2 -> 4x4: the taps along each axis are (1, 0), (.75, .25), (.25, .75),
   * (0, 1), all exact in binary, so every output is exact */
  const float x[4] = { 0.0f, 1.0f, 2.0f, 3.0f };
  const double t[4][2] = { { 1, 0 }, { .75, .25 }, { .25, .75 }, { 0, 1 } };
  float y[16], want[16];
  be->ops->resize_bilinear_forward (be, 1, 1, 2, 2, 4, 4, x, y);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      want[i * 4 + j] = (float) (t[i][0] * (t[j][0] * x[0] + t[j][1] * x[1])
          + t[i][1] * (t[j][0] * x[2] + t[j][1] * x[3]));
  ncfm_test_assert_close ("2x2 -> 4x4", y, want, 16, 0, 0);
  /* its adjoint: dx[a][b] = sum_ij t[i][a] t[j][b] dy[i][j]; with dy = 1
   * every column of taps sums to 2, so dx = 4 everywhere */
  float ones[16], dx[4];
  for (int i = 0; i < 16; i++)
    ones[i] = 1.0f;
  be->ops->resize_bilinear_backward (be, 1, 1, 2, 2, 4, 4, ones, dx);
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat (dx[i], ==, 4.0f);

  /* 4x4 -> 2x2: sources 0.5 and 2.5, i.e. the mean of each 2x2 block */
  float big[16], small[4];
  for (int i = 0; i < 16; i++)
    big[i] = (float) (i * i % 7);
  be->ops->resize_bilinear_forward (be, 1, 1, 4, 4, 2, 2, big, small);
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) {
      int a = 2 * i * 4 + 2 * j;
      g_assert_cmpfloat (small[i * 2 + j], ==, (big[a] + big[a + 1] + big[a + 4] + big[a + 5]) / 4);
    }

  /* same size is the identity (source = dst exactly, weight 0 on the tap) */
  be->ops->resize_bilinear_forward (be, 1, 1, 4, 4, 4, 4, big, want);
  ncfm_test_assert_close ("identity", want, big, 16, 0, 0);
  ncfm_backend_free (be);
}

typedef struct { int n, c, hi, wi, ho, wo; } Shape;

static const Shape shapes[] = {
  { 2, 3, 5, 7, 9, 11 },    /* up */
  { 1, 2, 13, 10, 4, 6 },   /* down */
  { 2, 1, 6, 5, 11, 3 },    /* mixed */
  { 1, 1, 1, 1, 3, 2 },     /* single pixel */
  { 1, 2, 9, 4, 9, 4 },     /* same size */
};

/* Against the double reference (4 products and 3 sums of terms bounded by
 * max|x| = 1: 8 FLT_EPSILON absolute covers the float rounding; the float
 * source coordinate differs from the double one by ~ulp(in), which moves the
 * weights by ~in FLT_EPSILON times a difference of two inputs <= 2). */
static void
test_vs_naive_and_adjoint (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (31);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const Shape *sh = &shapes[s];
    size_t nin = (size_t) sh->n * sh->c * sh->hi * sh->wi;
    size_t nout = (size_t) sh->n * sh->c * sh->ho * sh->wo;
    g_autofree float *x = ncfm_test_new_uniform (rand, nin, -1.0f, 1.0f);
    g_autofree float *r = ncfm_test_new_uniform (rand, nout, -1.0f, 1.0f);
    g_autofree float *y = g_new (float, nout), *want = g_new (float, nout);
    g_autofree float *dx = g_new (float, nin);
    be->ops->resize_bilinear_forward (be, sh->n, sh->c, sh->hi, sh->wi, sh->ho, sh->wo, x, y);
    naive_resize (sh->n * sh->c, sh->hi, sh->wi, sh->ho, sh->wo, x, want);
    double coord = 2.0 * MAX (sh->hi, sh->wi) * FLT_EPSILON;
    ncfm_test_assert_close ("resize vs naive", y, want, nout, 0, 8 * FLT_EPSILON + 2 * coord);

    /* adjoint: <A x, r> == <x, A^T r>, both sums of nout * 4 float products
     * bounded by 1, each rounded by ~2 FLT_EPSILON */
    for (int i = 0; i < 3; i++)
      dx[i % nin] = NAN;   /* the backward must overwrite, not accumulate */
    be->ops->resize_bilinear_backward (be, sh->n, sh->c, sh->hi, sh->wi, sh->ho, sh->wo, r, dx);
    double lhs = ncfm_test_dot (y, r, nout), rhs = ncfm_test_dot (x, dx, nin);
    g_assert_cmpfloat_with_epsilon (lhs, rhs, 4.0 * nout * 2 * FLT_EPSILON);
  }
  ncfm_backend_free (be);
}

typedef struct {
  NcfmBackend *be;
  const Shape *s;
  float *x, *y, *r;
} ResizeCtx;

static double
resize_loss (gpointer data)
{
  ResizeCtx *c = data;
  const Shape *s = c->s;
  c->be->ops->resize_bilinear_forward (c->be, s->n, s->c, s->hi, s->wi, s->ho, s->wo, c->x, c->y);
  return ncfm_test_dot (c->y, c->r, (size_t) s->n * s->c * s->ho * s->wo);
}

/* The resize is linear, so central differences have no truncation error:
 * only the rounding of L = <y, r> (nout float terms of size <= 1, noise
 * ~sqrt(nout) 6e-8 <= 1e-6) over 2h = 0.2 remains, ~5e-6 against gradients
 * ~0.1-1 (each dx sums weights ~ (out/in)^2 times r).  Tolerance 1e-3. */
static void
test_gradcheck (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (32);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  for (guint s = 0; s < 3; s++) {   /* up, down, mixed */
    ResizeCtx c = { .be = be, .s = &shapes[s] };
    size_t nin = (size_t) c.s->n * c.s->c * c.s->hi * c.s->wi;
    size_t nout = (size_t) c.s->n * c.s->c * c.s->ho * c.s->wo;
    c.x = ncfm_test_new_uniform (rand, nin, -1.0f, 1.0f);
    c.y = g_new (float, nout);
    c.r = ncfm_test_new_uniform (rand, nout, -1.0f, 1.0f);
    g_autofree float *dx = g_new (float, nin);
    be->ops->resize_bilinear_backward (be, c.s->n, c.s->c, c.s->hi, c.s->wi, c.s->ho, c.s->wo,
        c.r, dx);
    ncfm_test_gradcheck ("resize", c.x, dx, nin, resize_loss, &c, 0.1, 1e-3, 200, rand);
    g_free (c.x);
    g_free (c.y);
    g_free (c.r);
  }
  ncfm_backend_free (be);
}

/* PyTorch computes the same float formula (possibly with FMA contraction and
 * a different summation order in the backward), so the outputs agree to a
 * few ulps of the inputs' scale (randn, |x| < ~4): the requested 1e-5
 * relative bound, with 1e-5 of max |want| as the absolute floor for values
 * that cancel to near zero. */
static void
test_pytorch_fixture (void)
{
  const char *file = "resize_bilinear.safetensors";
  g_autofree gchar *path = ncfm_test_fixture_path (file);
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_test_fail_printf ("fixture %s not found: set NCFM_FIXTURES_DIR to tests/fixtures "
        "(regenerate with tests/fixtures/make-resize-fixture.py)", path);
    return;
  }
  NcfmBackend *be = ncfm_test_cpu_backend ();
  int cases = 0;
  for (int i = 0;; i++) {
    g_autofree gchar *xname = g_strdup_printf ("case%d.x", i);
    g_autofree gchar *yname = g_strdup_printf ("case%d.y", i);
    g_autofree gchar *dyname = g_strdup_printf ("case%d.dy", i);
    g_autofree gchar *dxname = g_strdup_printf ("case%d.dx", i);
    gint64 sx[4], sy[4];
    int rank = 0;
    gsize nin, nout, n_dy, n_dx;
    g_autofree float *x = ncfm_test_load_fixture_f32_shape (file, xname, &nin, sx, 4, &rank);
    if (!x)
      break;
    g_assert_cmpint (rank, ==, 4);
    g_autofree float *want_y = ncfm_test_load_fixture_f32_shape (file, yname, &nout, sy, 4, &rank);
    g_assert_nonnull (want_y);
    g_assert_cmpint (rank, ==, 4);
    g_autofree float *dy = ncfm_test_load_fixture_f32 (file, dyname, &n_dy);
    g_autofree float *want_dx = ncfm_test_load_fixture_f32 (file, dxname, &n_dx);
    g_assert_true (dy && want_dx);
    g_assert_cmpuint (n_dy, ==, nout);
    g_assert_cmpuint (n_dx, ==, nin);
    g_autofree float *y = g_new (float, nout), *dx = g_new (float, nin);
    be->ops->resize_bilinear_forward (be, sx[0], sx[1], sx[2], sx[3], sy[2], sy[3], x, y);
    be->ops->resize_bilinear_backward (be, sx[0], sx[1], sx[2], sx[3], sy[2], sy[3], dy, dx);
    double ymax = 0, dxmax = 0;
    for (size_t j = 0; j < nout; j++)
      ymax = fmax (ymax, fabs (want_y[j]));
    for (size_t j = 0; j < nin; j++)
      dxmax = fmax (dxmax, fabs (want_dx[j]));
    g_test_message ("fixture case %d: [%d,%d,%d,%d] -> %dx%d", i, (int) sx[0], (int) sx[1],
        (int) sx[2], (int) sx[3], (int) sy[2], (int) sy[3]);
    ncfm_test_assert_close ("fixture y", y, want_y, nout, 1e-5, 1e-5 * ymax);
    ncfm_test_assert_close ("fixture dx", dx, want_dx, nin, 1e-5, 1e-5 * dxmax);
    cases++;
  }
  g_assert_cmpint (cases, >=, 4);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/resize/closed-forms", test_closed_forms);
  g_test_add_func ("/kernels/resize/vs-naive-and-adjoint", test_vs_naive_and_adjoint);
  g_test_add_func ("/kernels/resize/gradcheck", test_gradcheck);
  g_test_add_func ("/kernels/resize/pytorch-fixture", test_pytorch_fixture);
  return g_test_run ();
}
