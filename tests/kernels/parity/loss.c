/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/loss.c: softmax cross-entropy (hard and soft targets), CUDA vs CPU. */
#include "parity.h"

#include <float.h>

static void
run_case (const ParityEnv *env, int n, int k, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  const size_t nk = (size_t) n * k;
  g_autofree float *z = ncfm_test_new_uniform (rand, nk, -8.0f, 8.0f);
  g_autofree float *t = ncfm_test_new_uniform (rand, nk, 0.0f, 1.0f);
  g_autofree int32_t *labels = g_new (int32_t, n);
  for (int i = 0; i < n; i++) {
    double s = 0.0;
    for (int j = 0; j < k; j++)
      s += t[(size_t) i * k + j];
    for (int j = 0; j < k; j++)
      t[(size_t) i * k + j] /= (float) s;
    labels[i] = g_rand_int_range (rand, 0, k);
  }
  g_autofree float *probs = g_new (float, nk), *d = g_new (float, nk);
  float loss;
  float *gz = parity_upload (env->gpu, z, nk), *gt = parity_upload (env->gpu, t, nk);
  int32_t *gl = parity_upload_bytes (env->gpu, labels, n * sizeof (int32_t));
  float *gp = env->gpu->ops->alloc (env->gpu, nk * sizeof (float));
  float *gd = env->gpu->ops->alloc (env->gpu, nk * sizeof (float));
  float *gloss = env->gpu->ops->alloc (env->gpu, sizeof (float));

  /* The GPU sums a row's exps in float over a 256-thread tree (k / 256
   * sequential terms, then 8 levels), the CPU in double: with expf's 2 ulp
   * on both sides, probs agree to (k / 256 + 12) FLT_EPSILON relative.  The
   * loss adds a float mean over n rows (n / 1024 + 10 roundings) of values
   * whose own error is ~FLT_EPSILON (|z| + log k). */
  const double p_rtol = 2.0 * (k / 256.0 + 12.0) * FLT_EPSILON;
  const double loss_rtol = (n / 1024.0 + 10.0 + 16.0 + k / 256.0) * 2.0 * FLT_EPSILON;
  for (int soft = 0; soft < 2; soft++) {
    const int32_t *l = soft ? NULL : labels, *dl = soft ? NULL : gl;
    const float *st = soft ? t : NULL, *dst = soft ? gt : NULL;
    env->cpu->ops->cross_entropy_forward (env->cpu, n, k, z, l, st, probs, &loss);
    env->gpu->ops->cross_entropy_forward (env->gpu, n, k, gz, dl, dst, gp, gloss);
    parity_compare (env, soft ? "ce soft probs" : "ce hard probs", gp, probs, nk, p_rtol, 1e-30);
    parity_compare (env, soft ? "ce soft loss" : "ce hard loss", gloss, &loss, 1, loss_rtol, 0);
    /* each backend differentiates its own probs: (p - t) / n can cancel, so
     * the prob error is judged on the scale 1 / n */
    env->cpu->ops->cross_entropy_backward (env->cpu, n, k, probs, l, st, d);
    env->gpu->ops->cross_entropy_backward (env->gpu, n, k, gp, dl, dst, gd);
    parity_compare (env, "ce dlogits", gd, d, nk, p_rtol, p_rtol / n);
  }
  void *bufs[] = { gz, gt, gl, gp, gd, gloss };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    env->gpu->ops->free (env->gpu, bufs[i]);
}

static void
test_loss (gconstpointer data)
{
  const ParityEnv *env = data;
  run_case (env, 7, 10, 51);        /* k below a warp */
  run_case (env, 300, 1000, 52);    /* k strided over the block */
  run_case (env, 2049, 3, 53);      /* n above the mean kernel's block */
}

void
parity_add_loss (ParityEnv *env)
{
  g_test_add_data_func ("/parity/loss", env, test_loss);
}
