/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-dsa.c: the differentiable siamese augmentation ops on the CPU
 * reference: values against naive loops, the adjoint identities the header
 * promises (<op x, r> == <x, op^T r>, accumulated in double), finite
 * differences, and F.grid_sample(F.affine_grid(...)) against PyTorch. */
#include "test-util.h"

#include <float.h>
#include <math.h>
#include <string.h>

typedef struct { int n, c, h, w; } Shape;

static const Shape shapes[] = {
  { 3, 3, 9, 11 },    /* odd sizes */
  { 2, 1, 8, 8 },     /* one channel, square */
  { 1, 4, 5, 13 },    /* wide */
  { 2, 3, 1, 1 },     /* single pixel */
};

static size_t
numel (const Shape *s)
{
  return (size_t) s->n * s->c * s->h * s->w;
}

/* Random per-image parameters of every op for shape s. */
typedef struct {
  float delta[8], factor[8], theta[8 * 6];
  int32_t shift[8 * 2], box[8 * 4], flip[8], perm[8], mixbox[4];
} Params;

static void
random_box (GRand *rand, int h, int w, int32_t *b)
{
  /* a square of side ~h/2, w/2 centred anywhere (clipped), sometimes empty */
  int sh = (h + 1) / 2, sw = (w + 1) / 2;
  int cy = g_rand_int_range (rand, 0, h + 1), cx = g_rand_int_range (rand, 0, w + 1);
  b[0] = CLAMP (cy - sh / 2, 0, h);
  b[1] = CLAMP (cy - sh / 2 + sh, 0, h);
  b[2] = CLAMP (cx - sw / 2, 0, w);
  b[3] = CLAMP (cx - sw / 2 + sw, 0, w);
}

static void
random_params (GRand *rand, const Shape *s, Params *p)
{
  g_assert_cmpint (s->n, <=, 8);
  for (int i = 0; i < s->n; i++) {
    p->delta[i] = (float) g_rand_double_range (rand, -0.5, 0.5);
    p->factor[i] = (float) g_rand_double_range (rand, 0.0, 2.0);
    /* shifts up to beyond the image, so whole images can leave */
    p->shift[2 * i] = g_rand_int_range (rand, -s->h - 1, s->h + 2);
    p->shift[2 * i + 1] = g_rand_int_range (rand, -s->w / 2, s->w / 2 + 1);
    random_box (rand, s->h, s->w, p->box + 4 * i);
    p->flip[i] = (i % 2 == 0) ^ (g_rand_int_range (rand, 0, 4) == 0);
    p->perm[i] = i;
    /* rotation by up to 15 degrees times a scale in [1/1.2, 1.2] per axis,
     * plus a small translation */
    double a = g_rand_double_range (rand, -15.0, 15.0) * G_PI / 180.0;
    double sx = g_rand_double_range (rand, 1 / 1.2, 1.2);
    double sy = g_rand_double_range (rand, 1 / 1.2, 1.2);
    float *t = p->theta + 6 * i;
    t[0] = (float) (sx * cos (a));
    t[1] = (float) (-sy * sin (a));
    t[2] = (float) g_rand_double_range (rand, -0.2, 0.2);
    t[3] = (float) (sx * sin (a));
    t[4] = (float) (sy * cos (a));
    t[5] = (float) g_rand_double_range (rand, -0.2, 0.2);
  }
  for (int i = s->n - 1; i > 0; i--) {   /* Fisher-Yates */
    int j = g_rand_int_range (rand, 0, i + 1), tmp = p->perm[i];
    p->perm[i] = p->perm[j];
    p->perm[j] = tmp;
  }
  random_box (rand, s->h, s->w, p->mixbox);
}

/* ---- naive references (double) ---- */

static float
at (const Shape *s, const float *x, int i, int ch, int r, int q)
{
  return x[(((size_t) i * s->c + ch) * s->h + r) * s->w + q];
}

#define FOR_ALL(s) \
  for (int i = 0; i < (s)->n; i++) for (int ch = 0; ch < (s)->c; ch++) \
  for (int r = 0; r < (s)->h; r++) for (int q = 0; q < (s)->w; q++)
