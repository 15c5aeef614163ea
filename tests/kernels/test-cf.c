/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cf.c: characteristic functions and the NCFD/MMD objectives on the CPU
 * reference: the vectorised sin/cos against libm, cf_accumulate and
 * cf_backward_weights against naive double sums, the properties of NCFD, and
 * finite-difference checks of ncfd_forward_backward alone and of the whole
 * chain X, t -> phases -> CFs -> NCFD -> dX, dt. */
#include "test-util.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define EPS ((double) FLT_EPSILON)

/* The ulp of the float nearest v (the smallest subnormal at 0). */
static double
float_ulp (double v)
{
  float f = (float) fabs (v);
  if (f < FLT_MIN)
    return 0x1p-149;
  int e;
  frexpf (f, &e);
  return ldexp (1.0, e - 24);
}

/* sin and cos of x[0..m) through cf_accumulate with one row of one class
 * into zeroed sums: 0 + (0 + cos) is the op's cos itself. */
static void
op_sincos (NcfmBackend *be, int m, const float *x, float *s, float *c)
{
  int32_t label = 0;
  memset (s, 0, (size_t) m * sizeof (float));
  memset (c, 0, (size_t) m * sizeof (float));
  be->ops->cf_accumulate (be, 1, m, 1, x, &label, c, s);
}

/* The kernel's sin/cos is measured within 1.56 ulp of the correctly rounded
 * value for every float with |x| <= 1e5 (exhaustively, against double
 * sin/cos); beyond that it is libm in double (within 1 ulp).  Checked at
 * 2 ulp over a dense grid, the floats nearest multiples of pi/2 (where the
 * reduction cancels most), tiny and subnormal x, and huge/non-finite x. */
static void
test_sincos_accuracy (void)
{
  NcfmBackend *be = ncfm_test_cpu_backend ();
  enum { M = 1 << 16 };
  g_autofree float *x = g_new (float, M), *s = g_new (float, M), *c = g_new (float, M);
  double worst = 0.0;
  for (int set = 0; set < 20; set++) {
    for (int j = 0; j < M; j++) {
      if (set < 16) {           /* a grid over [-1e5, 1e5], 2^20 points */
        x[j] = (float) (-1e5 + 2e5 * ((double) set * M + j) / (16.0 * M - 1.0));
      } else if (set < 18) {    /* next to q pi/2, |q| < 2^15, and +-1 ulp */
        double q = (set == 16 ? 1.0 : -1.0) * (j / 3);
        float near = (float) (q * G_PI / 2);
        x[j] = j % 3 == 0 ? near : nextafterf (near, j % 3 == 1 ? INFINITY : -INFINITY);
      } else if (set == 18) {   /* tiny and subnormal magnitudes, both signs, 0 */
        x[j] = (float) ((j & 1 ? -1.0 : 1.0) * ldexp (1.0, -150 + (j >> 1) % 151)
            * (1.0 + (j >> 9) / 256.0));
      } else {                  /* beyond the fast range: 1e5 .. 1e20 */
        x[j] = (float) ((j & 1 ? -1.0 : 1.0) * pow (10.0, 5.0 + 15.0 * j / (double) M));
      }
    }
    op_sincos (be, M, x, s, c);
    for (int j = 0; j < M; j++) {
      double ws = sin (x[j]), wc = cos (x[j]);
      double es = fabs (s[j] - ws) / float_ulp (ws), ec = fabs (c[j] - wc) / float_ulp (wc);
      if (es > 2.0 || ec > 2.0 || !isfinite (s[j]) || !isfinite (c[j]))
        g_error ("sincos(%.9g): got (%.9g, %.9g), want (%.9g, %.9g): %.2f, %.2f ulp",
            x[j], s[j], c[j], ws, wc, es, ec);
      worst = fmax (worst, fmax (es, ec));
    }
  }
  g_test_message ("sincos: worst %.3f ulp", worst);

  /* non-finite phases give NaN, as libm does */
  float odd[3] = { INFINITY, -INFINITY, NAN };
  op_sincos (be, 3, odd, s, c);
  for (int j = 0; j < 3; j++)
    g_assert_true (isnan (s[j]) && isnan (c[j]));
  ncfm_backend_free (be);
}

