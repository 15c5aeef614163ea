/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NcfmFrameBatch (ncfm-frames.c): 8-bit samples into normalised F32
 * batches, values against hand-computed ones (scale, luma, bilinear resize,
 * mean/std), partial and full batches, and every bad argument an error
 * that leaves the batch as it was. */
#include <string.h>
#include "libncfm-test.h"

#define EPS 1e-6

static NcfmFrameBatch *
batch_new (NcfmDevice *dev, guint b, guint c, guint h, guint w, gfloat mean, gfloat std)
{
  g_autoptr (GError) error = NULL;
  const gfloat m[3] = { mean, mean, mean }, s[3] = { std, std, std };
  NcfmFrameBatch *batch = ncfm_frame_batch_new (dev, b, c, h, w, m, s, c, &error);
  g_assert_no_error (error);
  return batch;
}

static void
add_ok (NcfmFrameBatch *batch, const guint8 *px, guint cin, guint h, guint w)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (ncfm_frame_batch_add (batch, px, (gsize) cin * h * w, cin, h, w, &error));
  g_assert_no_error (error);
}

static float *
finish_host (NcfmFrameBatch *batch, const gint64 *want_shape)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) t = ncfm_frame_batch_finish (batch, &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_tensor_has_shape (t, want_shape, 4));
  g_assert_cmpuint (ncfm_frame_batch_get_count (batch), ==, 0);
  return ncfm_test_tensor_host (t);
}

/* Grey and RGB samples at the output size: x / 255, normalised; luma for 1 of 3. */
static void
test_scale_luma_normalise (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint8 grey[4] = { 0, 51, 204, 255 };
  const guint8 rgb[12] = { 255, 0, 0, 10, /* R */ 0, 255, 0, 20, /* G */ 0, 0, 255, 30 /* B */ };
  g_autoptr (NcfmFrameBatch) batch = batch_new (dev, 2, 1, 2, 2, 0.5f, 0.25f);
  g_assert_cmpuint (ncfm_frame_batch_get_batch_size (batch), ==, 2);
  add_ok (batch, grey, 1, 2, 2);
  add_ok (batch, rgb, 3, 2, 2);
  g_assert_cmpuint (ncfm_frame_batch_get_count (batch), ==, 2);
  const gint64 shape[4] = { 2, 1, 2, 2 };
  g_autofree float *h = finish_host (batch, shape);
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat_with_epsilon (h[i], (grey[i] / 255.0 - 0.5) / 0.25, EPS);
  const double luma[3] = { 0.299, 0.587, 0.114 };
  for (int i = 0; i < 4; i++) {
    const double y = (luma[0] * rgb[i] + luma[1] * rgb[4 + i] + luma[2] * rgb[8 + i]) / 255.0;
    g_assert_cmpfloat_with_epsilon (h[4 + i], (y - 0.5) / 0.25, EPS);
  }
}

/* Bilinear, align_corners=False: a row [0, 255] widened to 4 is [0, .25, .75, 1];
 * a partial batch holds only its samples; the batch is reusable after finishing. */
static void
test_resize_partial (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint8 row[6] = { 0, 255, 0, 255, 255, 0 };  /* 3 planes of 1 x 2 */
  g_autoptr (NcfmFrameBatch) batch = batch_new (dev, 4, 3, 1, 4, 0.0f, 1.0f);
  add_ok (batch, row, 3, 1, 2);
  const gint64 one[4] = { 1, 3, 1, 4 };
  g_autofree float *h = finish_host (batch, one);
  const float want[12] = { 0, 0.25f, 0.75f, 1, 0, 0.25f, 0.75f, 1, 1, 0.75f, 0.25f, 0 };
  for (int i = 0; i < 12; i++)
    g_assert_cmpfloat_with_epsilon (h[i], want[i], EPS);
  /* again, through the other sizes of the grown scratch: 2 samples, a 5 x 3 one first */
  guint8 big[45];
  memset (big, 255, sizeof big);
  add_ok (batch, big, 3, 5, 3);
  add_ok (batch, row, 3, 1, 2);
  const gint64 two[4] = { 2, 3, 1, 4 };
  g_autofree float *h2 = finish_host (batch, two);
  for (int i = 0; i < 12; i++) {
    g_assert_cmpfloat_with_epsilon (h2[i], 1.0, EPS);
    g_assert_cmpfloat_with_epsilon (h2[12 + i], want[i], EPS);
  }
}

static void
test_errors (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  const gfloat m[2] = { 0, 0 }, s0[2] = { 1, 0 };
  g_assert_null (ncfm_frame_batch_new (dev, 2, 2, 4, 4, m, s0, 2, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "channel 1 has mean 0, std 0"));
  g_clear_error (&error);
  g_assert_null (ncfm_frame_batch_new (dev, 2, 3, 4, 4, m, s0, 2, &error));
  g_assert_nonnull (strstr (error->message, "2 mean/std values for 3 channels"));
  g_clear_error (&error);
  g_assert_null (ncfm_frame_batch_new (dev, 0, 1, 4, 4, m, s0, 1, &error));
  g_assert_nonnull (strstr (error->message, "batch size 0"));
  g_clear_error (&error);

  g_autoptr (NcfmFrameBatch) batch = batch_new (dev, 1, 3, 2, 2, 0.0f, 1.0f);
  g_assert_null (ncfm_frame_batch_finish (batch, &error));
  g_assert_nonnull (strstr (error->message, "no samples"));
  g_clear_error (&error);
  const guint8 px[12] = { 0 };
  g_assert_false (ncfm_frame_batch_add (batch, px, 11, 3, 2, 2, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "11 bytes given for a sample of 3 x 2 x 2"));
  g_clear_error (&error);
  g_assert_false (ncfm_frame_batch_add (batch, px, 4, 1, 2, 2, &error));
  g_assert_nonnull (strstr (error->message, "a sample of 1 x 2 x 2 for 3-channel images"));
  g_clear_error (&error);
  g_assert_cmpuint (ncfm_frame_batch_get_count (batch), ==, 0);
  add_ok (batch, px, 3, 2, 2);
  g_assert_false (ncfm_frame_batch_add (batch, px, 12, 3, 2, 2, &error));
  g_assert_nonnull (strstr (error->message, "full with 1 samples"));
  g_clear_error (&error);
  ncfm_frame_batch_discard (batch);
  g_assert_cmpuint (ncfm_frame_batch_get_count (batch), ==, 0);

  /* the two ops it adds to ncfm-ops.h */
  const gint64 s4[4] = { 1, 1, 2, 2 }, s4b[4] = { 2, 1, 2, 2 };
  g_autoptr (NcfmTensor) x = ncfm_tensor_new (dev, NCFM_DTYPE_F32, s4, 4, &error);
  g_autoptr (NcfmTensor) y = ncfm_tensor_new (dev, NCFM_DTYPE_F32, s4b, 4, &error);
  g_assert_false (ncfm_ops_u8_to_f32 (x, 1.0f, x, &error));
  g_assert_nonnull (strstr (error->message, "u8_to_f32: x must be a U8 tensor, got F32 [1, 1, 2, 2]"));
  g_clear_error (&error);
  g_assert_false (ncfm_ops_resize_bilinear (x, y, &error));
  g_assert_nonnull (strstr (error->message,
          "resize_bilinear: F32 [1, 1, 2, 2] cannot be resized into F32 [2, 1, 2, 2]"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/frames/scale-luma-normalise", test_scale_luma_normalise);
  g_test_add_func ("/frames/resize-partial", test_resize_partial);
  g_test_add_func ("/frames/errors", test_errors);
  return g_test_run ();
}