#define OUT(s, y) (y)[(((size_t) i * (s)->c + ch) * (s)->h + r) * (s)->w + q]

static void
naive_affine (const Shape *s, const float *theta, const float *x, float *y)
{
  FOR_ALL (s) {
    const float *t = theta + 6 * i;
    double bx = (2.0 * q + 1) / s->w - 1, by = (2.0 * r + 1) / s->h - 1;
    double ix = ((t[0] * bx + t[1] * by + t[2] + 1) * s->w - 1) / 2;
    double iy = ((t[3] * bx + t[4] * by + t[5] + 1) * s->h - 1) / 2;
    int x0 = (int) floor (ix), y0 = (int) floor (iy);
    double ax = ix - x0, ay = iy - y0, v = 0;
    for (int dy = 0; dy < 2; dy++)
      for (int dx = 0; dx < 2; dx++) {
        int yy = y0 + dy, xx = x0 + dx;
        if (yy >= 0 && yy < s->h && xx >= 0 && xx < s->w)
          v += (dx ? ax : 1 - ax) * (dy ? ay : 1 - ay) * at (s, x, i, ch, yy, xx);
      }
    OUT (s, y) = (float) v;
  }
}

static void
naive_colour (const Shape *s, const Params *p, const float *x, float *bright, float *sat,
    float *con)
{
  const int hw = s->h * s->w, chw = s->c * hw;
  for (int i = 0; i < s->n; i++) {
    double im = 0;
    for (int j = 0; j < chw; j++)
      im += x[(size_t) i * chw + j];
    im /= chw;
    for (int ch = 0; ch < s->c; ch++)
      for (int k = 0; k < hw; k++) {
        double pm = 0;
        for (int cc = 0; cc < s->c; cc++)
          pm += x[(size_t) i * chw + cc * hw + k];
        pm /= s->c;
        size_t o = (size_t) i * chw + ch * hw + k;
        bright[o] = (float) (x[o] + (double) p->delta[i]);
        sat[o] = (float) (pm + (x[o] - pm) * p->factor[i]);
        con[o] = (float) (im + (x[o] - im) * p->factor[i]);
      }
  }
}

static gboolean
in_box (const int32_t *b, int r, int q)
{
  return r >= b[0] && r < b[1] && q >= b[2] && q < b[3];
}

/* Colour ops against double loops (a few roundings of values <= ~3: 8
 * FLT_EPSILON); the geometric ops are copies and zeros, so exact. */