/* Naive double per-class sums of cos/sin of phase [n, m], onto init [k, m]. */
static void
naive_accumulate (int n, int m, int k, const float *phase, const int32_t *labels,
    const float *init_c, const float *init_s, double *want_c, double *want_s)
{
  for (size_t x = 0; x < (size_t) k * m; x++) {
    want_c[x] = init_c[x];
    want_s[x] = init_s[x];
  }
  for (int i = 0; i < n; i++) {
    if (labels[i] < 0 || labels[i] >= k)
      continue;
    for (int j = 0; j < m; j++) {
      want_c[(size_t) labels[i] * m + j] += cos (phase[(size_t) i * m + j]);
      want_s[(size_t) labels[i] * m + j] += sin (phase[(size_t) i * m + j]);
    }
  }
}

static float *
to_float (const double *v, size_t n)
{
  float *f = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    f[i] = (float) v[i];
  return f;
}

static int
max_count (int n, int k, const int32_t *labels)
{
  g_autofree int *count = g_new0 (int, k);
  int best = 0;
  for (int i = 0; i < n; i++)
    if (labels[i] >= 0 && labels[i] < k)
      best = MAX (best, ++count[labels[i]]);
  return best;
}

/* Unsorted labels (many runs), invalid labels on rows with wild phases,
 * m over one 256-column chunk and not a multiple of 8, nonzero initial sums.
 * Tolerance: each of the n_c terms is off by <= 9.3e-8 < EPS, and summing
 * n_c + 1 operands of size <= max(1, |init|) in float, in any order, adds
 * <= n_c EPS/2 times their total (first order). */
static void
test_accumulate_vs_naive (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (21);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const int n = 70, m = 301, k = 4;
  const size_t km = (size_t) k * m;
  g_autofree float *phase = ncfm_test_new_uniform (rand, (size_t) n * m, -30.0f, 30.0f);
  int32_t labels[70];
  for (int i = 0; i < n; i++) {
    labels[i] = g_rand_int_range (rand, -1, k + 1);   /* -1 and k are skipped */
    if (labels[i] < 0 || labels[i] >= k)
      for (int j = 0; j < m; j++)
        phase[(size_t) i * m + j] = 1e30f;
  }
  g_autofree float *init_c = ncfm_test_new_uniform (rand, km, -2.0f, 2.0f);
  g_autofree float *init_s = ncfm_test_new_uniform (rand, km, -2.0f, 2.0f);
  g_autofree float *sc = g_memdup2 (init_c, km * sizeof (float));
  g_autofree float *ss = g_memdup2 (init_s, km * sizeof (float));
  g_autofree double *wc = g_new (double, km), *ws = g_new (double, km);
  be->ops->cf_accumulate (be, n, m, k, phase, labels, sc, ss);
  naive_accumulate (n, m, k, phase, labels, init_c, init_s, wc, ws);
  g_autofree float *fwc = to_float (wc, km), *fws = to_float (ws, km);
  const int nc = max_count (n, k, labels);
  const double atol = nc * EPS + nc * EPS / 2 * (nc + 2.0);
  ncfm_test_assert_close ("sum_cos", sc, fwc, km, 0.0, atol);
  ncfm_test_assert_close ("sum_sin", ss, fws, km, 0.0, atol);

  /* the halves of a batch added in two calls give the full batch: the terms
   * are the same floats, only the summation differs (n_c EPS/2 n_c each) */
  float *half_c = g_new0 (float, km), *half_s = g_new0 (float, km);
  float *full_c = g_new0 (float, km), *full_s = g_new0 (float, km);
  be->ops->cf_accumulate (be, n, m, k, phase, labels, full_c, full_s);
  be->ops->cf_accumulate (be, 31, m, k, phase, labels, half_c, half_s);
  be->ops->cf_accumulate (be, n - 31, m, k, phase + (size_t) 31 * m, labels + 31, half_c,
      half_s);
  ncfm_test_assert_close ("halves cos", half_c, full_c, km, 0.0, nc * EPS * nc);
  ncfm_test_assert_close ("halves sin", half_s, full_s, km, 0.0, nc * EPS * nc);

  /* a batch of invalid labels only leaves the sums untouched, bit for bit */
  int32_t bad[2] = { -5, k };
  memcpy (half_c, full_c, km * sizeof (float));
  memcpy (half_s, full_s, km * sizeof (float));
  be->ops->cf_accumulate (be, 2, m, k, phase, bad, half_c, half_s);
  g_assert_cmpmem (half_c, km * sizeof (float), full_c, km * sizeof (float));
  g_assert_cmpmem (half_s, km * sizeof (float), full_s, km * sizeof (float));
  g_free (half_c);
  g_free (half_s);
  g_free (full_c);
  g_free (full_s);
  ncfm_backend_free (be);
}

