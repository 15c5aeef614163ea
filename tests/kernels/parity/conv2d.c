/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/conv2d.c: conv2d forward and backward, CUDA vs CPU.
 *
 * Tolerance: both backends compute each value as a float sum of `len`
 * products in some order, each within len * u * M of the exact value (u =
 * 2^-24, M the sum of |products|), so they differ by at most 2 * len * u * M.
 * With |x|, |dy| <= 1 and |w| <= 0.5, M is bounded from the shape alone. */
#include "parity.h"

#include <math.h>

#define UNIT_ROUNDOFF 5.9604644775390625e-8   /* 2^-24 */

static const NcfmConv2dShape parity_shapes[] = {
  { 4, 3, 32, 32, 16, 3, 3, 1, 1 },     /* ConvNet first layer (RGB) */
  { 3, 1, 28, 28, 8, 3, 3, 1, 3 },      /* ConvNet first layer (MNIST, pad 3) */
  { 5, 16, 8, 8, 32, 3, 3, 1, 1 },      /* a later layer */
  { 2, 5, 9, 7, 6, 5, 3, 2, 2 },        /* odd sizes, 5x3 kernel, stride 2 */
  { 3, 4, 6, 5, 3, 1, 1, 1, 0 },        /* 1x1 */
};

static double
bound (double len, double mag)
{
  return 2.0 * len * UNIT_ROUNDOFF * mag;
}

/* conv_block_forward (conv -> instance norm or none -> ReLU -> 2x2 pool).
 * y: the CPU's convolution of (x, w, b).  Instance norm scales the
 * convolution's difference tol_y by at most rstd * gamma on each side, and
 * adds its own: a float mean and variance over hw values on the GPU (depth
 * <= hw + 10 roundings of |y|) and ~8 roundings of the affine map; ReLU and
 * the average do not grow an absolute error. */
static void
block_case (const ParityEnv *env, const NcfmConv2dShape *s, const float *x, const float *w,
    const float *b, const float *gx, const float *gw, const float *gb, const float *y,
    double tol_y, GRand *rand)
{
  NcfmBackend *cpu = env->cpu, *gpu = env->gpu;
  const int ho = ncfm_conv2d_h_out (s), wo = ncfm_conv2d_w_out (s), hw = ho * wo;
  const size_t ny = (size_t) s->n * s->c_out * hw, sets = (size_t) s->n * s->c_out;
  const size_t np = sets * (ho / 2) * (wo / 2);
  if (!np)
    return;
  const float eps = 1e-5f;
  g_autofree float *gamma = ncfm_test_new_uniform (rand, s->c_out, 0.5f, 1.5f);
  g_autofree float *beta = ncfm_test_new_uniform (rand, s->c_out, -0.5f, 0.5f);
  g_autofree float *yn = g_new (float, ny), *mean = g_new (float, sets);
  g_autofree float *rstd = g_new (float, sets), *want = g_new (float, np);
  cpu->ops->groupnorm_forward (cpu, s->n, s->c_out, hw, s->c_out, eps, y, gamma, beta, yn, mean,
      rstd);
  double y_max = 0, yn_max = 0, r_max = 0;
  for (size_t i = 0; i < ny; i++) {
    y_max = MAX (y_max, fabs (y[i]));
    yn_max = MAX (yn_max, fabs (yn[i]));
  }
  for (size_t i = 0; i < sets; i++)
    r_max = MAX (r_max, rstd[i]);
  float *ggamma = parity_upload (gpu, gamma, s->c_out), *gbeta = parity_upload (gpu, beta, s->c_out);
  float *gout = gpu->ops->alloc (gpu, np * sizeof (float));
  cpu->ops->conv_block_forward (cpu, s, x, w, b, eps, NULL, NULL, want);
  gpu->ops->conv_block_forward (gpu, s, gx, gw, gb, eps, NULL, NULL, gout);
  parity_compare (env, "conv_block_forward (no norm)", gout, want, np, 0.0, tol_y);
  cpu->ops->conv_block_forward (cpu, s, x, w, b, eps, gamma, beta, want);
  gpu->ops->conv_block_forward (gpu, s, gx, gw, gb, eps, ggamma, gbeta, gout);
  parity_compare (env, "conv_block_forward (instance norm)", gout, want, np, 0.0,
      2.0 * tol_y * r_max * 1.5 + (hw + 18) * UNIT_ROUNDOFF * 2.0 * (y_max * r_max * 1.5 + yn_max));
  gpu->ops->free (gpu, ggamma);
  gpu->ops->free (gpu, gbeta);
  gpu->ops->free (gpu, gout);
}

