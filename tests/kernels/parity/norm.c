/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/norm.c: GroupNorm / instance norm and BatchNorm, CUDA vs CPU.
 *
 * Tolerances follow from how the CUDA kernels reduce: a block of T threads
 * (32..256, the next power of two >= the count) sums m values as T serial
 * runs of ceil(m/T) and then log2(T) tree levels, so a sum has a relative
 * error of at most depth * eps of its L1 norm, depth = ceil(m/T) + log2(T)
 * (+ the serial merges that follow).  The CPU reference is accurate to a few
 * eps, covered by the "+ 8" terms. */
#include "parity.h"

#include <float.h>
#include <math.h>

#define EPS_F ((double) FLT_EPSILON)
/* mirrors BN_CHUNK_VALUES in kernels/cuda/norm.cu: values per BatchNorm block */
#define BN_CHUNK_VALUES 16384

static double
reduction_depth (size_t m)
{
  size_t t = 32;
  while (t < m && t < 256)
    t <<= 1;
  return (double) ((m + t - 1) / t) + log2 ((double) t);
}

typedef struct {
  int n, c, hw, groups;   /* groups == 0: BatchNorm */
} NormCase;

/* Host-side scales of one case, from the CPU results. */
typedef struct {
  double y;          /* max |xhat gamma| + |beta| */
  double x;          /* max |x| */
  double xhat;       /* max |xhat| */
  double r, g, dy;   /* max rstd, |gamma|, |dy| */
  double l1_dg, l1_db;   /* max over channels of sum |dy| (|xhat| + |x| r), sum |dy| */
} NormScales;

static int
set_index (const NormCase *k, size_t i)
{
  int s = (int) (i / ((size_t) k->c * k->hw)), ch = (int) (i / k->hw % k->c);
  return k->groups ? s * k->groups + ch / (k->c / k->groups) : ch;
}

static NormScales
norm_scales (const NormCase *k, const float *x, const float *gamma, const float *beta,
    const float *mean, const float *rstd, const float *dy)
{
  NormScales s = { 0 };
  const size_t count = (size_t) k->n * k->c * k->hw;
  g_autofree double *dg = g_new0 (double, k->c), *db = g_new0 (double, k->c);
  for (size_t i = 0; i < count; i++) {
    int j = set_index (k, i), ch = (int) (i / k->hw % k->c);
    double xh = fabs ((x[i] - mean[j]) * (double) rstd[j]);
    s.y = fmax (s.y, xh * fabs (gamma[ch]) + fabs (beta[ch]));
    s.x = fmax (s.x, fabs (x[i]));
    s.xhat = fmax (s.xhat, xh);
    s.r = fmax (s.r, rstd[j]);
    s.dy = fmax (s.dy, fabs (dy[i]));
    dg[ch] += fabs (dy[i]) * (xh + fabs (x[i]) * rstd[j]);
    db[ch] += fabs (dy[i]);
  }
  for (int ch = 0; ch < k->c; ch++) {
    s.g = fmax (s.g, fabs (gamma[ch]));
    s.l1_dg = fmax (s.l1_dg, dg[ch]);
    s.l1_db = fmax (s.l1_db, db[ch]);
  }
  return s;
}

