/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/optim.c: AdamW and SGD(momentum) over several steps, CUDA vs CPU. */
#include "parity.h"

#include <float.h>

#define N 100003   /* odd, so partial blocks are exercised */
#define STEPS 5

/* Both backends take the same host-computed scalars and round the same float
 * operations in the same order (the CUDA kernels use _rn intrinsics, so no
 * fused multiply-adds), so they should agree bit for bit; the tolerance
 * leaves 2 ulps per step in case the CPU build ever contracts to FMA. */
static const double rtol = 2.0 * STEPS * FLT_EPSILON;

static void
test_adamw (gconstpointer data)
{
  const ParityEnv *env = data;
  g_autoptr (GRand) rand = g_rand_new_with_seed (81);
  g_autofree float *p = ncfm_test_new_uniform (rand, N, -2.0f, 2.0f);
  g_autofree float *m = g_new0 (float, N), *v = g_new0 (float, N), *g = g_new (float, N);
  float *gp = parity_upload (env->gpu, p, N), *gm = parity_upload (env->gpu, m, N);
  float *gv = parity_upload (env->gpu, v, N);
  float *gg = env->gpu->ops->alloc (env->gpu, N * sizeof (float));
  const float lr = 1e-2f;
  for (int t = 1; t <= STEPS; t++) {
    ncfm_test_fill_normal (rand, g, N, t == 3 ? 1e-5f : 1.0f);
    env->gpu->ops->upload (env->gpu, gg, g, N * sizeof (float));
    env->cpu->ops->adamw_step (env->cpu, N, p, g, m, v, lr, 0.9f, 0.999f, 1e-8f, 0.05f, t);
    env->gpu->ops->adamw_step (env->gpu, N, gp, gg, gm, gv, lr, 0.9f, 0.999f, 1e-8f, 0.05f, t);
  }
  /* updates are <= ~10 lr; m cancels, so it is judged on |g| < ~5 */
  parity_compare (env, "adamw param", gp, p, N, rtol, 10 * rtol * lr);
  parity_compare (env, "adamw exp_avg", gm, m, N, rtol, 5 * rtol);
  parity_compare (env, "adamw exp_avg_sq", gv, v, N, rtol, 0);
  float *bufs[] = { gp, gm, gv, gg };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    env->gpu->ops->free (env->gpu, bufs[i]);
}

static void
test_sgd (gconstpointer data)
{
  const ParityEnv *env = data;
  const struct { float lr, momentum, wd; } cfgs[] = {
    { 0.1f, 0.9f, 5e-4f },
    { 0.05f, 0.0f, 1e-2f },   /* no momentum: NULL buffer on both */
  };
  for (guint ci = 0; ci < G_N_ELEMENTS (cfgs); ci++) {
    const float lr = cfgs[ci].lr, mom = cfgs[ci].momentum, wd = cfgs[ci].wd;
    g_autoptr (GRand) rand = g_rand_new_with_seed (82 + ci);
    g_autofree float *p = ncfm_test_new_uniform (rand, N, -2.0f, 2.0f);
    g_autofree float *buf = mom != 0.0f ? g_new0 (float, N) : NULL;
    g_autofree float *g = g_new (float, N);
    float *gp = parity_upload (env->gpu, p, N);
    float *gbuf = buf ? parity_upload (env->gpu, buf, N) : NULL;
    float *gg = env->gpu->ops->alloc (env->gpu, N * sizeof (float));
    for (int t = 1; t <= STEPS; t++) {
      ncfm_test_fill_normal (rand, g, N, 1.0f);
      env->gpu->ops->upload (env->gpu, gg, g, N * sizeof (float));
      env->cpu->ops->sgd_step (env->cpu, N, p, g, buf, lr, mom, wd);
      env->gpu->ops->sgd_step (env->gpu, N, gp, gg, gbuf, lr, mom, wd);
    }
    /* the buffer stays below ~5 / (1 - momentum) and cancels */
    const double buf_max = 5.0 / (1.0 - mom);
    parity_compare (env, "sgd param", gp, p, N, rtol, rtol * lr * buf_max);
    if (buf)
      parity_compare (env, "sgd momentum_buf", gbuf, buf, N, rtol, rtol * buf_max);
    env->gpu->ops->free (env->gpu, gp);
    env->gpu->ops->free (env->gpu, gg);
    if (gbuf)
      env->gpu->ops->free (env->gpu, gbuf);
  }
}

void
parity_add_optim (ParityEnv *env)
{
  g_test_add_data_func ("/parity/adamw", env, test_adamw);
  g_test_add_data_func ("/parity/sgd", env, test_sgd);
}