static void
test_values (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (41);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++) {
    const Shape *s = &shapes[k];
    const size_t nx = numel (s);
    const int hw = s->h * s->w;
    Params p;
    random_params (rand, s, &p);
    g_autofree float *x = ncfm_test_new_uniform (rand, nx, -1.0f, 1.0f);
    g_autofree float *y = g_new (float, nx), *want = g_new (float, nx);
    g_autofree float *b = g_new (float, nx), *sa = g_new (float, nx), *co = g_new (float, nx);
    naive_colour (s, &p, x, b, sa, co);
    be->ops->dsa_brightness (be, s->n, s->c * hw, p.delta, x, y);
    ncfm_test_assert_close ("brightness", y, b, nx, 0, 8 * FLT_EPSILON);
    be->ops->dsa_saturation (be, s->n, s->c, hw, p.factor, x, y);
    ncfm_test_assert_close ("saturation", y, sa, nx, 0, 8 * FLT_EPSILON);
    be->ops->dsa_contrast (be, s->n, s->c * hw, p.factor, x, y);
    ncfm_test_assert_close ("contrast", y, co, nx, 0, 8 * FLT_EPSILON);
    /* in place (allowed for the colour ops and cutout) gives the same */
    memcpy (y, x, nx * sizeof (float));
    be->ops->dsa_saturation (be, s->n, s->c, hw, p.factor, y, y);
    ncfm_test_assert_close ("saturation in place", y, sa, nx, 0, 8 * FLT_EPSILON);
    memcpy (y, x, nx * sizeof (float));
    be->ops->dsa_contrast (be, s->n, s->c * hw, p.factor, y, y);
    ncfm_test_assert_close ("contrast in place", y, co, nx, 0, 8 * FLT_EPSILON);
    memcpy (y, x, nx * sizeof (float));
    be->ops->dsa_brightness (be, s->n, s->c * hw, p.delta, y, y);
    ncfm_test_assert_close ("brightness in place", y, b, nx, 0, 8 * FLT_EPSILON);

    for (int sign = -1; sign <= 1; sign += 2) {
      FOR_ALL (s) {
        int sr = r - sign * p.shift[2 * i], sq = q - sign * p.shift[2 * i + 1];
        OUT (s, want) = sr >= 0 && sr < s->h && sq >= 0 && sq < s->w ? at (s, x, i, ch, sr, sq) : 0;
      }
      be->ops->dsa_translate (be, s->n, s->c, s->h, s->w, p.shift, sign, x, y);
      ncfm_test_assert_close ("translate", y, want, nx, 0, 0);
    }
    FOR_ALL (s)
      OUT (s, want) = in_box (p.box + 4 * i, r, q) ? 0 : at (s, x, i, ch, r, q);
    be->ops->dsa_cutout (be, s->n, s->c, s->h, s->w, p.box, x, y);
    ncfm_test_assert_close ("cutout", y, want, nx, 0, 0);
    memcpy (y, x, nx * sizeof (float));
    be->ops->dsa_cutout (be, s->n, s->c, s->h, s->w, p.box, y, y);
    ncfm_test_assert_close ("cutout in place", y, want, nx, 0, 0);
    FOR_ALL (s)
      OUT (s, want) = at (s, x, i, ch, r, p.flip[i] ? s->w - 1 - q : q);
    be->ops->dsa_flip (be, s->n, s->c, s->h, s->w, p.flip, x, y);
    ncfm_test_assert_close ("flip", y, want, nx, 0, 0);
    FOR_ALL (s)
      OUT (s, want) = at (s, x, in_box (p.mixbox, r, q) ? p.perm[i] : i, ch, r, q);
    be->ops->cutmix (be, s->n, s->c, s->h, s->w, p.perm, p.mixbox, x, y);
    ncfm_test_assert_close ("cutmix", y, want, nx, 0, 0);

    /* affine: the float source coordinate differs from the double one by a
     * few ulps of the size, moving the weights by ~size FLT_EPSILON times a
     * difference of two inputs (<= 2); the blend itself is ~8 roundings */
    naive_affine (s, p.theta, x, want);
    be->ops->dsa_affine_forward (be, s->n, s->c, s->h, s->w, p.theta, x, y);
    double coord = 4.0 * MAX (s->h, s->w) * FLT_EPSILON;
    ncfm_test_assert_close ("affine vs naive", y, want, nx, 0, 8 * FLT_EPSILON + 2 * coord);
  }
  ncfm_backend_free (be);
}

/* Affine special cases: the identity, the left-right flip and a shift by a
 * whole number of pixels reproduce the exact ops up to coordinate rounding
 * (the taps land within ~size FLT_EPSILON of pixel centres). */
static void
test_affine_special (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const Shape s = { 2, 3, 9, 12 };
  const size_t nx = numel (&s);
  g_autofree float *x = ncfm_test_new_uniform (rand, nx, -1.0f, 1.0f);
  g_autofree float *y = g_new (float, nx), *want = g_new (float, nx);
  const double tol = 8.0 * MAX (s.h, s.w) * FLT_EPSILON;
  /* identity */
  const float ident[12] = { 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0 };
  be->ops->dsa_affine_forward (be, s.n, s.c, s.h, s.w, ident, x, y);
  ncfm_test_assert_close ("affine identity", y, x, nx, 0, tol);
  /* flip of image 0 only */
  const float flip_t[12] = { -1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0 };
  const int32_t flip[2] = { 1, 0 };
  be->ops->dsa_affine_forward (be, s.n, s.c, s.h, s.w, flip_t, x, y);
  be->ops->dsa_flip (be, s.n, s.c, s.h, s.w, flip, x, want);
  ncfm_test_assert_close ("affine flip", y, want, nx, 0, tol);
  /* grid value g samples pixel ((g + 1) w - 1) / 2: adding 2 k / w to g reads
   * k pixels further right, i.e. y[q] = x[q + k]: translate by shift -k.
   * Image 0 moves 2 up and 3 left; image 1 4 down and 1 right. */
  const int32_t shift[4] = { -2, -3, 4, 1 };
  float tr[12] = { 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0 };
  for (int i = 0; i < 2; i++) {
    tr[6 * i + 2] = -2.0f * shift[2 * i + 1] / s.w;
    tr[6 * i + 5] = -2.0f * shift[2 * i] / s.h;
  }
  be->ops->dsa_affine_forward (be, s.n, s.c, s.h, s.w, tr, x, y);
  be->ops->dsa_translate (be, s.n, s.c, s.h, s.w, shift, 1, x, want);
  ncfm_test_assert_close ("affine shift", y, want, nx, 0, tol);
  ncfm_backend_free (be);
}