static void
test_conv2d (gconstpointer data)
{
  const ParityEnv *env = data;
  NcfmBackend *cpu = env->cpu, *gpu = env->gpu;
  g_autoptr (GRand) rand = g_rand_new_with_seed (21);

  for (guint i = 0; i < G_N_ELEMENTS (parity_shapes); i++) {
    const NcfmConv2dShape *s = &parity_shapes[i];
    const int p = ncfm_conv2d_h_out (s) * ncfm_conv2d_w_out (s);
    const int k = s->c_in * s->kernel_h * s->kernel_w;
    const size_t nx = (size_t) s->n * s->c_in * s->h_in * s->w_in;
    const size_t nw = (size_t) s->c_out * k, ny = (size_t) s->n * s->c_out * p;
    g_autofree float *x = ncfm_test_new_uniform (rand, nx, -1.0f, 1.0f);
    g_autofree float *w = ncfm_test_new_uniform (rand, nw, -0.5f, 0.5f);
    g_autofree float *b = ncfm_test_new_uniform (rand, s->c_out, -1.0f, 1.0f);
    g_autofree float *dy = ncfm_test_new_uniform (rand, ny, -1.0f, 1.0f);
    g_autofree float *y = g_new (float, ny), *dx = g_new (float, nx);
    g_autofree float *dw = g_new (float, nw), *db = g_new (float, s->c_out);
    float *gx = parity_upload (gpu, x, nx), *gw = parity_upload (gpu, w, nw);
    float *gb = parity_upload (gpu, b, s->c_out), *gdy = parity_upload (gpu, dy, ny);
    float *gy = gpu->ops->alloc (gpu, ny * sizeof (float));
    float *gdx = gpu->ops->alloc (gpu, nx * sizeof (float));
    float *gdw = gpu->ops->alloc (gpu, nw * sizeof (float));
    float *gdb = gpu->ops->alloc (gpu, s->c_out * sizeof (float));
    g_test_message ("conv2d n=%d c_in=%d %dx%d c_out=%d k=%dx%d stride=%d pad=%d", s->n,
        s->c_in, s->h_in, s->w_in, s->c_out, s->kernel_h, s->kernel_w, s->stride, s->pad);

    const double tol_y = bound (k + 1, 0.5 * k + 1.0);
    cpu->ops->conv2d_forward (cpu, s, x, w, NULL, y);
    gpu->ops->conv2d_forward (gpu, s, gx, gw, NULL, gy);
    parity_compare (env, "conv2d_forward (no bias)", gy, y, ny, 0.0, tol_y);
    cpu->ops->conv2d_forward (cpu, s, x, w, b, y);
    gpu->ops->conv2d_forward (gpu, s, gx, gw, gb, gy);
    parity_compare (env, "conv2d_forward", gy, y, ny, 0.0, tol_y);

    block_case (env, s, x, w, b, gx, gw, gb, y, tol_y, rand);

    const double len_dx = (double) s->c_out * s->kernel_h * s->kernel_w;
    const double len_dw = (double) s->n * p;
    cpu->ops->conv2d_backward (cpu, s, x, w, dy, dx, dw, db);
    gpu->ops->conv2d_backward (gpu, s, gx, gw, gdy, gdx, gdw, gdb);
    parity_compare (env, "conv2d_backward dx", gdx, dx, nx, 0.0, bound (len_dx, 0.5 * len_dx));
    parity_compare (env, "conv2d_backward dw", gdw, dw, nw, 0.0, bound (len_dw, len_dw));
    parity_compare (env, "conv2d_backward dbias", gdb, db, s->c_out, 0.0,
        bound (len_dw, len_dw));

    /* single outputs overwrite (not accumulate into) what the full call left */
    gpu->ops->conv2d_backward (gpu, s, gx, gw, gdy, gdx, NULL, NULL);
    parity_compare (env, "conv2d_backward dx only", gdx, dx, nx, 0.0,
        bound (len_dx, 0.5 * len_dx));
    gpu->ops->conv2d_backward (gpu, s, gx, gw, gdy, NULL, gdw, NULL);
    parity_compare (env, "conv2d_backward dw only", gdw, dw, nw, 0.0, bound (len_dw, len_dw));
    gpu->ops->conv2d_backward (gpu, s, gx, gw, gdy, NULL, NULL, gdb);
    parity_compare (env, "conv2d_backward dbias only", gdb, db, s->c_out, 0.0,
        bound (len_dw, len_dw));

    float *bufs[] = { gx, gw, gb, gdy, gy, gdx, gdw, gdb };
    for (guint j = 0; j < G_N_ELEMENTS (bufs); j++)
      gpu->ops->free (gpu, bufs[j]);
  }
}

void
parity_add_conv2d (ParityEnv *env)
{
  g_test_add_data_func ("/parity/conv2d", env, test_conv2d);
}
