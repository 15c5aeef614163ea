/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cf-structured.c: the CF statistics and the NCFD at a frequency draw
 * (ncfm_cf_stats_accumulate_draw, ncfm_ncfd_synthetic_draw and the real
 * side's backward after it).  A structured draw takes the fast Hadamard
 * path: it agrees with the GEMM path on the same materialised t (sums, class
 * losses, dL/dx of both sides, dL/dt), never reads t, and its dL/dx passes
 * finite differences; a Gaussian draw takes the GEMM path bit for bit; bad
 * shapes are refused by name. */
#include <math.h>
#include <string.h>

#include "libncfm-test.h"

#define K 3
#define N_REAL 50
#define N_SYN 12

typedef struct {
  NcfmDevice *dev;
  NcfmFreqDraw *draw;
  NcfmTensor *xr, *lr, *xs, *ls;
  guint m, d;
} Case;

/* One draw of @kind (M = @m, d = @d) and random real and synthetic rows of
 * K classes. */
static void
case_init (Case *c, NcfmSamplerKind kind, guint m, guint d, guint32 seed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  c->dev = ncfm_test_cpu_device ();
  c->m = m;
  c->d = d;
  g_autoptr (NcfmSampler) s = kind == NCFM_SAMPLER_STRUCTURED
      ? ncfm_sampler_new_structured (c->dev, m, d, 1.0f, seed, &error)
      : ncfm_sampler_new_gaussian (c->dev, m, d, 1.0f, seed, &error);
  g_assert_no_error (error);
  c->draw = ncfm_sampler_draw (s, NULL, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ncfm_freq_draw_get_structure (c->draw, NULL, NULL), ==,
      kind == NCFM_SAMPLER_STRUCTURED);
  c->xr = ncfm_test_random_tensor (c->dev, rand, N_REAL, d, 1.0f);
  c->xs = ncfm_test_random_tensor (c->dev, rand, N_SYN, d, 1.0f);
  c->lr = ncfm_test_labels_tensor (c->dev, N_REAL, K);
  c->ls = ncfm_test_labels_tensor (c->dev, N_SYN, K);
}

static void
case_clear (Case *c)
{
  NcfmTensor *tensors[] = { c->xr, c->lr, c->xs, c->ls };
  for (guint i = 0; i < G_N_ELEMENTS (tensors); i++)
    g_object_unref (tensors[i]);
  g_object_unref (c->draw);
  g_object_unref (c->dev);
}

/* Everything one pass computes, as host copies (dL/dt only when asked for). */
enum { SUM_COS, SUM_SIN, CLASS_LOSS, GRAD_SYN, GRAD_REAL, GRAD_T, N_ARRAYS };
typedef struct {
  float *a[N_ARRAYS];
} Pass;

static const gchar *array_names[N_ARRAYS] = { "sum cos", "sum sin", "class loss", "dL/dx_s",
  "dL/dx_r", "dL/dt" };

static gsize
array_size (Case *c, guint a)
{
  const gsize sizes[N_ARRAYS] = { K * c->m, K * c->m, K, N_SYN * c->d, N_REAL * c->d,
    c->m * c->d };
  return sizes[a];
}

static void
pass_clear (Pass *p)
{
  for (guint a = 0; a < N_ARRAYS; a++)
    g_free (p->a[a]);
}

/* Stats, loss and gradients of the case: at @t by the t-taking calls, or,
 * with @t NULL, at the case's draw by the draw-taking calls. */
static Pass
run_pass (Case *c, NcfmTensor *t, gboolean grad_t)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmCFStats) stats = ncfm_cf_stats_new (c->dev, K, c->m, c->d, TRUE, &error);
  g_autoptr (NcfmNcfd) loss = ncfm_ncfd_new (c->dev, NCFM_METRIC_NCFD, 0.5f, 0.5f, &error);
  g_assert_no_error (error);
  if (t) {
    g_assert_true (ncfm_cf_stats_accumulate (stats, c->xr, c->lr, t, &error));
    g_assert_true (ncfm_ncfd_synthetic (loss, stats, c->xs, c->ls, t, grad_t, &error));
  } else {
    g_assert_true (ncfm_cf_stats_accumulate_draw (stats, c->xr, c->lr, c->draw, &error));
    g_assert_true (ncfm_ncfd_synthetic_draw (loss, stats, c->xs, c->ls, c->draw, grad_t,
            &error));
  }
  g_assert_true (ncfm_ncfd_real_backward (loss, c->xr, c->lr, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (isfinite (ncfm_ncfd_get_loss (loss)) && ncfm_ncfd_get_loss (loss) > 0);
  Pass p = { {
    [SUM_COS] = ncfm_test_tensor_host (ncfm_cf_stats_get_sum_cos (stats)),
    [SUM_SIN] = ncfm_test_tensor_host (ncfm_cf_stats_get_sum_sin (stats)),
    [CLASS_LOSS] = ncfm_test_tensor_host (ncfm_ncfd_get_class_losses (loss)),
    [GRAD_SYN] = ncfm_test_tensor_host (ncfm_ncfd_get_grad_syn_features (loss)),
    [GRAD_REAL] = ncfm_test_tensor_host (ncfm_ncfd_get_grad_real_features (loss)),
  } };
  g_assert_cmpint (ncfm_ncfd_get_grad_t (loss) != NULL, ==, grad_t);
  if (grad_t)
    p.a[GRAD_T] = ncfm_test_tensor_host (ncfm_ncfd_get_grad_t (loss));
  return p;
}

/* max |got - want| / max |want| of every array of the pass (both have dL/dt
 * or neither) to @rtol. */
static void
assert_passes_close (Case *c, Pass *got, Pass *want, double rtol)
{
  for (guint a = 0; a < N_ARRAYS; a++) {
    const float *g = got->a[a], *w = want->a[a];
    g_assert_cmpint (g != NULL, ==, w != NULL);
    if (!w)
      continue;
    double diff = 0, scale = 0;
    for (gsize i = 0; i < array_size (c, a); i++) {
      g_assert_true (isfinite (g[i]));
      diff = fmax (diff, fabs ((double) g[i] - w[i]));
      scale = fmax (scale, fabs ((double) w[i]));
    }
    g_test_message ("M %u, d %u: %s: fast vs GEMM max |diff| / max |GEMM| = %.2e", c->m, c->d,
        array_names[a], diff / scale);
    g_assert_cmpfloat (scale, >, 0);
    g_assert_cmpfloat (diff, <=, rtol * scale);
  }
}

static void
assert_passes_equal (Case *c, Pass *got, Pass *want)
{
  for (guint a = 0; a < N_ARRAYS; a++) {
    const gsize bytes = array_size (c, a) * sizeof (float);
    g_assert_cmpint (got->a[a] != NULL, ==, want->a[a] != NULL);
    if (want->a[a])
      g_assert_cmpmem (got->a[a], bytes, want->a[a], bytes);
  }
}

static NcfmTensor *
copy_of (NcfmTensor *t)
{
  guint nd = 0;
  const gint64 *shape = ncfm_tensor_get_shape (t, &nd);
  NcfmTensor *y = ncfm_tensor_new (ncfm_tensor_get_device (t), NCFM_DTYPE_F32, shape, nd, NULL);
  g_assert_true (ncfm_tensor_copy_from (y, t, NULL));
  return y;
}

/* Structured draws: the draw path against the GEMM path on a copy of the
 * draw's t, to 1e-5 of each array's scale (the phases differ by a few
 * roundings of |<x, t>| <= ||t|| ~ sqrt(d) over 3 log2 p butterfly stages,
 * ~1e-6 of the scale; a wrong transform is off by O(1)).  Then the draw's t
 * is overwritten with NaN: the fast path, which never reads t, gives the
 * same bits again, so these runs did take it.  Without dL/dt the fast
 * transforms also give dL/dx; with it the GEMMs do, after fast phases. */
static void
test_fast_vs_gemm (void)
{
  const guint shapes[][2] = {
    { 80, 24 },      /* p = 32: two blocks and a short one, d not a power of two */
    { 512, 256 },    /* p = d = 256: exactly orthogonal blocks */
  };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    Case c;
    case_init (&c, NCFM_SAMPLER_STRUCTURED, shapes[s][0], shapes[s][1], 31 + s);
    g_autoptr (NcfmTensor) t = copy_of (ncfm_freq_draw_get_t (c.draw));
    for (guint grad_t = 0; grad_t < 2; grad_t++) {
      Pass fast = run_pass (&c, NULL, grad_t), gemm = run_pass (&c, t, grad_t);
      assert_passes_close (&c, &fast, &gemm, 1e-5);
      if (!grad_t) {
        ncfm_tensor_fill (ncfm_freq_draw_get_t (c.draw), NAN, NULL);
        Pass again = run_pass (&c, NULL, FALSE);
        assert_passes_equal (&c, &again, &fast);
        pass_clear (&again);
        g_assert_true (ncfm_tensor_copy_from (ncfm_freq_draw_get_t (c.draw), t, NULL));
      }
      pass_clear (&fast);
      pass_clear (&gemm);
    }
    case_clear (&c);
  }
}