static void
test_norm_case (const ParityEnv *env, const NormCase *k, guint32 seed)
{
  NcfmBackend *cpu = env->cpu, *gpu = env->gpu;
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  const int n = k->n, c = k->c, hw = k->hw, groups = k->groups;
  const gboolean bn = groups == 0;
  const size_t count = (size_t) n * c * hw, sets = bn ? (size_t) c : (size_t) n * groups;
  const float eps = 1e-5f, momentum = 0.1f;
  g_autofree char *what = bn ? g_strdup_printf ("batchnorm n=%d c=%d hw=%d", n, c, hw)
      : g_strdup_printf ("groupnorm n=%d c=%d hw=%d groups=%d", n, c, hw, groups);
  g_test_message ("%s", what);

  g_autofree float *x = ncfm_test_new_uniform (rand, count, -2.0f, 2.0f);
  for (size_t i = 0; i < count; i++)   /* per-set offsets: no zero-mean shortcut */
    x[i] += 0.25f * (float) (set_index (k, i) % 5);
  g_autofree float *gamma = ncfm_test_new_uniform (rand, c, 0.5f, 1.5f);
  g_autofree float *beta = ncfm_test_new_uniform (rand, c, -0.5f, 0.5f);
  g_autofree float *dy = ncfm_test_new_uniform (rand, count, -1.0f, 1.0f);
  g_autofree float *rm = ncfm_test_new_uniform (rand, c, -0.5f, 0.5f);
  g_autofree float *rv = ncfm_test_new_uniform (rand, c, 0.5f, 1.5f);
  g_autofree float *y = g_new (float, count), *dx = g_new (float, count);
  g_autofree float *mean = g_new (float, sets), *rstd = g_new (float, sets);
  g_autofree float *dg = g_new (float, c), *db = g_new (float, c);

  float *gx = parity_upload (gpu, x, count), *gdy = parity_upload (gpu, dy, count);
  float *ggamma = parity_upload (gpu, gamma, c), *gbeta = parity_upload (gpu, beta, c);
  float *grm = parity_upload (gpu, rm, c), *grv = parity_upload (gpu, rv, c);
  float *gy = gpu->ops->alloc (gpu, count * sizeof (float));
  float *gdx = gpu->ops->alloc (gpu, count * sizeof (float));
  float *gmean = gpu->ops->alloc (gpu, sets * sizeof (float));
  float *grstd = gpu->ops->alloc (gpu, sets * sizeof (float));
  float *gdg = gpu->ops->alloc (gpu, c * sizeof (float));
  float *gdb = gpu->ops->alloc (gpu, c * sizeof (float));

  double depth_f, depth_b, depth_g;   /* forward stats, dx sums, dgamma/dbeta sums */
  if (bn) {
    cpu->ops->batchnorm_forward_train (cpu, n, c, hw, eps, momentum, x, gamma, beta, y, mean,
        rstd, rm, rv);
    gpu->ops->batchnorm_forward_train (gpu, n, c, hw, eps, momentum, gx, ggamma, gbeta, gy,
        gmean, grstd, grm, grv);
    cpu->ops->batchnorm_backward (cpu, n, c, hw, x, gamma, mean, rstd, dy, dx, dg, db);
    gpu->ops->batchnorm_backward (gpu, n, c, hw, gx, ggamma, gmean, grstd, gdy, gdx, gdg, gdb);
    int spc = MAX (1, MIN (n, BN_CHUNK_VALUES / hw)), chunks = (n + spc - 1) / spc;
    depth_f = depth_b = depth_g = reduction_depth ((size_t) spc * hw) + chunks;
  } else {
    cpu->ops->groupnorm_forward (cpu, n, c, hw, groups, eps, x, gamma, beta, y, mean, rstd);
    gpu->ops->groupnorm_forward (gpu, n, c, hw, groups, eps, gx, ggamma, gbeta, gy, gmean,
        grstd);
    cpu->ops->groupnorm_backward (cpu, n, c, hw, groups, x, gamma, mean, rstd, dy, dx, dg, db);
    gpu->ops->groupnorm_backward (gpu, n, c, hw, groups, gx, ggamma, gmean, grstd, gdy, gdx,
        gdg, gdb);
    depth_f = reduction_depth ((size_t) (c / groups) * hw);
    depth_b = reduction_depth ((size_t) hw) + c / groups;
    depth_g = reduction_depth ((size_t) hw) + reduction_depth ((size_t) n);
  }
  NormScales s = norm_scales (k, x, gamma, beta, mean, rstd, dy);

  /* mean: depth_f eps of mean|x|; rstd: the variance's depth_f eps (halved by
   * the square root) plus a few roundings */
  parity_compare (env, "mean", gmean, mean, sets, 0, (depth_f + 2) * EPS_F * s.x);
  parity_compare (env, "rstd", grstd, rstd, sets, (depth_f + 4) * EPS_F, 0);
  /* y: the mean error times rstd gamma, the rstd error times |xhat gamma|,
   * and ~8 roundings of the affine map */
  parity_compare (env, "y", gy, y, count, 0,
      depth_f * EPS_F * (s.x * s.r * s.g + s.y) + 8 * EPS_F * s.y);
  /* dx = r g dy - r mean(g dy) - xhat r mean(g dy xhat): the two means carry
   * depth_b eps, the saved statistics depth_f eps */
  parity_compare (env, "dx", gdx, dx, count, 0,
      (depth_b + depth_f + 8) * EPS_F * s.r * s.g * s.dy * (1.0 + s.xhat * s.xhat));
  parity_compare (env, "dgamma", gdg, dg, c, 0, (depth_g + depth_f + 4) * EPS_F * s.l1_dg);
  parity_compare (env, "dbeta", gdb, db, c, 0, (depth_g + 2) * EPS_F * s.l1_db);

  if (bn) {
    double rm_max = 0.0, rv_max = 0.0;
    for (int ch = 0; ch < c; ch++) {
      rm_max = fmax (rm_max, fabs (rm[ch]));
      rv_max = fmax (rv_max, fabs (rv[ch]));
    }
    /* momentum times the statistics' error, plus the blend's roundings */
    parity_compare (env, "running_mean", grm, rm, c, 0,
        (depth_f + 2) * EPS_F * s.x + 4 * EPS_F * rm_max);
    parity_compare (env, "running_var", grv, rv, c, (depth_f + 8) * EPS_F, 0);
    /* eval from the (now equal up to the above) running stats: upload the
     * CPU's so both sides see the same inputs; ~8 roundings of y */
    gpu->ops->upload (gpu, grm, rm, c * sizeof (float));
    gpu->ops->upload (gpu, grv, rv, c * sizeof (float));
    cpu->ops->batchnorm_forward_eval (cpu, n, c, hw, eps, x, gamma, beta, rm, rv, y);
    gpu->ops->batchnorm_forward_eval (gpu, n, c, hw, eps, gx, ggamma, gbeta, grm, grv, gy);
    double ys = 0.0;
    for (size_t i = 0; i < count; i++)
      ys = fmax (ys, fabs (y[i]) + fabs (beta[i / hw % c]));
    parity_compare (env, "y (eval)", gy, y, count, 0, 8 * EPS_F * (ys + s.x));
  }

  float *bufs[] = { gx, gdy, ggamma, gbeta, grm, grv, gy, gdx, gmean, grstd, gdg, gdb };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    gpu->ops->free (gpu, bufs[i]);
}

