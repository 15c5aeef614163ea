/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/image.c: u8_to_f32, channel_affine and the multi-formation tiles,
 * CUDA vs CPU. */
#include "parity.h"

#include <float.h>

static void
test_image (gconstpointer data)
{
  const ParityEnv *env = data;
  g_autoptr (GRand) rand = g_rand_new_with_seed (81);
  /* odd sizes, so partial blocks are exercised; h, w divisible by 2 and 3 */
  const int n = 7, c = 3, h = 30, w = 42;
  const size_t count = (size_t) n * c * h * w;

  g_autofree uint8_t *u8 = g_new (uint8_t, count);
  for (size_t i = 0; i < count; i++)
    u8[i] = (uint8_t) g_rand_int_range (rand, 0, 256);
  g_autofree float *x = g_new (float, count), *y = g_new (float, count);
  uint8_t *gu8 = parity_upload_bytes (env->gpu, u8, count);
  float *gx = env->gpu->ops->alloc (env->gpu, count * sizeof (float));
  float *gy = env->gpu->ops->alloc (env->gpu, count * sizeof (float));

  /* one rounding of the same product on both sides: exact */
  env->cpu->ops->u8_to_f32 (env->cpu, count, 1.0f / 255.0f, u8, x);
  env->gpu->ops->u8_to_f32 (env->gpu, count, 1.0f / 255.0f, gu8, gx);
  parity_compare (env, "u8_to_f32", gx, x, count, 0, 0);

  /* nvcc may fuse x * s + t into one FMA (one rounding instead of two): an
   * ulp of |x s| + |t| <= 1 / 0.2 + 0.5 / 0.2 = 7.5 */
  NcfmChannelAffine a = { .scale = { 1.0f / 0.2470f, 1.0f / 0.2435f, 1.0f / 0.2616f, 0.0f },
    .shift = { -0.4914f / 0.2470f, -0.4822f / 0.2435f, -0.4465f / 0.2616f, 0.0f } };
  env->cpu->ops->channel_affine (env->cpu, n, c, h * w, a, x, y);
  env->gpu->ops->channel_affine (env->gpu, n, c, h * w, a, gx, gy);
  parity_compare (env, "channel_affine", gy, y, count, 0, 2 * 7.5 * FLT_EPSILON);
  /* in place */
  env->cpu->ops->channel_affine (env->cpu, n, c, h * w, a, x, x);
  env->gpu->ops->channel_affine (env->gpu, n, c, h * w, a, gx, gx);
  parity_compare (env, "channel_affine in place", gx, x, count, 0, 2 * 7.5 * FLT_EPSILON);

  /* tiles: pure copies, exact; start from identical inputs */
  g_autofree float *t = ncfm_test_new_uniform (rand, count, -1.0f, 1.0f);
  env->gpu->ops->upload (env->gpu, gx, t, count * sizeof (float));
  const int rhos[] = { 1, 2, 3, 6 };
  for (guint r = 0; r < G_N_ELEMENTS (rhos); r++) {
    env->cpu->ops->tiles_split (env->cpu, n, c, h, w, rhos[r], t, y);
    env->gpu->ops->tiles_split (env->gpu, n, c, h, w, rhos[r], gx, gy);
    parity_compare (env, "tiles_split", gy, y, count, 0, 0);
    env->cpu->ops->tiles_merge (env->cpu, n, c, h, w, rhos[r], y, x);
    env->gpu->ops->fill (env->gpu, count, -7.0f, gx);   /* merge must overwrite all */
    env->gpu->ops->tiles_merge (env->gpu, n, c, h, w, rhos[r], gy, gx);
    parity_compare (env, "tiles_merge", gx, x, count, 0, 0);
    parity_compare (env, "tiles_merge(split(x)) == x", gx, t, count, 0, 0);
  }

  env->gpu->ops->free (env->gpu, gu8);
  env->gpu->ops->free (env->gpu, gx);
  env->gpu->ops->free (env->gpu, gy);
}

void
parity_add_image (ParityEnv *env)
{
  g_test_add_data_func ("/parity/image", env, test_image);
}