/* A Gaussian draw: the draw path is the GEMM path, bit for bit, with and
 * without dL/dt (what keeps the distillation pins). */
static void
test_gaussian_bitwise (void)
{
  Case c;
  case_init (&c, NCFM_SAMPLER_GAUSSIAN, 80, 24, 41);
  for (guint grad_t = 0; grad_t < 2; grad_t++) {
    Pass by_draw = run_pass (&c, NULL, grad_t);
    Pass by_t = run_pass (&c, ncfm_freq_draw_get_t (c.draw), grad_t);
    assert_passes_equal (&c, &by_draw, &by_t);
    pass_clear (&by_draw);
    pass_clear (&by_t);
  }
  case_clear (&c);
}

/* ---- finite differences of dL/dx through the fast path ---- */

typedef struct {
  Case *c;
  NcfmNcfd *loss;
} FdCtx;

static double
fd_loss (gpointer data)
{
  FdCtx *f = data;
  Case *c = f->c;
  g_autoptr (NcfmCFStats) stats = ncfm_cf_stats_new (c->dev, K, c->m, c->d, TRUE, NULL);
  g_assert_true (ncfm_cf_stats_accumulate_draw (stats, c->xr, c->lr, c->draw, NULL));
  g_assert_true (ncfm_ncfd_synthetic_draw (f->loss, stats, c->xs, c->ls, c->draw, FALSE, NULL));
  g_assert_true (ncfm_ncfd_real_backward (f->loss, c->xr, c->lr, TRUE, NULL));
  return ncfm_ncfd_get_loss (f->loss);
}

