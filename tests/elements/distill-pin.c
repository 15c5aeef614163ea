/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bitwise pin of ncfmdistill: a short demo-like distillation on the
 * blobs dataset (blobs.h) with fixed seeds, ncfmaugment on, factor 2 and
 * calibration through a pool of two members, once with the Gaussian sampler,
 * once with the learned one and once with the structured one.  The sha256 of
 * the saved images and AdamW moments were recorded before the distiller moved
 * into libncfm (NcfmDistiller, NcfmSynset), the structured run's when its
 * fast path was wired into the class step: a refactor must keep every bit.
 * Re-recorded twice since, on purpose: fill_normal's Box-Muller went from
 * double libm to vectorised float arithmetic (kernels/philox.h), which changes
 * every Gaussian draw (t, psi's noise) in the last bits; then the forward of
 * the first conv layer (3 input channels) went from im2col + SGEMM to the
 * direct convolution (kernels/cpu/conv2d-direct.c), whose FMA chain sums the
 * 27 taps in another order than OpenBLAS (NCFM_CONV_ALGO=im2col still gives
 * the previous hashes). */
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

#include "blobs.h"
#include "elements-test-util.h"

#define K 10
#define N_TRAIN 60

static gchar *blobs_dir, *pool_dir;

/* premodel{0,1}_{init,trained}.safetensors of the extractor's shape. */
static void
write_pool (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", &error);
  fail_unless (dev != NULL, "%s", error ? error->message : "");
  fail_unless (g_mkdir_with_parents (pool_dir, 0700) == 0);
  for (guint k = 0; k < 2; k++) {
    for (guint j = 0; j < 2; j++) {
      g_autofree gchar *name = g_strdup_printf ("premodel%u_%s.safetensors", k,
          j ? "init" : "trained");
      g_autofree gchar *path = g_build_filename (pool_dir, name, NULL);
      g_autoptr (NcfmConvNet) m = ncfm_convnet_new (dev, 1, BLOBS_SIZE, BLOBS_SIZE, K, 2, 8,
          NCFM_NORM_INSTANCE, 100 + 10 * k + j, &error);
      fail_unless (m != NULL, "%s", error ? error->message : "");
      fail_unless (ncfm_convnet_save (m, path, &error), "%s", error ? error->message : "");
    }
  }
}

static gchar *
tensor_sha256 (NcfmSafetensors *st, const gchar *name)
{
  g_autoptr (GError) error = NULL;
  NcfmDType dt;
  gsize n = 0;
  const guint8 *data = ncfm_safetensors_peek (st, name, &dt, &n, &error);
  fail_unless (data != NULL, "%s: %s", name, error ? error->message : "");
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, n);
}

/* A warning (e.g. calib without a trained model) would mean the pin misses a part. */
static void
fail_on_warning (GstMessage *msg, G_GNUC_UNUSED gpointer data)
{
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
    g_autoptr (GError) e = NULL;
    gst_message_parse_warning (msg, &e, NULL);
    fail ("warning: %s", e->message);
  }
}

/* Distils with @sampler; the saved tensors' hashes must be @images, @m, @v. */
static void
check_pin (const gchar *sampler, const gchar *images, const gchar *m, const gchar *v)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *set = g_strdup_printf ("%s/pin-%s.safetensors", tmp_root, sampler);
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s batch-size=20 "
      "epochs=1 seed=3 ! ncfmaugment seed=5 ! ncfmconvnet depth=2 width=8 pool=%s seed=7 ! "
      "ncfmcf num-freqs=64 sampler=%s seed=9 ! ncfmdistill dataset=%s location=%s ipc=2 "
      "factor=2 calib=0.5 seed=11 save-every=0 preview-every=0", blobs_dir, pool_dir, sampler,
      blobs_dir, set);
  GstElement *pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  g_autofree gchar *err = play_to_eos (pipeline, 120, fail_on_warning, NULL);
  gst_object_unref (pipeline);
  fail_unless (err == NULL, "%s", err);

  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (set, &error);
  fail_unless (st != NULL, "%s", error ? error->message : "");
  fail_unless_equals_string (ncfm_safetensors_get_metadata (st, "ncfm.step"), "10");
  g_autofree gchar *hi = tensor_sha256 (st, "images");
  g_autofree gchar *hm = tensor_sha256 (st, "adamw.m");
  g_autofree gchar *hv = tensor_sha256 (st, "adamw.v");
  g_print ("%s: images %s\n%s: adamw.m %s\n%s: adamw.v %s\n", sampler, hi, sampler, hm,
      sampler, hv);
  fail_unless_equals_string (hi, images);
  fail_unless_equals_string (hm, m);
  fail_unless_equals_string (hv, v);
  g_unlink (set);
}

