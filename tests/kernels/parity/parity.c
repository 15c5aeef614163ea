/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity.c: the cuda-parity test program (a TAP skip without a GPU). */
#include "parity.h"

#include <stdio.h>

float *
parity_upload (NcfmBackend *be, const float *host, size_t n)
{
  return parity_upload_bytes (be, host, n * sizeof (float));
}

void *
parity_upload_bytes (NcfmBackend *be, const void *host, size_t bytes)
{
  void *d = be->ops->alloc (be, bytes);
  g_assert_nonnull (d);
  be->ops->upload (be, d, host, bytes);
  return d;
}

float *
parity_download (NcfmBackend *be, const float *dev, size_t n)
{
  float *h = g_new (float, n ? n : 1);
  be->ops->download (be, h, dev, n * sizeof (float));
  return h;
}

void
parity_compare (const ParityEnv *env, const char *what, const float *gpu_buf,
    const float *cpu_buf, size_t n, double rtol, double atol)
{
  g_autofree float *got = parity_download (env->gpu, gpu_buf, n);
  ncfm_test_assert_close (what, got, cpu_buf, n, rtol, atol);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ParityEnv env = { 0 };
  env.gpu = ncfm_test_cuda_backend ();
  if (!env.gpu) {
    printf ("1..0 # SKIP no usable CUDA device (build has CUDA: %s)\n",
        ncfm_backend_have_cuda () ? "yes" : "no");
    /* TAP's way to say "skipped" (meson's TAP parser ignores exit code 77) */
    return 0;
  }
  env.cpu = ncfm_test_cpu_backend ();
  g_test_message ("parity: %s vs %s", env.gpu->name, env.cpu->name);
  parity_add_elementwise (&env);
  parity_add_activation (&env);
  parity_add_conv2d (&env);
  parity_add_norm (&env);
  parity_add_pool (&env);
  parity_add_linear (&env);
  parity_add_loss (&env);
  parity_add_l2norm (&env);
  parity_add_resize (&env);
  parity_add_optim (&env);
  parity_add_random (&env);
  parity_add_cf (&env);
  parity_add_sorf (&env);
  parity_add_image (&env);
  parity_add_dsa (&env);
  int rc = g_test_run ();
  ncfm_backend_free (env.cpu);
  ncfm_backend_free (env.gpu);
  return rc;
}
