/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The checked tensor ops (ncfm-ops.c): values against hand-computed ones,
 * and every mismatch (dtype, size, rank, bounds, step) an error naming the
 * operation and the operand, with the output left untouched. */
#include <math.h>
#include "libncfm-test.h"

static NcfmTensor *
f32 (NcfmDevice *dev, const gfloat *v, const gint64 *shape, guint nd)
{
  g_autoptr (GError) error = NULL;
  gint64 n = 1;
  for (guint i = 0; i < nd; i++)
    n *= shape[i];
  NcfmTensor *t = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, shape, nd,
      (const guint8 *) v, (gsize) n * sizeof (gfloat), &error);
  g_assert_no_error (error);
  return t;
}

static void
test_axpby_clamp (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  const gint64 s4 = 4, s3 = 3;
  const gfloat xv[] = { 1, -2, 3, 0.5f }, yv[] = { 10, 20, 30, 40 };
  g_autoptr (NcfmTensor) x = f32 (dev, xv, &s4, 1);
  g_autoptr (NcfmTensor) y = f32 (dev, yv, &s4, 1);
  g_assert_true (ncfm_ops_axpby (2.0f, x, 0.5f, y, &error));
  g_assert_no_error (error);
  g_autofree float *h = ncfm_test_tensor_host (y);
  const gfloat want[] = { 7, 6, 21, 21 };
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat_with_epsilon (h[i], want[i], 1e-6);

  g_assert_true (ncfm_ops_clamp (x, 0.0f, 1.0f, &error));
  g_autofree float *hc = ncfm_test_tensor_host (x);
  const gfloat wc[] = { 1, 0, 1, 0.5f };
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat (hc[i], ==, wc[i]);
  g_assert_false (ncfm_ops_clamp (x, 1.0f, 0.0f, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "clamp"));
  g_clear_error (&error);

  g_autoptr (NcfmTensor) z = f32 (dev, xv, &s3, 1);
  g_assert_false (ncfm_ops_axpby (1.0f, x, 1.0f, z, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "axpby: x is F32 [4] but y is F32 [3]"));
  g_clear_error (&error);
  g_autofree float *hz = ncfm_test_tensor_host (z);
  g_assert_cmpfloat (hz[0], ==, 1.0f);   /* untouched */

  g_autoptr (NcfmTensor) l = ncfm_tensor_new (dev, NCFM_DTYPE_I32, &s4, 1, &error);
  g_assert_false (ncfm_ops_axpby (1.0f, l, 1.0f, y, &error));
  g_assert_nonnull (strstr (error->message, "x must be a F32 tensor, got I32 [4]"));
}

static void
test_normalize (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  const gint64 shape[] = { 1, 2, 1, 2 };
  const gfloat v[] = { 0.5f, 1.0f, 0.0f, 0.25f };
  const gfloat mean[] = { 0.5f, 0.25f }, std[] = { 0.25f, 0.5f };
  g_autoptr (NcfmTensor) x = f32 (dev, v, shape, 4);
  g_autoptr (NcfmTensor) y = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 4, &error);
  g_assert_true (ncfm_ops_normalize (x, y, mean, std, 2, &error));
  g_autofree float *h = ncfm_test_tensor_host (y);
  const gfloat want[] = { 0, 2, -0.5f, 0 };
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat_with_epsilon (h[i], want[i], 1e-6);
  g_assert_true (ncfm_ops_normalize_backward (y, y, std, 2, &error));
  g_autofree float *hb = ncfm_test_tensor_host (y);
  const gfloat wb[] = { 0, 8, -1, 0 };
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat_with_epsilon (hb[i], wb[i], 1e-6);
  /* three channels' statistics (the arrays hold n_channels values) for a 2-channel x */
  const gfloat mean3[] = { 0.5f, 0.25f, 0.0f }, std3[] = { 0.25f, 0.5f, 1.0f };
  g_assert_false (ncfm_ops_normalize (x, y, mean3, std3, 3, &error));
  g_assert_nonnull (strstr (error->message, "channel_affine: x must be [N, 3, H, W]"));
}

