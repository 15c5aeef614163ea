/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/sorf.c: phases and input gradient of structured frequencies, CUDA
 * vs CPU. */
#include "parity.h"
#include "hadamard.h"

#include <float.h>
#include <math.h>

static void
run_case (const ParityEnv *env, int n, int d, int m, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  const int p = (int) ncfm_hadamard_size ((unsigned) d);
  const size_t ns = (size_t) ((m + p - 1) / p) * 3 * p, nd = (size_t) n * d;
  const size_t nm = (size_t) n * m;
  g_autofree float *signs = g_new (float, ns);
  for (size_t i = 0; i < ns; i++)
    signs[i] = g_rand_boolean (rand) ? 1.0f : -1.0f;
  g_autofree float *scale = ncfm_test_new_uniform (rand, m, -1.0f, 1.0f);
  g_autofree float *x = ncfm_test_new_uniform (rand, nd, -1.0f, 1.0f);
  g_autofree float *dphase = ncfm_test_new_uniform (rand, nm, -1.0f, 1.0f);
  g_autofree float *phase = g_new (float, nm), *dx = g_new (float, nd);
  NcfmBackend *gpu = env->gpu;
  float *gs = parity_upload (gpu, signs, ns), *gscale = parity_upload (gpu, scale, m);
  float *gx = parity_upload (gpu, x, nd), *gdp = parity_upload (gpu, dphase, nm);
  float *gphase = gpu->ops->alloc (gpu, nm * sizeof (float));
  float *gdx = gpu->ops->alloc (gpu, nd * sizeof (float));

  /* the same butterflies in the same order on both sides: only a contracted
   * multiply-add could differ, by one rounding of values up to p^(3/2) */
  const double atol = 4 * FLT_EPSILON * pow (p, 1.5);
  env->cpu->ops->sorf_forward (env->cpu, n, d, m, p, signs, scale, x, phase);
  gpu->ops->sorf_forward (gpu, n, d, m, p, gs, gscale, gx, gphase);
  parity_compare (env, "sorf phase", gphase, phase, nm, 4 * FLT_EPSILON, atol);
  env->cpu->ops->sorf_backward (env->cpu, n, d, m, p, signs, scale, dphase, dx);
  gpu->ops->sorf_backward (gpu, n, d, m, p, gs, gscale, gdp, gdx);
  parity_compare (env, "sorf dx", gdx, dx, nd, 4 * FLT_EPSILON, atol * (m / p + 1));

  float *bufs[] = { gs, gscale, gx, gdp, gphase, gdx };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    gpu->ops->free (gpu, bufs[i]);
}

static void
test_sorf (gconstpointer data)
{
  const ParityEnv *env = data;
  run_case (env, 5, 20, 70, 71);        /* p = 32 below the block's threads */
  run_case (env, 33, 300, 1100, 72);    /* p = 512, two blocks and a short one */
  run_case (env, 40, 2048, 4096, 73);   /* the class step's: 40 synthetic rows, d = 2048 */
}

void
parity_add_sorf (ParityEnv *env)
{
  g_test_add_data_func ("/parity/sorf", env, test_sorf);
}
