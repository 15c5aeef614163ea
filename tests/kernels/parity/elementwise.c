/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/elementwise.c: fill, axpby, clamp and the activations, CUDA vs CPU. */
#include "parity.h"

#define N 100003   /* odd, so partial blocks are exercised */

static void
test_elementwise (gconstpointer data)
{
  const ParityEnv *env = data;
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  g_autofree float *x = ncfm_test_new_uniform (rand, N, -2.0f, 2.0f);
  g_autofree float *y = ncfm_test_new_uniform (rand, N, -2.0f, 2.0f);
  float *dx = parity_upload (env->gpu, x, N), *dy = parity_upload (env->gpu, y, N);

  env->cpu->ops->axpby (env->cpu, N, 0.5f, x, -1.5f, y);
  env->gpu->ops->axpby (env->gpu, N, 0.5f, dx, -1.5f, dy);
  parity_compare (env, "axpby", dy, y, N, 1e-6, 1e-7);

  env->cpu->ops->clamp (env->cpu, N, -1.0f, 0.25f, y);
  env->gpu->ops->clamp (env->gpu, N, -1.0f, 0.25f, dy);
  parity_compare (env, "clamp", dy, y, N, 0, 0);

  /* scale_rows over a [rows, N / rows]-shaped prefix */
  const int rows = 97, cols = N / 97;
  g_autofree float *sc = ncfm_test_new_uniform (rand, rows, -2.0f, 2.0f);
  float *dsc = parity_upload (env->gpu, sc, rows);
  env->cpu->ops->scale_rows (env->cpu, rows, cols, sc, y);
  env->gpu->ops->scale_rows (env->gpu, rows, cols, dsc, dy);
  parity_compare (env, "scale_rows", dy, y, N, 0, 0);
  env->gpu->ops->free (env->gpu, dsc);

  env->cpu->ops->fill (env->cpu, N, 3.5f, y);
  env->gpu->ops->fill (env->gpu, N, 3.5f, dy);
  parity_compare (env, "fill", dy, y, N, 0, 0);
  env->gpu->ops->free (env->gpu, dx);
  env->gpu->ops->free (env->gpu, dy);
}

static void
test_activation (gconstpointer data)
{
  const ParityEnv *env = data;
  g_autoptr (GRand) rand = g_rand_new_with_seed (2);
  g_autofree float *x = ncfm_test_new_uniform (rand, N, -3.0f, 3.0f);
  g_autofree float *g = ncfm_test_new_uniform (rand, N, -1.0f, 1.0f);
  g_autofree float *y = g_new (float, N);
  g_autofree float *dx = g_new (float, N);
  float *gx = parity_upload (env->gpu, x, N), *gg = parity_upload (env->gpu, g, N);
  float *gy = parity_upload (env->gpu, x, N), *gdx = parity_upload (env->gpu, x, N);
  const float slopes[] = { 0.0f, 0.2f };

  for (guint s = 0; s < G_N_ELEMENTS (slopes); s++) {
    env->cpu->ops->leaky_relu_forward (env->cpu, N, slopes[s], x, y);
    env->gpu->ops->leaky_relu_forward (env->gpu, N, slopes[s], gx, gy);
    parity_compare (env, "leaky_relu_forward", gy, y, N, 0, 0);
    env->cpu->ops->leaky_relu_backward (env->cpu, N, slopes[s], x, g, dx);
    env->gpu->ops->leaky_relu_backward (env->gpu, N, slopes[s], gx, gg, gdx);
    parity_compare (env, "leaky_relu_backward", gdx, dx, N, 0, 0);
  }
  env->cpu->ops->tanh_forward (env->cpu, N, x, y);
  env->gpu->ops->tanh_forward (env->gpu, N, gx, gy);
  parity_compare (env, "tanh_forward", gy, y, N, 1e-6, 1e-6);
  env->cpu->ops->tanh_backward (env->cpu, N, y, g, dx);
  env->gpu->ops->tanh_backward (env->gpu, N, gy, gg, gdx);
  parity_compare (env, "tanh_backward", gdx, dx, N, 1e-5, 1e-6);

  float *bufs[] = { gx, gg, gy, gdx };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    env->gpu->ops->free (env->gpu, bufs[i]);
}

void
parity_add_elementwise (ParityEnv *env)
{
  g_test_add_data_func ("/parity/elementwise", env, test_elementwise);
}

void
parity_add_activation (ParityEnv *env)
{
  g_test_add_data_func ("/parity/activation", env, test_activation);
}
