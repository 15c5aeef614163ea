/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parity/dsa.c: the differentiable siamese augmentation ops and CutMix,
 * CUDA vs CPU. */
#include "parity.h"

#include <float.h>
#include <math.h>

static void
run_case (const ParityEnv *env, int n, int c, int h, int w, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  NcfmBackend *cpu = env->cpu, *gpu = env->gpu;
  const size_t nx = (size_t) n * c * h * w;
  const int hw = h * w, chw = c * hw;
  g_autofree float *x = ncfm_test_new_uniform (rand, nx, -2.0f, 2.0f);
  g_autofree float *y = g_new (float, nx), *xt = g_new (float, nx);
  g_autofree float *delta = g_new (float, n), *factor = g_new (float, n);
  g_autofree float *theta = g_new (float, 6 * (size_t) n);
  g_autofree int32_t *shift = g_new (int32_t, 2 * (size_t) n);
  g_autofree int32_t *box = g_new (int32_t, 4 * (size_t) n);
  g_autofree int32_t *flip = g_new (int32_t, n), *perm = g_new (int32_t, n);
  int32_t mixbox[4];
  for (int i = 0; i < n; i++) {
    delta[i] = (float) g_rand_double_range (rand, -0.5, 0.5);
    factor[i] = (float) g_rand_double_range (rand, 0.0, 2.0);
    shift[2 * i] = g_rand_int_range (rand, -h / 4, h / 4 + 1);
    shift[2 * i + 1] = g_rand_int_range (rand, -w / 4, w / 4 + 1);
    int cy = g_rand_int_range (rand, 0, h), cx = g_rand_int_range (rand, 0, w);
    box[4 * i] = MAX (cy - h / 4, 0);
    box[4 * i + 1] = MIN (cy + h / 4, h);
    box[4 * i + 2] = MAX (cx - w / 4, 0);
    box[4 * i + 3] = MIN (cx + w / 4, w);
    flip[i] = g_rand_int_range (rand, 0, 2);
    perm[i] = i;
    double a = g_rand_double_range (rand, -15.0, 15.0) * G_PI / 180.0;
    double sx = g_rand_double_range (rand, 1 / 1.2, 1.2);
    double sy = g_rand_double_range (rand, 1 / 1.2, 1.2);
    const float t[6] = { (float) (sx * cos (a)), (float) (-sy * sin (a)),
        (float) g_rand_double_range (rand, -0.1, 0.1), (float) (sx * sin (a)),
        (float) (sy * cos (a)), (float) g_rand_double_range (rand, -0.1, 0.1) };
    for (int k = 0; k < 6; k++)
      theta[6 * i + k] = t[k];
  }
  for (int i = n - 1; i > 0; i--) {
    int j = g_rand_int_range (rand, 0, i + 1), tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  mixbox[0] = h / 5;
  mixbox[1] = h - h / 3;
  mixbox[2] = w / 4;
  mixbox[3] = w;

  float *gx = parity_upload (gpu, x, nx);
  float *gy = parity_upload (gpu, x, nx);   /* garbage: must be overwritten */
  float *gdelta = parity_upload (gpu, delta, n), *gfactor = parity_upload (gpu, factor, n);
  float *gtheta = parity_upload (gpu, theta, 6 * (size_t) n);
  int32_t *gshift = parity_upload_bytes (gpu, shift, 2 * (size_t) n * sizeof (int32_t));
  int32_t *gbox = parity_upload_bytes (gpu, box, 4 * (size_t) n * sizeof (int32_t));
  int32_t *gflip = parity_upload_bytes (gpu, flip, (size_t) n * sizeof (int32_t));
  int32_t *gperm = parity_upload_bytes (gpu, perm, (size_t) n * sizeof (int32_t));
  int32_t *gmixbox = parity_upload_bytes (gpu, mixbox, sizeof mixbox);

  /* values are <= ~4 in magnitude after the colour ops; nvcc may fuse
   * m + (x - m) f into one rounding fewer: a few FLT_EPSILON of 4 */
  const double colour = 16 * FLT_EPSILON;
  cpu->ops->dsa_brightness (cpu, n, chw, delta, x, y);
  gpu->ops->dsa_brightness (gpu, n, chw, gdelta, gx, gy);
  parity_compare (env, "dsa brightness", gy, y, nx, 0, 0);
  cpu->ops->dsa_saturation (cpu, n, c, hw, factor, x, y);
  gpu->ops->dsa_saturation (gpu, n, c, hw, gfactor, gx, gy);
  parity_compare (env, "dsa saturation", gy, y, nx, 0, colour);
  /* the GPU's mean is a float tree sum (chw / 256 serial terms per thread,
   * then 8 levels), the CPU's a double sum: the mean differs by
   * ~(chw / 256 + 8) FLT_EPSILON max|x| (2), carried with weight |1 - f| <= 1 */
  cpu->ops->dsa_contrast (cpu, n, chw, factor, x, y);
  gpu->ops->dsa_contrast (gpu, n, chw, gfactor, gx, gy);
  parity_compare (env, "dsa contrast", gy, y, nx, 0,
      colour + 2.0 * (chw / 256.0 + 8) * FLT_EPSILON);
  /* in place on the GPU gives the same */
  gpu->ops->copy (gpu, gy, gx, nx * sizeof (float));
  gpu->ops->dsa_contrast (gpu, n, chw, gfactor, gy, gy);
  parity_compare (env, "dsa contrast in place", gy, y, nx, 0,
      colour + 2.0 * (chw / 256.0 + 8) * FLT_EPSILON);
  gpu->ops->copy (gpu, gy, gx, nx * sizeof (float));
  gpu->ops->dsa_saturation (gpu, n, c, hw, gfactor, gy, gy);
  cpu->ops->dsa_saturation (cpu, n, c, hw, factor, x, y);
  parity_compare (env, "dsa saturation in place", gy, y, nx, 0, colour);

  /* the geometric ops move values: exact */
  for (int sign = -1; sign <= 1; sign += 2) {
    cpu->ops->dsa_translate (cpu, n, c, h, w, shift, sign, x, y);
    gpu->ops->dsa_translate (gpu, n, c, h, w, gshift, sign, gx, gy);
    parity_compare (env, "dsa translate", gy, y, nx, 0, 0);
  }
  cpu->ops->dsa_cutout (cpu, n, c, h, w, box, x, y);
  gpu->ops->dsa_cutout (gpu, n, c, h, w, gbox, gx, gy);
  parity_compare (env, "dsa cutout", gy, y, nx, 0, 0);
  gpu->ops->copy (gpu, gy, gx, nx * sizeof (float));
  gpu->ops->dsa_cutout (gpu, n, c, h, w, gbox, gy, gy);
  parity_compare (env, "dsa cutout in place", gy, y, nx, 0, 0);
  cpu->ops->dsa_flip (cpu, n, c, h, w, flip, x, y);
  gpu->ops->dsa_flip (gpu, n, c, h, w, gflip, gx, gy);
  parity_compare (env, "dsa flip", gy, y, nx, 0, 0);
  cpu->ops->cutmix (cpu, n, c, h, w, perm, mixbox, x, y);
  gpu->ops->cutmix (gpu, n, c, h, w, gperm, gmixbox, gx, gy);
  parity_compare (env, "cutmix", gy, y, nx, 0, 0);

  /* affine: nvcc may fuse the coordinate's multiply-adds, moving it by an ulp
   * of the size (<= size FLT_EPSILON) and the weights with it, times a
   * difference of two inputs (<= 4); the blend is ~8 roundings of |x| <= 2 */
  const double coord = 2.0 * MAX (h, w) * FLT_EPSILON;
  cpu->ops->dsa_affine_forward (cpu, n, c, h, w, theta, x, y);
  gpu->ops->dsa_affine_forward (gpu, n, c, h, w, gtheta, gx, gy);
  parity_compare (env, "dsa affine forward", gy, y, nx, 0, 16 * FLT_EPSILON + 4 * coord);
  /* backward: with scales >= 1/1.2 (minus a little for the rotation) an
   * input pixel is a tap of at most 3 x 3 outputs (|dy| <= 2), summed in
   * another order (atomics) on the GPU */
  cpu->ops->dsa_affine_backward (cpu, n, c, h, w, theta, x, xt);
  gpu->ops->dsa_affine_backward (gpu, n, c, h, w, gtheta, gx, gy);
  parity_compare (env, "dsa affine backward", gy, xt, nx, 0, 2 * 9 * (8 * FLT_EPSILON + 4 * coord));

  void *bufs[] = { gx, gy, gdelta, gfactor, gtheta, gshift, gbox, gflip, gperm, gmixbox };
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    gpu->ops->free (gpu, bufs[i]);
}

static void
test_dsa (gconstpointer data)
{
  const ParityEnv *env = data;
  run_case (env, 64, 3, 32, 32, 81);    /* CIFAR-sized batch */
  run_case (env, 5, 1, 17, 23, 82);     /* odd sizes, one channel */
  run_case (env, 3, 3, 96, 80, 83);     /* larger images: many contrast terms */
  run_case (env, 2, 4, 1, 7, 84);       /* one row */
}

void
parity_add_dsa (ParityEnv *env)
{
  g_test_add_data_func ("/parity/dsa", env, test_dsa);
}