/* <op x, r> == <x, op^T r> in double.  Both sides sum nx products of values
 * <= ~3 whose float rounding (a few FLT_EPSILON each) does not cancel
 * coherently: nx * 16 FLT_EPSILON bounds it.  Brightness's linear part is the
 * identity: <(x + d) - (0 + d), r> == <x, r>. */
static void
test_adjoints (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (43);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++) {
    const Shape *s = &shapes[k];
    const size_t nx = numel (s);
    const int hw = s->h * s->w;
    Params p;
    random_params (rand, s, &p);
    g_autofree float *x = ncfm_test_new_uniform (rand, nx, -1.0f, 1.0f);
    g_autofree float *r = ncfm_test_new_uniform (rand, nx, -1.0f, 1.0f);
    g_autofree float *ax = g_new (float, nx), *atr = g_new (float, nx);
    g_autofree float *zero = g_new0 (float, nx), *b0 = g_new (float, nx);
    const double tol = nx * 16.0 * FLT_EPSILON;
#define CHECK_ADJOINT(name, fwd, adj) \
    do { \
      fwd; \
      adj; \
      double lhs_ = ncfm_test_dot (ax, r, nx), rhs_ = ncfm_test_dot (x, atr, nx); \
      g_test_message ("%s adjoint: %.9g vs %.9g", name, lhs_, rhs_); \
      if (fabs (lhs_ - rhs_) > tol) \
        g_error ("%s: <op x, r> = %.9g but <x, op^T r> = %.9g", name, lhs_, rhs_); \
    } while (0)
    CHECK_ADJOINT ("saturation",
        be->ops->dsa_saturation (be, s->n, s->c, hw, p.factor, x, ax),
        be->ops->dsa_saturation (be, s->n, s->c, hw, p.factor, r, atr));
    CHECK_ADJOINT ("contrast",
        be->ops->dsa_contrast (be, s->n, s->c * hw, p.factor, x, ax),
        be->ops->dsa_contrast (be, s->n, s->c * hw, p.factor, r, atr));
    CHECK_ADJOINT ("cutout",
        be->ops->dsa_cutout (be, s->n, s->c, s->h, s->w, p.box, x, ax),
        be->ops->dsa_cutout (be, s->n, s->c, s->h, s->w, p.box, r, atr));
    CHECK_ADJOINT ("flip",
        be->ops->dsa_flip (be, s->n, s->c, s->h, s->w, p.flip, x, ax),
        be->ops->dsa_flip (be, s->n, s->c, s->h, s->w, p.flip, r, atr));
    CHECK_ADJOINT ("translate",
        be->ops->dsa_translate (be, s->n, s->c, s->h, s->w, p.shift, 1, x, ax),
        be->ops->dsa_translate (be, s->n, s->c, s->h, s->w, p.shift, -1, r, atr));
    for (int j = 0; j < 3; j++)
      atr[j % nx] = NAN;   /* the backward must overwrite, not accumulate */
    CHECK_ADJOINT ("affine",
        be->ops->dsa_affine_forward (be, s->n, s->c, s->h, s->w, p.theta, x, ax),
        be->ops->dsa_affine_backward (be, s->n, s->c, s->h, s->w, p.theta, r, atr));
#undef CHECK_ADJOINT
    be->ops->dsa_brightness (be, s->n, s->c * hw, p.delta, x, ax);
    be->ops->dsa_brightness (be, s->n, s->c * hw, p.delta, zero, b0);
    for (size_t j = 0; j < nx; j++)
      ax[j] -= b0[j];
    double lhs = ncfm_test_dot (ax, r, nx), rhs = ncfm_test_dot (x, r, nx);
    g_assert_cmpfloat_with_epsilon (lhs, rhs, tol);
  }
  ncfm_backend_free (be);
}