/* w = scale (-sin g_re + cos g_im): sin/cos within EPS each, then three float
 * roundings: 3 EPS of scale (|g_re| + |g_im|) covers both.  Bad rows are 0. */
static void
test_backward_weights_vs_naive (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (22);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const int n = 9, m = 530, k = 3;
  const size_t nm = (size_t) n * m, km = (size_t) k * m;
  g_autofree float *phase = ncfm_test_new_uniform (rand, nm, -50.0f, 50.0f);
  g_autofree float *g_re = ncfm_test_new_uniform (rand, km, -1.0f, 1.0f);
  g_autofree float *g_im = ncfm_test_new_uniform (rand, km, -1.0f, 1.0f);
  float scale[3] = { 0.25f, 1.0f / 3.0f, 2.0f };
  int32_t labels[9] = { 2, 0, 0, -1, 1, 2, 3, 1, 0 };
  g_autofree float *w = g_memdup2 (phase, nm * sizeof (float));
  g_autofree float *want = g_new (float, nm);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < m; j++) {
      const size_t x = (size_t) i * m + j;
      const int c = labels[i];
      want[x] = c < 0 || c >= k ? 0.0f : (float) (scale[c]
          * (-sin (phase[x]) * g_re[(size_t) c * m + j] + cos (phase[x]) * g_im[(size_t) c * m + j]));
    }
  be->ops->cf_backward_weights (be, n, m, k, labels, g_re, g_im, scale, w);
  ncfm_test_assert_close ("cf weights", w, want, nm, 0.0, 3 * EPS * 2.0 * 2.0);
  for (int j = 0; j < m; j++)
    g_assert_true (w[3 * (size_t) m + j] == 0.0f && w[6 * (size_t) m + j] == 0.0f);
  ncfm_backend_free (be);
}

/* |phi| of one point is 1: with c, s off by < EPS each, c^2 + s^2 - 1 is
 * within 2 sqrt(2) EPS + EPS^2 < 3 EPS (evaluated in double). */
static void
test_single_point_modulus (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (23);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const int d = 16, m = 2000;
  g_autofree float *x = g_new (float, d), *t = g_new (float, (size_t) m * d);
  ncfm_test_fill_normal (rand, x, d, 1.0f);
  ncfm_test_fill_normal (rand, t, (size_t) m * d, 200.0f);   /* phases up to ~1e3 */
  g_autofree float *phase = g_new (float, m), *s = g_new0 (float, m), *c = g_new0 (float, m);
  be->ops->linear_forward (be, 1, d, m, x, t, NULL, phase);
  int32_t label = 0;
  be->ops->cf_accumulate (be, 1, m, 1, phase, &label, c, s);
  for (int j = 0; j < m; j++)
    g_assert_cmpfloat_with_epsilon ((double) c[j] * c[j] + (double) s[j] * s[j], 1.0, 3 * EPS);
  ncfm_backend_free (be);
}

/* Random CFs with moduli in [lo, hi]: re/im of k*m points. */
static void
fill_cf (GRand *rand, size_t n, double lo, double hi, float *re, float *im)
{
  for (size_t x = 0; x < n; x++) {
    double r = g_rand_double_range (rand, lo, hi), a = g_rand_double_range (rand, -G_PI, G_PI);
    re[x] = (float) (r * cos (a));
    im[x] = (float) (r * sin (a));
  }
}

