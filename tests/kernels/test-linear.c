/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-linear.c: y = x W^T + b on the CPU reference: exact values, naive
 * double loops, finite-difference gradients of x, W and b, NULL outputs. */
#include "test-util.h"

#include <float.h>
#include <math.h>

#define EPS_F ((double) FLT_EPSILON)

typedef struct {
  NcfmBackend *be;
  int n, in, out;
  float *x, *w, *b, *y, *r;
} LinCtx;

static double
linear_loss (gpointer data)
{
  LinCtx *t = data;
  t->be->ops->linear_forward (t->be, t->n, t->in, t->out, t->x, t->w, t->b, t->y);
  return ncfm_test_dot (t->y, t->r, (size_t) t->n * t->out);
}

/* C[i, j] = sum_k A[i, k] B[k, j] with strides, in double; *l1 gets the
 * largest sum_k |A B| (the scale of the float rounding). */
static void
naive_matmul (int rows, int cols, int depth, const float *a, size_t a_i, size_t a_k,
    const float *b, size_t b_k, size_t b_j, float *c, double *l1)
{
  *l1 = 0.0;
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++) {
      double s = 0.0, m = 0.0;
      for (int k = 0; k < depth; k++) {
        double p = (double) a[i * a_i + k * a_k] * b[k * b_k + j * b_j];
        s += p;
        m += fabs (p);
      }
      c[(size_t) i * cols + j] = (float) s;
      *l1 = fmax (*l1, m);
    }
}

static void
check_shape (NcfmBackend *be, GRand *rand, int n, int in, int out, gboolean bias)
{
  LinCtx t = { be, n, in, out, NULL, NULL, NULL, NULL, NULL };
  const size_t nx = (size_t) n * in, nw = (size_t) out * in, ny = (size_t) n * out;
  g_autofree char *what = g_strdup_printf ("linear n=%d in=%d out=%d%s", n, in, out,
      bias ? "" : " (no bias)");
  t.x = ncfm_test_new_uniform (rand, nx, -1.0f, 1.0f);
  t.w = ncfm_test_new_uniform (rand, nw, -1.0f, 1.0f);
  t.b = bias ? ncfm_test_new_uniform (rand, out, -1.0f, 1.0f) : NULL;
  t.r = ncfm_test_new_uniform (rand, ny, -1.0f, 1.0f);
  t.y = g_new (float, ny);
  g_autofree float *want = g_new (float, ny), *want_dx = g_new (float, nx);
  g_autofree float *want_dw = g_new (float, nw), *want_db = g_new (float, out);
  g_autofree float *dx = g_new (float, nx), *dw = g_new (float, nw), *db = g_new (float, out);
  double l1_y, l1_dx, l1_dw;

  /* y = x W^T (+ b), dx = r W, dw = r^T x, db = column sums of r */
  naive_matmul (n, out, in, t.x, in, 1, t.w, 1, in, want, &l1_y);
  for (size_t i = 0; i < ny && bias; i++)
    want[i] = (float) ((double) want[i] + t.b[i % out]);
  naive_matmul (n, in, out, t.r, out, 1, t.w, in, 1, want_dx, &l1_dx);
  naive_matmul (out, in, n, t.r, 1, out, t.x, in, 1, want_dw, &l1_dw);
  for (int o = 0; o < out; o++) {
    double s = 0.0;
    for (int i = 0; i < n; i++)
      s += t.r[(size_t) i * out + o];
    want_db[o] = (float) s;
  }

  linear_loss (&t);
  /* a float dot product of depth K, whatever its order, errs by at most
   * K eps/2 sum|terms| (+ the bias add and the final rounding): (K + 2) eps */
  ncfm_test_assert_close (what, t.y, want, ny, 0, (in + 2) * EPS_F * (l1_y + 1.0));
  be->ops->linear_backward (be, n, in, out, t.x, t.w, t.r, dx, dw, db);
  ncfm_test_assert_close ("linear dx", dx, want_dx, nx, 0, (out + 2) * EPS_F * l1_dx);
  ncfm_test_assert_close ("linear dw", dw, want_dw, nw, 0, (n + 2) * EPS_F * l1_dw);
  ncfm_test_assert_close ("linear db", db, want_db, (size_t) out, EPS_F, 0);

  /* the loss is linear in every input, so the difference quotient is exact
   * but for the rounding of y: moving one input moves <= max(n, out) = 17
   * outputs, so noise ~ eps sqrt(17) rms|y r| / (sqrt(2) h) ~ 1.2e-7 * 4.1 *
   * 1.5 / 1.4e-2 ~ 5e-5 (one sigma), which against the gradcheck floor
   * 1e-3 max|g| ~ 3e-3 is up to ~5e-2 at three sigma: tol 1e-1.  A wrong
   * transpose errs by O(1); the directional check is tight (~1e-5). */
  g_autofree char *w_x = g_strdup_printf ("%s dx", what);
  g_autofree char *w_w = g_strdup_printf ("%s dw", what);
  g_autofree char *w_b = g_strdup_printf ("%s db", what);
  ncfm_test_gradcheck (w_x, t.x, dx, nx, linear_loss, &t, 1e-2, 1e-1, 200, rand);
  ncfm_test_gradcheck (w_w, t.w, dw, nw, linear_loss, &t, 1e-2, 1e-1, 200, rand);
  if (bias)
    ncfm_test_gradcheck (w_b, t.b, db, (size_t) out, linear_loss, &t, 1e-2, 1e-1, 200, rand);

  /* every NULL combination: the outputs asked for equal the full call's and
   * are overwritten (pre-filled with NaN), never accumulated into */
  g_autofree float *ex = g_new (float, nx), *ew = g_new (float, nw), *eb = g_new (float, out);
  for (int mask = 0; mask < 8; mask++) {
    for (size_t i = 0; i < nx; i++)
      ex[i] = NAN;
    for (size_t i = 0; i < nw; i++)
      ew[i] = NAN;
    for (int o = 0; o < out; o++)
      eb[o] = NAN;
    be->ops->linear_backward (be, n, in, out, t.x, t.w, t.r, mask & 1 ? ex : NULL,
        mask & 2 ? ew : NULL, mask & 4 ? eb : NULL);
    if (mask & 1)
      ncfm_test_assert_close ("linear NULL combo dx", ex, dx, nx, 0, 0);
    if (mask & 2)
      ncfm_test_assert_close ("linear NULL combo dw", ew, dw, nw, 0, 0);
    if (mask & 4)
      ncfm_test_assert_close ("linear NULL combo db", eb, db, (size_t) out, 0, 0);
  }
  float *bufs[] = { t.x, t.w, t.b, t.r, t.y };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    g_free (bufs[i]);
}