/* ---- finite differences ---- */

typedef enum { OP_BRIGHTNESS, OP_SATURATION, OP_CONTRAST, OP_ROTATE, OP_SCALE } GradOp;

typedef struct {
  NcfmBackend *be;
  const Shape *s;
  GradOp op;
  const Params *p;
  float *x, *y, *r;
} GradCtx;

static void
grad_forward (GradCtx *g, const float *x, float *y)
{
  const Shape *s = g->s;
  const int hw = s->h * s->w;
  switch (g->op) {
    case OP_BRIGHTNESS:
      g->be->ops->dsa_brightness (g->be, s->n, s->c * hw, g->p->delta, x, y);
      break;
    case OP_SATURATION:
      g->be->ops->dsa_saturation (g->be, s->n, s->c, hw, g->p->factor, x, y);
      break;
    case OP_CONTRAST:
      g->be->ops->dsa_contrast (g->be, s->n, s->c * hw, g->p->factor, x, y);
      break;
    case OP_ROTATE:
    case OP_SCALE:
      g->be->ops->dsa_affine_forward (g->be, s->n, s->c, s->h, s->w, g->p->theta, x, y);
      break;
  }
}

static double
grad_loss (gpointer data)
{
  GradCtx *g = data;
  grad_forward (g, g->x, g->y);
  return ncfm_test_dot (g->y, g->r, numel (g->s));
}

/* The backward of each op as the header states it: identity, self-adjoint,
 * or dsa_affine_backward. */
static void
grad_backward (GradCtx *g, const float *dy, float *dx)
{
  const Shape *s = g->s;
  if (g->op == OP_BRIGHTNESS)
    memcpy (dx, dy, numel (s) * sizeof (float));
  else if (g->op == OP_ROTATE || g->op == OP_SCALE)
    g->be->ops->dsa_affine_backward (g->be, s->n, s->c, s->h, s->w, g->p->theta, dy, dx);
  else
    grad_forward (g, dy, dx);
}

/* Every op is linear (brightness affine) in x, so central differences have
 * no truncation error: only the rounding of L = <y, r> (nx float terms of
 * size <= ~3: noise ~ sqrt(nx) 2e-7 <= 1e-5) over 2h = 0.2 remains, ~1e-4
 * of gradients ~0.5-2.  Tolerance 1e-3. */
static void
test_gradcheck (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (44);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const char *names[] = { "brightness", "saturation", "contrast", "rotate", "scale" };
  const Shape s = { 2, 3, 9, 11 };
  for (int op = OP_BRIGHTNESS; op <= OP_SCALE; op++) {
    Params p;
    random_params (rand, &s, &p);
    for (int i = 0; i < s.n; i++) {
      float *t = p.theta + 6 * i;
      if (op == OP_ROTATE) {   /* +-15 degrees exactly, no scale or shift */
        double a = (i ? -15.0 : 15.0) * G_PI / 180.0;
        const float rot[6] = { (float) cos (a), (float) -sin (a), 0, (float) sin (a),
            (float) cos (a), 0 };
        memcpy (t, rot, sizeof rot);
      } else if (op == OP_SCALE) {   /* 1.2 and 1/1.2 */
        const float sc[6] = { i ? 1.2f : 1 / 1.2f, 0, 0, 0, i ? 1 / 1.2f : 1.2f, 0 };
        memcpy (t, sc, sizeof sc);
      }
    }
    const size_t nx = numel (&s);
    GradCtx g = { .be = be, .s = &s, .op = op, .p = &p };
    g.x = ncfm_test_new_uniform (rand, nx, -1.0f, 1.0f);
    g.y = g_new (float, nx);
    g.r = ncfm_test_new_uniform (rand, nx, -1.0f, 1.0f);
    g_autofree float *dx = g_new (float, nx);
    grad_backward (&g, g.r, dx);
    ncfm_test_gradcheck (names[op], g.x, dx, nx, grad_loss, &g, 0.1, 1e-3, 200, rand);
    g_free (g.x);
    g_free (g.y);
    g_free (g.r);
  }
  ncfm_backend_free (be);
}