/* NCFD straight from the method card, in double. */
static double
naive_ncfd (int m, double alpha, double beta, double scale, const float *rr, const float *ir,
    const float *rs, const float *is)
{
  double total = 0.0;
  for (int j = 0; j < m; j++) {
    double ar = hypot (rr[j], ir[j]), as = hypot (rs[j], is[j]);
    double pha = fmax (2.0 * (ar * as - (double) rr[j] * rs[j] - (double) ir[j] * is[j]), 1e-12);
    total += sqrt (alpha * (ar - as) * (ar - as) + beta * pha);
  }
  return scale * total / m;
}

/* Values against the double definition (the op rounds a double result to
 * float: 1 ulp; the cancellation in the phase term is ~8 DBL_EPSILON, seen
 * through the root as scale sqrt(beta 8 DBL_EPSILON) at most); equal CFs
 * give scale sqrt(beta 1e-12) and zero gradients; swapping real and
 * synthetic swaps the gradients and keeps the loss. */
static void
test_ncfd_values (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (24);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  enum { K = 3, M = 333 };
  float rr[K * M], ir[K * M], rs[K * M], is[K * M], loss[K], loss2[K];
  float g[4][K * M], h[4][K * M];
  fill_cf (rand, K * M, 0.0, 1.0, rr, ir);
  fill_cf (rand, K * M, 0.0, 1.0, rs, is);
  const float scale = 300.0f;
  const float ab[3][2] = { { 0.5f, 0.5f }, { 0.8f, 0.2f }, { 0.0f, 1.0f } };
  for (int v = 0; v < 3; v++) {
    const float alpha = ab[v][0], beta = ab[v][1];
    be->ops->ncfd_forward_backward (be, K, M, alpha, beta, scale, rr, ir, rs, is, loss,
        g[0], g[1], g[2], g[3]);
    for (int c = 0; c < K; c++) {
      double want = naive_ncfd (M, alpha, beta, scale, rr + c * M, ir + c * M, rs + c * M,
          is + c * M);
      g_assert_cmpfloat_with_epsilon (loss[c], want,
          EPS * want + scale * sqrt (beta * 8 * DBL_EPSILON));
    }
    /* symmetric in real/synthetic (amp and pha both are): exact here, since
     * the op evaluates the same products with the roles swapped */
    be->ops->ncfd_forward_backward (be, K, M, alpha, beta, scale, rs, is, rr, ir, loss2,
        h[0], h[1], h[2], h[3]);
    ncfm_test_assert_close ("ncfd swapped loss", loss2, loss, K, EPS, 0.0);
    ncfm_test_assert_close ("ncfd swapped g_re", h[0], g[2], K * M, EPS, 0.0);
    ncfm_test_assert_close ("ncfd swapped g_im", h[1], g[3], K * M, EPS, 0.0);
  }

  /* equal CFs: amp is exactly 0, pha (~DBL_EPSILON) is clamped to 1e-12 */
  const float beta = 0.5f;
  be->ops->ncfd_forward_backward (be, K, M, 0.5f, beta, scale, rr, ir, rr, ir, loss,
      g[0], g[1], NULL, NULL);
  for (int c = 0; c < K; c++)
    g_assert_cmpfloat_with_epsilon (loss[c], scale * sqrt (beta * 1e-12),
        2 * EPS * scale * sqrt (beta * 1e-12));
  for (int x = 0; x < K * M; x++)
    g_assert_true (g[0][x] == 0.0f && g[1][x] == 0.0f);
  /* beta = 0 and equal CFs: the root is 0, a kink; the gradient there is 0 */
  be->ops->ncfd_forward_backward (be, K, M, 1.0f, 0.0f, scale, rr, ir, rr, ir, loss,
      g[0], g[1], g[2], g[3]);
  for (int x = 0; x < K * M; x++)
    g_assert_true (g[0][x] == 0.0f && g[1][x] == 0.0f && g[2][x] == 0.0f && g[3][x] == 0.0f);
  g_assert_true (loss[0] == 0.0f && loss[K - 1] == 0.0f);
  ncfm_backend_free (be);
}

