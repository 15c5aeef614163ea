/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/l2norm.c: per-row L2 normalisation, CUDA vs CPU, both regimes. */
#include "parity.h"

#include <float.h>
#include <math.h>

static void
run_case (const ParityEnv *env, int n, int d, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  const float eps = 1e-3f;
  const size_t nd = (size_t) n * d;
  g_autofree float *x = ncfm_test_new_uniform (rand, nd, -1.0f, 1.0f);
  g_autofree float *dy = ncfm_test_new_uniform (rand, nd, -1.0f, 1.0f);
  for (int j = 0; j < d; j++) {
    x[j] *= 1e-6f;          /* row 0: norm < eps, the clamped regime */
    x[(size_t) d + j] = 0;  /* row 1: zero */
  }
  g_autofree float *y = g_new (float, nd), *dx = g_new (float, nd);
  g_autofree float *norms = g_new (float, n);
  float *gx = parity_upload (env->gpu, x, nd), *gdy = parity_upload (env->gpu, dy, nd);
  float *gy = env->gpu->ops->alloc (env->gpu, nd * sizeof (float));
  float *gdx = env->gpu->ops->alloc (env->gpu, nd * sizeof (float));
  float *gn = env->gpu->ops->alloc (env->gpu, n * sizeof (float));

  env->cpu->ops->l2norm_rows_forward (env->cpu, n, d, eps, x, y, norms);
  env->gpu->ops->l2norm_rows_forward (env->gpu, n, d, eps, gx, gy, gn);
  /* GPU: float sum over a 256-thread tree, (d / 256 + 8) roundings; CPU:
   * double, rounded once.  The sqrt halves that relative error; y adds one
   * division on each side. */
  const double rtol = 2.0 * (d / 256.0 + 10.0) * FLT_EPSILON;
  parity_compare (env, "l2norm norms", gn, norms, n, rtol, 0);
  parity_compare (env, "l2norm y", gy, y, nd, rtol, 0);

  env->cpu->ops->l2norm_rows_backward (env->cpu, n, d, eps, y, norms, dy, dx);
  env->gpu->ops->l2norm_rows_backward (env->gpu, n, d, eps, gy, gn, gdy, gdx);
  /* dx = (dy - y <dy, y>) / norm cancels: its error is judged on the scale
   * (|dy| + |y| |<dy, y>|) / norm <= (1 + sqrt(d)) / norm over unclamped
   * rows; clamped rows are dy / eps on both sides, identical */
  double min_norm = INFINITY;
  for (int i = 0; i < n; i++)
    if (norms[i] >= eps)
      min_norm = fmin (min_norm, norms[i]);
  parity_compare (env, "l2norm dx", gdx, dx, nd, rtol, rtol * (1.0 + sqrt (d)) / min_norm);

  float *bufs[] = { gx, gdy, gy, gdx, gn };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    env->gpu->ops->free (env->gpu, bufs[i]);
}

static void
test_l2norm (gconstpointer data)
{
  const ParityEnv *env = data;
  run_case (env, 5, 17, 61);       /* d below a warp */
  run_case (env, 130, 2048, 62);   /* d strided over the block */
}

void
parity_add_l2norm (ParityEnv *env)
{
  g_test_add_data_func ("/parity/l2norm", env, test_l2norm);
}
