/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/cf.c: characteristic functions, their backward weights, NCFD and
 * MMD, CUDA vs CPU. */
#include "parity.h"

#include <float.h>
#include <math.h>

#define EPS ((double) FLT_EPSILON)

/* Phases as the pipeline makes them (features . Gaussian frequencies, a few
 * units), with some rows far out (fast path bound 1e5 and beyond). */
static float *
new_phases (GRand *rand, int n, int m)
{
  float *p = g_new (float, (size_t) n * m);
  ncfm_test_fill_normal (rand, p, (size_t) n * m, 3.0f);
  for (int i = 0; i < n; i += 17)
    for (int j = 0; j < m; j++)
      p[(size_t) i * m + j] *= (j & 1) ? 3e3f : 1e5f;
  return p;
}

/* cf_accumulate and cf_backward_weights on the same phases.  Labels: random
 * (many runs) or sorted (one run per class), a few out of range.
 *
 * Sums: the CPU's sin/cos are within 9.3e-8 < EPS of exact, CUDA's within
 * 2 ulp <= EPS (|value| <= 1); both sum a class's n_c terms onto the
 * initial value (|init| <= 1) in the same order, each within n_c EPS/2 of the
 * exact sum times the total of |operands| (n_c + 1): atol 2 n_c EPS +
 * n_c EPS (n_c + 1).
 * Weights: scale (c g_im - s g_re) with c, s off by <= 2 EPS between the
 * backends and three roundings on each: 5 EPS scale (|g_re| + |g_im|). */
static void
run_cf_case (const ParityEnv *env, int n, int m, int k, gboolean sorted, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  const size_t nm = (size_t) n * m, km = (size_t) k * m;
  g_autofree float *phase = new_phases (rand, n, m);
  g_autofree int32_t *labels = g_new (int32_t, n);
  g_autofree int *count = g_new0 (int, k);
  int nc = 0;
  for (int i = 0; i < n; i++) {
    labels[i] = sorted ? (int32_t) ((long) i * k / n) : g_rand_int_range (rand, 0, k);
    if (i % 29 == 5)
      labels[i] = i & 1 ? -1 : k;   /* skipped */
    else
      nc = MAX (nc, ++count[labels[i]]);
  }
  g_autofree float *sum_c = ncfm_test_new_uniform (rand, km, -1.0f, 1.0f);
  g_autofree float *sum_s = ncfm_test_new_uniform (rand, km, -1.0f, 1.0f);
  float *d_phase = parity_upload (env->gpu, phase, nm);
  int32_t *d_labels = parity_upload_bytes (env->gpu, labels, (size_t) n * sizeof (int32_t));
  float *d_sum_c = parity_upload (env->gpu, sum_c, km);
  float *d_sum_s = parity_upload (env->gpu, sum_s, km);
  env->cpu->ops->cf_accumulate (env->cpu, n, m, k, phase, labels, sum_c, sum_s);
  env->gpu->ops->cf_accumulate (env->gpu, n, m, k, d_phase, d_labels, d_sum_c, d_sum_s);
  const double sum_atol = 2.0 * nc * EPS + nc * EPS * (nc + 1.0);
  parity_compare (env, "cf sum_cos", d_sum_c, sum_c, km, 0.0, sum_atol);
  parity_compare (env, "cf sum_sin", d_sum_s, sum_s, km, 0.0, sum_atol);

  g_autofree float *g_re = ncfm_test_new_uniform (rand, km, -1.0f, 1.0f);
  g_autofree float *g_im = ncfm_test_new_uniform (rand, km, -1.0f, 1.0f);
  g_autofree float *scale = g_new (float, k);
  float scale_max = 0.0f;
  for (int c = 0; c < k; c++) {
    scale[c] = count[c] ? 1.0f / count[c] : 0.0f;
    scale_max = fmaxf (scale_max, scale[c]);
  }
  float *d_g_re = parity_upload (env->gpu, g_re, km), *d_g_im = parity_upload (env->gpu, g_im, km);
  float *d_scale = parity_upload (env->gpu, scale, k);
  env->cpu->ops->cf_backward_weights (env->cpu, n, m, k, labels, g_re, g_im, scale, phase);
  env->gpu->ops->cf_backward_weights (env->gpu, n, m, k, d_labels, d_g_re, d_g_im, d_scale,
      d_phase);
  parity_compare (env, "cf weights", d_phase, phase, nm, 0.0, 5.0 * EPS * scale_max * 2.0);

  void *bufs[] = { d_phase, d_labels, d_sum_c, d_sum_s, d_g_re, d_g_im, d_scale };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    env->gpu->ops->free (env->gpu, bufs[i]);
}

static void
fill_cf (GRand *rand, size_t n, float *re, float *im)
{
  for (size_t x = 0; x < n; x++) {
    double r = g_rand_double_range (rand, 0.0, 1.0), a = g_rand_double_range (rand, -G_PI, G_PI);
    re[x] = (float) (r * cos (a));
    im[x] = (float) (r * sin (a));
  }
}

/* Both backends evaluate NCFD in double and round once to float: results
 * agree to 1 ulp (rtol EPS) plus the double rounding differences (FMA
 * contraction on the GPU, the order of the class sum), ~16 DBL_EPSILON of
 * the terms: gradients atol 16 DBL_EPSILON max|g|; the loss can see the
 * phase term's cancellation through the root, scale sqrt(beta 16
 * DBL_EPSILON) at worst. */