typedef struct {
  NcfmBackend *be;
  int k, m;
  float alpha, beta, scale;
  float *rr, *ir, *rs, *is;
} NcfdCtx;

static double
ncfd_loss (gpointer data)
{
  NcfdCtx *c = data;
  float loss[8];
  c->be->ops->ncfd_forward_backward (c->be, c->k, c->m, c->alpha, c->beta, c->scale,
      c->rr, c->ir, c->rs, c->is, loss, NULL, NULL, NULL, NULL);
  double s = 0.0;
  for (int i = 0; i < c->k; i++)
    s += loss[i];
  return s;
}

/* The floor fraction of max |g| below which gradcheck judges absolutely: the
 * loss carries `noise` of rounding, so a central difference of step h is
 * off by noise / h; keep that under a quarter of tol times the floor. */
static double
noise_floor (double noise, double h, double tol, const float *g, size_t n)
{
  double gmax = 0.0;
  for (size_t i = 0; i < n; i++)
    gmax = fmax (gmax, fabs (g[i]));
  return fmax (1e-3, 4.0 * noise / h / (tol * gmax));
}

/* Both regimes: independent CFs (moduli in [0.3, 1]), and phi_s = lambda
 * phi_r (identical phases: the phase term clamped, and its h^2 growth under
 * a step cancels in central differences only to O(beta h^2 / (alpha a^2)),
 * a = |ar - as| >= 0.3 * 0.5 here, so the step is halved).  Truncation:
 * (h / |phi|)^2 or (h / a)^2 times beta / alpha, a few 1e-3.  The loss is k
 * floats of size <= scale, rounded to half an ulp: noise k EPS scale / 2. */
static void
test_ncfd_gradcheck (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (25);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  enum { K = 3, M = 8, KM = K * M };
  float rr[KM], ir[KM], rs[KM], is[KM], g[4][KM];
  NcfdCtx c = { be, K, M, 0.3f, 0.7f, 300.0f, rr, ir, rs, is };
  const double tol = 1e-2, noise = K * EPS * c.scale / 2;
  for (int regime = 0; regime < 2; regime++) {
    const double h = regime == 0 ? 1e-2 : 5e-3;
    if (regime == 0) {
      fill_cf (rand, KM, 0.3, 1.0, rr, ir);
      fill_cf (rand, KM, 0.3, 1.0, rs, is);
    } else {
      fill_cf (rand, KM, 0.5, 1.0, rr, ir);
      for (int x = 0; x < KM; x++) {
        double lambda = g_rand_double_range (rand, 0.3, 0.7) + (x & 1 ? 1.0 : 0.0);
        rs[x] = (float) (lambda * rr[x]);
        is[x] = (float) (lambda * ir[x]);
      }
    }
    float loss[K];
    be->ops->ncfd_forward_backward (be, K, M, c.alpha, c.beta, c.scale, rr, ir, rs, is, loss,
        g[0], g[1], g[2], g[3]);
    float *inputs[4] = { rs, is, rr, ir };
    const char *names[2][4] = { { "ncfd d re_s", "ncfd d im_s", "ncfd d re_r", "ncfd d im_r" },
      { "clamped ncfd d re_s", "clamped ncfd d im_s", "clamped ncfd d re_r",
        "clamped ncfd d im_r" } };
    for (int v = 0; v < 4; v++)
      ncfm_test_gradcheck_floor (names[regime][v], inputs[v], g[v], KM, ncfd_loss, &c, h,
          tol, KM, rand, noise_floor (noise, h, tol, g[v], KM));
  }
  ncfm_backend_free (be);
}

/* The whole chain at small sizes. */
typedef struct {
  NcfmBackend *be;
  int n, d, m, k;
  float alpha, beta, scale;
  float *x, *t, *rr, *ir;     /* inputs; fixed real CFs [k, m] */
  const int32_t *labels;
  float *inv_count;           /* [k] */
  float *phase, *rs, *is, *loss;
} ChainCtx;