static void
test_groupnorm (gconstpointer data)
{
  /* the ConvNet's instance norm (width 128, batch 256, 32/16/8 px), then
   * odd group sizes, groups == 1, hw == 1 */
  const NormCase cases[] = {
    { 256, 128, 32 * 32, 128 }, { 256, 128, 16 * 16, 128 }, { 256, 128, 8 * 8, 128 },
    { 8, 12, 37, 4 }, { 3, 16, 1025, 1 }, { 5, 6, 1, 3 }, { 2, 3, 300, 3 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    test_norm_case (data, &cases[i], 100 + i);
}

static void
test_batchnorm (gconstpointer data)
{
  /* BatchNorm2d at the ConvNet's sizes (several chunks per channel), odd
   * sizes, BatchNorm1d (hw == 1) with one and with several chunks */
  const NormCase cases[] = {
    { 256, 128, 32 * 32, 0 }, { 256, 128, 8 * 8, 0 }, { 7, 5, 33, 0 },
    { 256, 2048, 1, 0 }, { 20000, 3, 1, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    test_norm_case (data, &cases[i], 200 + i);
}

void
parity_add_norm (ParityEnv *env)
{
  g_test_add_data_func ("/parity/groupnorm", env, test_groupnorm);
  g_test_add_data_func ("/parity/batchnorm", env, test_batchnorm);
}