static void
run_ncfd_case (const ParityEnv *env, int k, int m, float alpha, float beta, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  const size_t km = (size_t) k * m;
  const float scale = 300.0f;
  g_autofree float *cf = g_new (float, 4 * km), *g = g_new (float, 4 * km);
  g_autofree float *loss = g_new (float, k);
  fill_cf (rand, km, cf, cf + km);
  fill_cf (rand, km, cf + 2 * km, cf + 3 * km);
  for (size_t x = 0; x < km; x += 97) {   /* a few equal CFs: the clamp */
    cf[2 * km + x] = cf[x];
    cf[3 * km + x] = cf[km + x];
  }
  float *d_cf = parity_upload (env->gpu, cf, 4 * km);
  float *d_g = env->gpu->ops->alloc (env->gpu, 4 * km * sizeof (float));
  float *d_loss = env->gpu->ops->alloc (env->gpu, (size_t) k * sizeof (float));
  env->cpu->ops->ncfd_forward_backward (env->cpu, k, m, alpha, beta, scale, cf, cf + km,
      cf + 2 * km, cf + 3 * km, loss, g, g + km, g + 2 * km, g + 3 * km);
  env->gpu->ops->ncfd_forward_backward (env->gpu, k, m, alpha, beta, scale, d_cf, d_cf + km,
      d_cf + 2 * km, d_cf + 3 * km, d_loss, d_g, d_g + km, d_g + 2 * km, d_g + 3 * km);
  double gmax = 0.0;
  for (size_t x = 0; x < 4 * km; x++)
    gmax = fmax (gmax, fabs (g[x]));
  parity_compare (env, "ncfd loss", d_loss, loss, k, EPS,
      scale * sqrt (beta * 16 * DBL_EPSILON));
  parity_compare (env, "ncfd gradients", d_g, g, 4 * km, EPS, 16 * DBL_EPSILON * gmax);
  /* without the real-side gradients */
  env->gpu->ops->ncfd_forward_backward (env->gpu, k, m, alpha, beta, scale, d_cf, d_cf + km,
      d_cf + 2 * km, d_cf + 3 * km, d_loss, d_g, d_g + km, NULL, NULL);
  parity_compare (env, "ncfd g (synthetic only)", d_g, g, 2 * km, EPS, 16 * DBL_EPSILON * gmax);
  void *bufs[] = { d_cf, d_g, d_loss };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    env->gpu->ops->free (env->gpu, bufs[i]);
}

/* MMD: double column sums on both sides (the GPU's sum of squares in a
 * tree), one rounding to float: rtol 2 EPS; a gradient is coef * diff of the
 * same doubles up to contraction: rtol EPS + a negligible atol. */
static void
run_mmd_case (const ParityEnv *env, int n_r, int n_s, int d, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  const size_t nr = (size_t) n_r * d, ns = (size_t) n_s * d;
  g_autofree float *x_r = ncfm_test_new_uniform (rand, nr, -1.0f, 1.0f);
  g_autofree float *x_s = ncfm_test_new_uniform (rand, ns, -1.0f, 1.0f);
  g_autofree float *g_r = g_new (float, nr), *g_s = g_new (float, ns);
  float loss;
  float *d_x_r = parity_upload (env->gpu, x_r, nr), *d_x_s = parity_upload (env->gpu, x_s, ns);
  float *d_g_r = env->gpu->ops->alloc (env->gpu, nr * sizeof (float));
  float *d_g_s = env->gpu->ops->alloc (env->gpu, ns * sizeof (float));
  float *d_loss = env->gpu->ops->alloc (env->gpu, sizeof (float));
  env->cpu->ops->mmd_forward_backward (env->cpu, n_r, n_s, d, x_r, x_s, &loss, g_s, g_r);
  env->gpu->ops->mmd_forward_backward (env->gpu, n_r, n_s, d, d_x_r, d_x_s, d_loss, d_g_s,
      d_g_r);
  parity_compare (env, "mmd loss", d_loss, &loss, 1, 2 * EPS, 0.0);
  parity_compare (env, "mmd g_s", d_g_s, g_s, ns, EPS, 1e-12);
  parity_compare (env, "mmd g_r", d_g_r, g_r, nr, EPS, 1e-12);
  void *bufs[] = { d_x_r, d_x_s, d_g_r, d_g_s, d_loss };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    env->gpu->ops->free (env->gpu, bufs[i]);
}

static void
test_cf (gconstpointer data)
{
  const ParityEnv *env = data;
  run_cf_case (env, 50, 300, 3, FALSE, 81);     /* m not a multiple of a block */
  run_cf_case (env, 1024, 4096, 10, FALSE, 82);  /* the benchmark size, mixed classes */
  run_cf_case (env, 1024, 4096, 10, TRUE, 83);   /* sorted: one run per class */
  run_cf_case (env, 40, 4096, 1, TRUE, 84);      /* a synthetic set of one class */
}

static void
test_ncfd (gconstpointer data)
{
  const ParityEnv *env = data;
  run_ncfd_case (env, 3, 100, 0.5f, 0.5f, 85);
  run_ncfd_case (env, 10, 4096, 0.5f, 0.5f, 86);
  run_ncfd_case (env, 10, 4096, 0.8f, 0.2f, 87);
}

static void
test_mmd (gconstpointer data)
{
  const ParityEnv *env = data;
  run_mmd_case (env, 7, 3, 100, 88);
  run_mmd_case (env, 1024, 40, 2048, 89);
}

void
parity_add_cf (ParityEnv *env)
{
  g_test_add_data_func ("/parity/cf/accumulate-and-weights", env, test_cf);
  g_test_add_data_func ("/parity/cf/ncfd", env, test_ncfd);
  g_test_add_data_func ("/parity/cf/mmd", env, test_mmd);
}