static void
chain_forward (ChainCtx *c)
{
  const size_t km = (size_t) c->k * c->m;
  c->be->ops->linear_forward (c->be, c->n, c->d, c->m, c->x, c->t, NULL, c->phase);
  memset (c->rs, 0, km * sizeof (float));
  memset (c->is, 0, km * sizeof (float));
  c->be->ops->cf_accumulate (c->be, c->n, c->m, c->k, c->phase, c->labels, c->rs, c->is);
  for (size_t x = 0; x < km; x++) {
    c->rs[x] *= c->inv_count[x / c->m];
    c->is[x] *= c->inv_count[x / c->m];
  }
}

static double
chain_loss (gpointer data)
{
  ChainCtx *c = data;
  chain_forward (c);
  c->be->ops->ncfd_forward_backward (c->be, c->k, c->m, c->alpha, c->beta, c->scale, c->rr,
      c->ir, c->rs, c->is, c->loss, NULL, NULL, NULL, NULL);
  double s = 0.0;
  for (int i = 0; i < c->k; i++)
    s += c->loss[i];
  return s;
}

/* X_s [n, d], t [m, d] -> phases (linear_forward) -> per-class CFs
 * (cf_accumulate / counts) -> NCFD vs fixed real CFs; backward through
 * cf_backward_weights and one linear_backward; dX and dt by differences.
 * Rounding noise of the loss: each CF component is off by ~EPS (1 + d |x||t|)
 * (the sin/cos, and the phase's d-term float dot product, through a
 * derivative <= 1), and |dL/dCF| <= scale / m * 2 per component, over 2 k m
 * components: noise <= 4 k scale EPS (1 + d max|x||t|). */
static void
test_chain_gradcheck (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (26);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  enum { N = 11, D = 5, M = 7, K = 3 };
  int32_t labels[N] = { 0, 0, 2, 1, 0, 2, 0, 0, 1, 0, 2 };   /* counts 6, 2, 3 */
  float inv_count[K] = { 1.0f / 6, 1.0f / 2, 1.0f / 3 };
  float rr[K * M], ir[K * M], rs[K * M], is[K * M], loss[K], g_re[K * M], g_im[K * M];
  float phase[N * M], w[N * M], dx[N * D], dt[M * D];
  g_autofree float *x = g_new (float, N * D), *t = g_new (float, M * D);
  ncfm_test_fill_uniform (rand, x, N * D, -0.6f, 0.6f);
  ncfm_test_fill_normal (rand, t, M * D, 1.5f);
  fill_cf (rand, K * M, 0.2, 0.9, rr, ir);
  ChainCtx c = { be, N, D, M, K, 0.7f, 0.3f, 300.0f, x, t, rr, ir, labels, inv_count,
    phase, rs, is, loss };

  chain_loss (&c);
  be->ops->ncfd_forward_backward (be, K, M, c.alpha, c.beta, c.scale, rr, ir, rs, is, loss,
      g_re, g_im, NULL, NULL);
  memcpy (w, phase, sizeof phase);
  be->ops->cf_backward_weights (be, N, M, K, labels, g_re, g_im, inv_count, w);
  be->ops->linear_backward (be, N, D, M, x, t, w, dx, dt, NULL);

  double xt = 0.0;
  for (int i = 0; i < N * D; i++)
    for (int j = 0; j < M * D; j++)
      xt = fmax (xt, fabs (x[i]) * fabs (t[j]));
  const double h = 1e-2, tol = 2e-2;
  const double noise = 4.0 * K * c.scale * EPS * (1.0 + D * xt);
  ncfm_test_gradcheck_floor ("chain dL/dX", x, dx, N * D, chain_loss, &c, h, tol, N * D,
      rand, noise_floor (noise, h, tol, dx, N * D));
  ncfm_test_gradcheck_floor ("chain dL/dt", t, dt, M * D, chain_loss, &c, h, tol, M * D,
      rand, noise_floor (noise, h, tol, dt, M * D));
  ncfm_backend_free (be);
}