static void
test_linear_shapes (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (31);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const int shapes[][3] = { { 5, 7, 3 }, { 1, 1, 1 }, { 13, 37, 10 }, { 4, 64, 17 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int bias = 0; bias < 2; bias++)
      check_shape (be, rand, shapes[s][0], shapes[s][1], shapes[s][2], bias);
  ncfm_backend_free (be);
}

static void
test_linear_exact (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const float x[4] = { 1, 2, 3, 4 };                 /* [2, 2] */
  const float w[6] = { 1, 0, 0, 1, 1, 1 };           /* [3, 2] */
  const float b[3] = { 0.5f, -1, 2 };
  float y[6];
  const float want[6] = { 1.5f, 1, 5, 3.5f, 3, 9 };
  be->ops->linear_forward (be, 2, 2, 3, x, w, b, y);
  ncfm_test_assert_close ("linear exact", y, want, 6, 0, 0);
  const float want_nb[6] = { 1, 2, 3, 3, 4, 7 };
  be->ops->linear_forward (be, 2, 2, 3, x, w, NULL, y);
  ncfm_test_assert_close ("linear exact, no bias", y, want_nb, 6, 0, 0);

  /* dy = [[1 0 2] [0 1 -1]]: dx = dy W, dw = dy^T x, db = column sums */
  const float dy[6] = { 1, 0, 2, 0, 1, -1 };
  float dx[4], dw[6], db[3];
  be->ops->linear_backward (be, 2, 2, 3, x, w, dy, dx, dw, db);
  const float want_dx[4] = { 3, 2, -1, 0 }, want_dw[6] = { 1, 2, 3, 4, -1, 0 };
  const float want_db[3] = { 1, 1, 1 };
  ncfm_test_assert_close ("linear exact dx", dx, want_dx, 4, 0, 0);
  ncfm_test_assert_close ("linear exact dw", dw, want_dw, 6, 0, 0);
  ncfm_test_assert_close ("linear exact db", db, want_db, 3, 0, 0);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/linear/exact", test_linear_exact);
  g_test_add_func ("/kernels/linear/shapes", test_linear_shapes);
  return g_test_run ();
}
