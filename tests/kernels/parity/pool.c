/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/pool.c: 2x2 average pooling, CUDA vs CPU.  Both sides add the four
 * window values in the same order and scale by the exact 0.25, so forward
 * and backward must agree bit for bit (nvcc cannot contract a sum of adds). */
#include "parity.h"

static void
test_pool (gconstpointer data)
{
  const ParityEnv *env = data;
  NcfmBackend *cpu = env->cpu, *gpu = env->gpu;
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  /* {n, c, h, w}: the ConvNet's three poolings, then odd sizes */
  const int shapes[][4] = {
    { 256, 128, 32, 32 }, { 256, 128, 16, 16 }, { 256, 128, 8, 8 },
    { 3, 5, 7, 9 }, { 2, 3, 33, 16 }, { 1, 2, 1, 5 },
  };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const int n = shapes[s][0], c = shapes[s][1], h = shapes[s][2], w = shapes[s][3];
    const size_t nx = (size_t) n * c * h * w, ny = (size_t) n * c * (h / 2) * (w / 2);
    g_test_message ("avgpool2x2 n=%d c=%d h=%d w=%d", n, c, h, w);
    g_autofree float *x = ncfm_test_new_uniform (rand, nx, -2.0f, 2.0f);
    g_autofree float *dy = ncfm_test_new_uniform (rand, ny, -1.0f, 1.0f);
    g_autofree float *y = g_new (float, ny ? ny : 1), *dx = g_new (float, nx);
    float *gx = parity_upload (gpu, x, nx), *gdy = parity_upload (gpu, dy, ny);
    float *gy = gpu->ops->alloc (gpu, (ny ? ny : 1) * sizeof (float));
    float *gdx = parity_upload (gpu, x, nx);   /* garbage: backward must overwrite all */

    cpu->ops->avgpool2x2_forward (cpu, n, c, h, w, x, y);
    gpu->ops->avgpool2x2_forward (gpu, n, c, h, w, gx, gy);
    parity_compare (env, "avgpool2x2_forward", gy, y, ny, 0, 0);
    cpu->ops->avgpool2x2_backward (cpu, n, c, h, w, dy, dx);
    gpu->ops->avgpool2x2_backward (gpu, n, c, h, w, gdy, gdx);
    parity_compare (env, "avgpool2x2_backward", gdx, dx, nx, 0, 0);

    float *bufs[] = { gx, gdy, gy, gdx };
    for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
      gpu->ops->free (gpu, bufs[i]);
  }
}

void
parity_add_pool (ParityEnv *env)
{
  g_test_add_data_func ("/parity/avgpool2x2", env, test_pool);
}