typedef struct {
  NcfmBackend *be;
  int n_r, n_s, d;
  float *x_r, *x_s;
} MmdCtx;

static double
mmd_loss (gpointer data)
{
  MmdCtx *c = data;
  float loss;
  g_autofree float *g = g_new (float, (size_t) c->n_s * c->d);
  c->be->ops->mmd_forward_backward (c->be, c->n_r, c->n_s, c->d, c->x_r, c->x_s, &loss, g,
      NULL);
  return loss;
}

/* The op works in double and rounds once: loss and gradients within 1 ulp
 * (+ the double sums' ~n DBL_EPSILON, far below).  The gradient is linear
 * in x, so central differences are exact up to the loss's float rounding. */
static void
test_mmd (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (27);
  NcfmBackend *be = ncfm_test_cpu_backend ();
  const int n_r = 13, n_s = 4, d = 300;
  g_autofree float *x_r = ncfm_test_new_uniform (rand, (size_t) n_r * d, -1.0f, 1.0f);
  g_autofree float *x_s = ncfm_test_new_uniform (rand, (size_t) n_s * d, -1.0f, 1.0f);
  g_autofree float *g_s = g_new (float, (size_t) n_s * d), *g_r = g_new (float, (size_t) n_r * d);
  g_autofree float *want_s = g_new (float, (size_t) n_s * d);
  g_autofree float *want_r = g_new (float, (size_t) n_r * d);
  float loss;
  be->ops->mmd_forward_backward (be, n_r, n_s, d, x_r, x_s, &loss, g_s, g_r);
  double want = 0.0;
  for (int j = 0; j < d; j++) {
    double mr = 0.0, ms = 0.0;
    for (int i = 0; i < n_r; i++)
      mr += x_r[(size_t) i * d + j];
    for (int i = 0; i < n_s; i++)
      ms += x_s[(size_t) i * d + j];
    double diff = mr / n_r - ms / n_s;
    want += diff * diff;
    for (int i = 0; i < n_s; i++)
      want_s[(size_t) i * d + j] = (float) (-2.0 * diff / n_s);
    for (int i = 0; i < n_r; i++)
      want_r[(size_t) i * d + j] = (float) (2.0 * diff / n_r);
  }
  g_assert_cmpfloat_with_epsilon (loss, want, EPS * want);
  ncfm_test_assert_close ("mmd g_s", g_s, want_s, (size_t) n_s * d, EPS, 1e-12);
  ncfm_test_assert_close ("mmd g_r", g_r, want_r, (size_t) n_r * d, EPS, 1e-12);

  MmdCtx c = { be, n_r, n_s, d, x_r, x_s };
  const double h = 1e-2, tol = 1e-2, noise = EPS * want;
  ncfm_test_gradcheck_floor ("mmd d x_s", x_s, g_s, (size_t) n_s * d, mmd_loss, &c, h, tol,
      200, rand, noise_floor (noise, h, tol, g_s, (size_t) n_s * d));
  ncfm_test_gradcheck_floor ("mmd d x_r", x_r, g_r, (size_t) n_r * d, mmd_loss, &c, h, tol,
      200, rand, noise_floor (noise, h, tol, g_r, (size_t) n_r * d));
  ncfm_backend_free (be);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/cf/sincos-accuracy", test_sincos_accuracy);
  g_test_add_func ("/kernels/cf/accumulate-vs-naive", test_accumulate_vs_naive);
  g_test_add_func ("/kernels/cf/backward-weights-vs-naive", test_backward_weights_vs_naive);
  g_test_add_func ("/kernels/cf/single-point-modulus", test_single_point_modulus);
  g_test_add_func ("/kernels/cf/ncfd-values", test_ncfd_values);
  g_test_add_func ("/kernels/cf/ncfd-gradcheck", test_ncfd_gradcheck);
  g_test_add_func ("/kernels/cf/chain-gradcheck", test_chain_gradcheck);
  g_test_add_func ("/kernels/cf/mmd", test_mmd);
  return g_test_run ();
}
