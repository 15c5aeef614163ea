/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/resize.c: bilinear resize forward and backward, CUDA vs CPU. */
#include "parity.h"

#include <float.h>
#include <math.h>

static void
run_case (const ParityEnv *env, int n, int c, int hi, int wi, int ho, int wo, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  const size_t nin = (size_t) n * c * hi * wi, nout = (size_t) n * c * ho * wo;
  g_autofree float *x = ncfm_test_new_uniform (rand, nin, -1.0f, 1.0f);
  g_autofree float *dy = ncfm_test_new_uniform (rand, nout, -1.0f, 1.0f);
  g_autofree float *y = g_new (float, nout), *dx = g_new (float, nin);
  float *gx = parity_upload (env->gpu, x, nin), *gdy = parity_upload (env->gpu, dy, nout);
  float *gy = env->gpu->ops->alloc (env->gpu, nout * sizeof (float));
  float *gdx = parity_upload (env->gpu, x, nin);   /* garbage: must be overwritten */

  /* nvcc may fuse the source coordinate's multiply-add, moving it by an ulp
   * (<= in FLT_EPSILON) and the weights with it, times a difference of two
   * inputs (<= 2); the interpolation itself is ~8 roundings of |x| <= 1. */
  const double coord = 2.0 * MAX (hi, wi) * FLT_EPSILON;
  env->cpu->ops->resize_bilinear_forward (env->cpu, n, c, hi, wi, ho, wo, x, y);
  env->gpu->ops->resize_bilinear_forward (env->gpu, n, c, hi, wi, ho, wo, gx, gy);
  parity_compare (env, "resize forward", gy, y, nout, 0, 8 * FLT_EPSILON + 2 * coord);

  /* each dx sums (ceil(out / in) + 1)^2 taps per axis pair, in a different
   * order (atomics) on the GPU: that many roundings of |dy| <= 1 */
  const double taps = (ceil ((double) ho / hi) + 1) * (ceil ((double) wo / wi) + 1);
  env->cpu->ops->resize_bilinear_backward (env->cpu, n, c, hi, wi, ho, wo, dy, dx);
  env->gpu->ops->resize_bilinear_backward (env->gpu, n, c, hi, wi, ho, wo, gdy, gdx);
  parity_compare (env, "resize backward", gdx, dx, nin, 0,
      taps * (4 * FLT_EPSILON + 2 * coord));

  float *bufs[] = { gx, gdy, gy, gdx };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    env->gpu->ops->free (env->gpu, bufs[i]);
}

static void
test_resize (gconstpointer data)
{
  const ParityEnv *env = data;
  run_case (env, 2, 3, 37, 53, 64, 80, 71);     /* up, odd ratios */
  run_case (env, 3, 2, 97, 61, 31, 45, 72);     /* down */
  run_case (env, 4, 3, 128, 128, 32, 32, 73);   /* 4x down */
  run_case (env, 1, 2, 7, 200, 50, 9, 74);      /* mixed */
}

void
parity_add_resize (ParityEnv *env)
{
  g_test_add_data_func ("/parity/resize", env, test_resize);
}