static void
test_cross_entropy (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  const gint64 shape[] = { 2, 3 }, one = 1, two = 2;
  const gfloat lv[] = { 0, 0, 0, 1, 2, 3 };
  g_autoptr (NcfmTensor) logits = f32 (dev, lv, shape, 2);
  g_autoptr (NcfmTensor) probs = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 2, &error);
  g_autoptr (NcfmTensor) grad = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 2, &error);
  g_autoptr (NcfmTensor) loss = ncfm_tensor_new (dev, NCFM_DTYPE_F32, &one, 1, &error);
  const gint32 lab[] = { 1, 2 };
  g_autoptr (NcfmTensor) labels = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_I32, &two, 1,
      (const guint8 *) lab, sizeof lab, &error);
  g_assert_true (ncfm_ops_cross_entropy (logits, labels, NULL, probs, loss, &error));
  g_assert_no_error (error);
  g_autofree float *hl = ncfm_test_tensor_host (loss);
  const double lse = log (exp (1.0) + exp (2.0) + exp (3.0));
  g_assert_cmpfloat_with_epsilon (hl[0], (log (3.0) + lse - 3.0) / 2.0, 1e-5);
  g_assert_true (ncfm_ops_cross_entropy_backward (probs, labels, NULL, grad, &error));
  g_autofree float *hg = ncfm_test_tensor_host (grad);
  g_assert_cmpfloat_with_epsilon (hg[1], (1.0 / 3.0 - 1.0) / 2.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (hg[0], (1.0 / 3.0) / 2.0, 1e-6);

  g_assert_false (ncfm_ops_cross_entropy (logits, NULL, NULL, probs, loss, &error));
  g_assert_nonnull (strstr (error->message, "either hard labels or soft targets"));
  g_clear_error (&error);
  g_assert_false (ncfm_ops_cross_entropy (logits, labels, NULL, probs, probs, &error));
  g_assert_nonnull (strstr (error->message, "loss must hold one value"));
}

/* One AdamW and one SGD step against torch.optim's formulas by hand. */
static void
test_optimizer_steps (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  const gint64 s2 = 2;
  const gfloat pv[] = { 1.0f, -1.0f }, gv[] = { 0.5f, 2.0f }, zero[] = { 0, 0 };
  g_autoptr (NcfmTensor) p = f32 (dev, pv, &s2, 1);
  g_autoptr (NcfmTensor) g = f32 (dev, gv, &s2, 1);
  g_autoptr (NcfmTensor) m = f32 (dev, zero, &s2, 1);
  g_autoptr (NcfmTensor) v = f32 (dev, zero, &s2, 1);
  g_assert_true (ncfm_ops_adamw_step (p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1, &error));
  g_autofree float *hp = ncfm_test_tensor_host (p);
  /* first step: the bias-corrected update is lr * sign(g) (up to eps) */
  g_assert_cmpfloat_with_epsilon (hp[0], 1.0 * (1 - 0.1 * 0.01) - 0.1, 1e-6);
  g_assert_cmpfloat_with_epsilon (hp[1], -1.0 * (1 - 0.1 * 0.01) - 0.1, 1e-6);
  g_assert_false (ncfm_ops_adamw_step (p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 0, &error));
  g_assert_nonnull (strstr (error->message, "step 0 is outside"));
  g_clear_error (&error);

  g_autoptr (NcfmTensor) q = f32 (dev, pv, &s2, 1);
  g_autoptr (NcfmTensor) buf = f32 (dev, zero, &s2, 1);
  g_assert_true (ncfm_ops_sgd_step (q, g, buf, 0.1f, 0.9f, 0.0f, &error));
  g_assert_true (ncfm_ops_sgd_step (q, g, buf, 0.1f, 0.9f, 0.0f, &error));
  g_autofree float *hq = ncfm_test_tensor_host (q);
  /* two steps with momentum: p - lr g - lr (0.9 g + g) */
  g_assert_cmpfloat_with_epsilon (hq[0], 1.0 - 0.1 * 0.5 - 0.1 * 1.9 * 0.5, 1e-6);
  g_assert_false (ncfm_ops_sgd_step (q, g, NULL, 0.1f, 0.9f, 0.0f, &error));
  g_assert_nonnull (strstr (error->message, "needs a momentum buffer"));
}

static void
test_mix64 (void)
{
  /* splitmix64's published first output for seed 0 */
  g_assert_cmpuint (ncfm_mix64 (0), ==, G_GUINT64_CONSTANT (0xe220a8397b1dcdaf));
  g_assert_cmpuint (ncfm_mix64 (1), !=, ncfm_mix64 (2));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/axpby-clamp", test_axpby_clamp);
  g_test_add_func ("/ops/normalize", test_normalize);
  g_test_add_func ("/ops/cross-entropy", test_cross_entropy);
  g_test_add_func ("/ops/optimizer-steps", test_optimizer_steps);
  g_test_add_func ("/ops/mix64", test_mix64);
  return g_test_run ();
}