/* ---- PyTorch fixture (tests/fixtures/make-dsa-fixture.py) ---- */

/* PyTorch computes the same float formulas (affine_grid through a bmm,
 * possibly fused, and its own summation order in the backward), so the
 * outputs agree to a few ulps of the coordinates times the inputs' scale
 * (randn, |x| < ~4): the requested 1e-5 relative bound, with 1e-5 of
 * max |want| as the absolute floor for values that cancel to near zero. */
static void
test_pytorch_fixture (void)
{
  const char *file = "dsa_affine.safetensors";
  g_autofree gchar *path = ncfm_test_fixture_path (file);
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_test_fail_printf ("fixture %s not found: set NCFM_FIXTURES_DIR to tests/fixtures "
        "(regenerate with tests/fixtures/make-dsa-fixture.py)", path);
    return;
  }
  NcfmBackend *be = ncfm_test_cpu_backend ();
  int cases = 0;
  for (int i = 0;; i++) {
    g_autofree gchar *xname = g_strdup_printf ("case%d.x", i);
    gint64 sx[4];
    int rank = 0;
    gsize nx, n_theta, n_y, n_dy, n_dx;
    g_autofree float *x = ncfm_test_load_fixture_f32_shape (file, xname, &nx, sx, 4, &rank);
    if (!x)
      break;
    g_assert_cmpint (rank, ==, 4);
    g_autofree gchar *tname = g_strdup_printf ("case%d.theta", i);
    g_autofree gchar *yname = g_strdup_printf ("case%d.y", i);
    g_autofree gchar *dyname = g_strdup_printf ("case%d.dy", i);
    g_autofree gchar *dxname = g_strdup_printf ("case%d.dx", i);
    g_autofree float *theta = ncfm_test_load_fixture_f32 (file, tname, &n_theta);
    g_autofree float *want_y = ncfm_test_load_fixture_f32 (file, yname, &n_y);
    g_autofree float *dy = ncfm_test_load_fixture_f32 (file, dyname, &n_dy);
    g_autofree float *want_dx = ncfm_test_load_fixture_f32 (file, dxname, &n_dx);
    g_assert_true (theta && want_y && dy && want_dx);
    g_assert_cmpuint (n_theta, ==, (gsize) sx[0] * 6);
    g_assert_cmpuint (n_y, ==, nx);
    g_assert_cmpuint (n_dy, ==, nx);
    g_assert_cmpuint (n_dx, ==, nx);
    const int n = (int) sx[0], c = (int) sx[1], h = (int) sx[2], w = (int) sx[3];
    g_autofree float *y = g_new (float, nx), *dx = g_new (float, nx);
    be->ops->dsa_affine_forward (be, n, c, h, w, theta, x, y);
    be->ops->dsa_affine_backward (be, n, c, h, w, theta, dy, dx);
    double ymax = 0, dxmax = 0;
    for (size_t j = 0; j < nx; j++) {
      ymax = fmax (ymax, fabs (want_y[j]));
      dxmax = fmax (dxmax, fabs (want_dx[j]));
    }
    g_test_message ("fixture case %d: [%d,%d,%d,%d]", i, n, c, h, w);
    ncfm_test_assert_close ("fixture y", y, want_y, nx, 1e-5, 1e-5 * ymax);
    ncfm_test_assert_close ("fixture dx", dx, want_dx, nx, 1e-5, 1e-5 * dxmax);
    cases++;
  }
  g_assert_cmpint (cases, >=, 4);
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/dsa/values", test_values);
  g_test_add_func ("/kernels/dsa/affine-special", test_affine_special);
  g_test_add_func ("/kernels/dsa/adjoints", test_adjoints);
  g_test_add_func ("/kernels/dsa/gradcheck", test_gradcheck);
  g_test_add_func ("/kernels/dsa/pytorch-fixture", test_pytorch_fixture);
  return g_test_run ();
}