GST_START_TEST (test_pin_gaussian)
{
  check_pin ("gaussian",
      "674d06a7e6251ea4ea5eda984e00d9c2769b13d9b330771321e08d73e632eb4d",
      "f020ad257aa47535d9e16e57573f1700b4a0b642375bd3c06fba8815b7c28d72",
      "087c264b9d2437d8614f8f23e5c71bbdbe0369a28f4c7557da24ceb93f5a4adc");
}
GST_END_TEST;

GST_START_TEST (test_pin_learned)
{
  check_pin ("learned",
      "4bb422fbf431d126419451b1ea997f7b56cfda0401c3e7a4bc9430b454f63b95",
      "4240e3b26710628dc95d813b60c352a33c077ce21e89c89118cc77daf0108dff",
      "5a15d3a65dbb71499475882e86babb3aa4f7fa62a63f2802c2787f408823bc5c");
}
GST_END_TEST;

/* Structured frequencies: phases and the synthetic features' gradient by
 * fast Hadamard transforms (ncfm_cf_stats_accumulate_draw,
 * ncfm_ncfd_synthetic_draw), through the whole step. */
GST_START_TEST (test_pin_structured)
{
  check_pin ("structured",
      "b5f4b68f890d8cb13e0ee5669a6ba93cb1d76c00625abeb9d0bd0c791521edd7",
      "7758c6b3379360070eccd65d9445143defbac14f56b03ec4867de47363384eba",
      "2ce090dae22af1a3c9cefbe4e61b84b23f05d1f6a1ec8b111b50c7fbc1785849");
}
GST_END_TEST;

static void
setup (void)
{
  g_autoptr (GError) error = NULL;
  make_dataset ();
  blobs_dir = g_build_filename (tmp_root, "blobs", NULL);
  pool_dir = g_build_filename (tmp_root, "pool", NULL);
  fail_unless (blobs_write (blobs_dir, K, N_TRAIN, 0, 2, &error), "%s",
      error ? error->message : "");
}

/* the files setup() and write_pool() made, then what make_dataset() made */
static void
teardown (void)
{
  const gchar *dirs[] = { blobs_dir, pool_dir };
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++) {
    g_autoptr (GDir) dir = g_dir_open (dirs[i], 0, NULL);
    const gchar *name;
    while (dir && (name = g_dir_read_name (dir))) {
      g_autofree gchar *path = g_build_filename (dirs[i], name, NULL);
      g_unlink (path);
    }
    g_rmdir (dirs[i]);
  }
  g_clear_pointer (&blobs_dir, g_free);
  g_clear_pointer (&pool_dir, g_free);
  remove_dataset ();
}

static Suite *
distill_pin_suite (void)
{
  Suite *s = suite_create ("ncfmdistill-pin");
  TCase *tc = tcase_create ("pin");
  tcase_set_timeout (tc, 120);
  tcase_add_unchecked_fixture (tc, setup, teardown);
  tcase_add_checked_fixture (tc, write_pool, NULL);
  tcase_add_test (tc, test_pin_gaussian);
  tcase_add_test (tc, test_pin_learned);
  tcase_add_test (tc, test_pin_structured);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (distill_pin);