/* As the objective's check in test-ncfd: float32 CFs make the x300 loss
 * carry ~1e-4 of rounding, ~5e-3 of noise in a 2h = 2e-2 quotient; entries
 * are judged on at least 5 % of the largest, to 2 %. */
static void
test_gradcheck (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (43);
  Case c;
  case_init (&c, NCFM_SAMPLER_STRUCTURED, 80, 24, 43);
  FdCtx f = { &c, ncfm_ncfd_new (c.dev, NCFM_METRIC_NCFD, 0.6f, 0.4f, NULL) };
  fd_loss (&f);
  g_autofree float *gs = ncfm_test_tensor_host (ncfm_ncfd_get_grad_syn_features (f.loss));
  g_autofree float *gr = ncfm_test_tensor_host (ncfm_ncfd_get_grad_real_features (f.loss));
  ncfm_test_gradcheck_floor ("fast path d/dsyn", ncfm_tensor_f32 (c.xs), gs, N_SYN * c.d,
      fd_loss, &f, 1e-2, 2e-2, 48, rand, 5e-2);
  ncfm_test_gradcheck_floor ("fast path d/dreal", ncfm_tensor_f32 (c.xr), gr, N_REAL * c.d,
      fd_loss, &f, 1e-2, 2e-2, 48, rand, 5e-2);
  g_object_unref (f.loss);
  case_clear (&c);
}

/* Shapes that do not fit the draw are refused, naming the tensor. */
static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  Case c;
  case_init (&c, NCFM_SAMPLER_STRUCTURED, 80, 24, 47);
  g_autoptr (NcfmTensor) dphase = ncfm_tensor_new (c.dev, NCFM_DTYPE_F32,
      (gint64[]) { 7, 80 }, 2, NULL);
  g_autoptr (NcfmTensor) dx = ncfm_tensor_new (c.dev, NCFM_DTYPE_F32, (gint64[]) { 7, 23 }, 2,
      NULL);
  g_assert_false (ncfm_freq_draw_phases_backward (c.draw, dphase, dx, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_SHAPE,
      "draw phases backward: dx must be F32 [7, 24]");
  g_assert_false (ncfm_freq_draw_phases_backward (c.draw, dx, dx, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_SHAPE,
      "draw phases backward: dx must be F32 [7, 24]");

  /* statistics of 64 frequencies, a draw of 80 */
  g_autoptr (NcfmCFStats) stats = ncfm_cf_stats_new (c.dev, K, 64, c.d, TRUE, &error);
  g_assert_false (ncfm_cf_stats_accumulate_draw (stats, c.xr, c.lr, c.draw, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_SHAPE,
      "frequencies t must be F32 [64, 24]");
  g_assert_cmpint (ncfm_cf_stats_get_count (stats, 0), ==, 0);
  g_autoptr (NcfmNcfd) loss = ncfm_ncfd_new (c.dev, NCFM_METRIC_NCFD, 0.5f, 0.5f, &error);
  g_assert_false (ncfm_ncfd_synthetic_draw (loss, stats, c.xs, c.ls, c.draw, FALSE, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_SHAPE,
      "frequencies t must be F32 [64, 24]");
  g_assert_null (ncfm_ncfd_get_grad_syn_features (loss));
  case_clear (&c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cf-structured/fast-vs-gemm", test_fast_vs_gemm);
  g_test_add_func ("/cf-structured/gaussian-bitwise", test_gaussian_bitwise);
  g_test_add_func ("/cf-structured/gradcheck", test_gradcheck);
  g_test_add_func ("/cf-structured/errors", test_errors);
  return g_test_run ();
}
