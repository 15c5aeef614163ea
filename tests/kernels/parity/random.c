/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/random.c: fill_normal draws the same stream on CUDA and the CPU. */
#include "parity.h"

static void
test_random (gconstpointer data)
{
  const ParityEnv *env = data;
  const size_t n = 1000003;
  g_autofree float *want = g_new (float, n);
  env->cpu->ops->fill_normal (env->cpu, n, 99, 12345, 0.5f, want);
  float *got = env->gpu->ops->alloc (env->gpu, n * sizeof (float));
  env->gpu->ops->fill_normal (env->gpu, n, 99, 12345, 0.5f, got);
  /* same integers and the same float operations (kernels/philox.h,
   * fastmath.h: explicit FMAs, IEEE sqrtf), so equal up to what nvcc may
   * still reorder; the tolerance stays as it was for the double formula */
  parity_compare (env, "fill_normal", got, want, n, 1e-6, 1e-7);
  env->gpu->ops->free (env->gpu, got);
}

void
parity_add_random (ParityEnv *env)
{
  g_test_add_data_func ("/parity/random", env, test_random);
}
