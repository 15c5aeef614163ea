/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* swap.c: the extractor is one word of the pipeline.  The same distillation
 * line, ncfmdatasetsrc ! ncfmaugment ! EXTRACTOR ! ncfmcf ! ncfmdistill, runs
 * with ncfmconvnet and with ncfmresnet; each writes a synthetic set and its
 * loss falls.  The dataset is generated here: 30 one-channel 12x12 images
 * (the 4x3 images of elements-test-util are too small for ResNet-AP's three
 * downsampling stages), each class a stripe pattern of its own frequency. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

#include "elements-test-util.h"

#define SWAP_IMAGES 30
#define SIDE 12
#define N_CLASSES 10

static gchar *tmp_dir, *data_dir;

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static void
write_split (const gchar *prefix)
{
  const gsize n_pixels = (gsize) SWAP_IMAGES * SIDE * SIDE;
  g_autofree guint8 *images = g_malloc (16 + n_pixels);
  guint8 labels[8 + SWAP_IMAGES];
  put_be32 (images, 0x803);
  put_be32 (images + 4, SWAP_IMAGES);
  put_be32 (images + 8, SIDE);
  put_be32 (images + 12, SIDE);
  put_be32 (labels, 0x801);
  put_be32 (labels + 4, SWAP_IMAGES);
  for (guint i = 0; i < SWAP_IMAGES; i++) {
    const guint c = i % N_CLASSES;
    labels[8 + i] = (guint8) c;
    for (guint p = 0; p < SIDE * SIDE; p++) {
      const gdouble y = p / SIDE, x = p % SIDE;
      const gdouble v = sin (0.35 * (c + 1) * (x + 0.5 * y) + 0.7 * i) * 0.45 + 0.5;
      images[16 + i * SIDE * SIDE + p] = (guint8) (v * 255.0);
    }
  }
  g_autofree gchar *a = g_strdup_printf ("%s/%s-images-idx3-ubyte", data_dir, prefix);
  g_autofree gchar *b = g_strdup_printf ("%s/%s-labels-idx1-ubyte", data_dir, prefix);
  fail_unless (g_file_set_contents (a, (gchar *) images, 16 + n_pixels, NULL));
  fail_unless (g_file_set_contents (b, (gchar *) labels, sizeof labels, NULL));
}

static void
make_data (void)
{
  tmp_dir = g_dir_make_tmp ("ncfm-swap-XXXXXX", NULL);
  fail_unless (tmp_dir != NULL);
  data_dir = g_build_filename (tmp_dir, "stripes", NULL);
  fail_unless (g_mkdir (data_dir, 0755) == 0);
  write_split ("train");
  write_split ("t10k");
}

static void
remove_data (void)
{
  const gchar *names[] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *p = g_build_filename (data_dir, names[i], NULL);
    g_unlink (p);
  }
  g_rmdir (data_dir);
  g_rmdir (tmp_dir);
  g_clear_pointer (&data_dir, g_free);
  g_clear_pointer (&tmp_dir, g_free);
}

/* The one pipeline; only EXTRACTOR changes.  A fixed model and no
 * augmentation, so the loss of the same class order can only fall. */
#define PIPELINE "ncfmdatasetsrc location=%s batch-size=5 epochs=8 shuffle=false " \
  "! ncfmaugment strategy=none ! %s width=8 rotate-every=0 ! ncfmcf num-freqs=256 " \
  "! ncfmdistill dataset=%s location=%s ipc=2 factor=2 init=real lr=0.05 save-every=0"

/* Runs PIPELINE with @extractor to EOS; returns the loss of every step. */
/* The loss of each ncfm-progress message, into a GArray of gdouble. */
static void
keep_loss (GstMessage *msg, gpointer data)
{
  const GstStructure *s = gst_message_get_structure (msg);
  gdouble loss;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && gst_structure_has_name (s, "ncfm-progress")
      && gst_structure_get_double (s, "loss", &loss))
    g_array_append_val ((GArray *) data, loss);
}

static GArray *
run (const gchar *extractor, const gchar *synset)
{
  g_autofree gchar *desc = g_strdup_printf (PIPELINE, data_dir, extractor, data_dir, synset);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  GArray *losses = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autofree gchar *error = play_to_eos (pipeline, 120, keep_loss, losses);
  fail_unless (error == NULL, "%s: %s", extractor, error);
  gst_object_unref (pipeline);
  return losses;
}

/* The synthetic set's images, after checking it is a whole set of ours. */
static gfloat *
read_synset (const gchar *path, gsize *n)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDataset) ds = ncfm_dataset_load (path, NCFM_DATASET_FORMAT_AUTO, NULL, 0,
      NCFM_DATASET_FLAGS_NO_CACHE, NULL, &error);
  fail_unless (ds != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (ncfm_dataset_get_format (ds), NCFM_DATASET_FORMAT_SYNSET);
  /* ipc 2 stored images per class, decoded into 2 x 2 tiles each (factor 2) */
  fail_unless_equals_int (ncfm_dataset_get_n_images (ds), N_CLASSES * 2 * 4);
  fail_unless_equals_int (ncfm_dataset_get_height (ds), SIDE);
  fail_unless_equals_int (ncfm_dataset_get_width (ds), SIDE);
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  fail_unless (st != NULL);
  gfloat *img = ncfm_safetensors_dup_f32 (st, "images", n, &error);
  fail_unless (img != NULL && *n == (gsize) N_CLASSES * 2 * SIDE * SIDE);
  for (gsize i = 0; i < *n; i++)
    fail_unless (img[i] >= 0.0f && img[i] <= 1.0f);
  return img;
}

GST_START_TEST (test_swap_extractor)
{
  const gchar *extractors[2] = { "ncfmconvnet", "ncfmresnet" };
  gfloat *images[2] = { NULL, NULL };
  gsize n = 0;
  for (guint k = 0; k < 2; k++) {
    g_autofree gchar *name = g_strdup_printf ("%s.safetensors", extractors[k]);
    g_autofree gchar *path = g_build_filename (tmp_dir, name, NULL);
    g_autoptr (GArray) losses = run (extractors[k], path);
    /* 8 epochs of 30 images in batches of 5 */
    const guint steps = losses->len, q = steps / 4;
    fail_unless (q >= 5, "%s: %u steps", extractors[k], steps);
    gdouble first = 0, last = 0;
    for (guint i = 0; i < q; i++) {
      first += g_array_index (losses, gdouble, i) / q;
      last += g_array_index (losses, gdouble, steps - q + i) / q;
    }
    GST_INFO ("%s: %u steps, loss first quarter %g, last quarter %g", extractors[k], steps,
        first, last);
    fail_unless (last < first, "%s: loss did not fall: %g -> %g", extractors[k], first, last);
    images[k] = read_synset (path, &n);
    g_unlink (path);
  }
  /* both start from the same real images: what differs is the extractor's doing */
  gboolean differ = FALSE;
  for (gsize i = 0; i < n && !differ; i++)
    differ = fabsf (images[0][i] - images[1][i]) > 1e-3f;
  fail_unless (differ, "the two extractors refined the set identically");
  g_free (images[0]);
  g_free (images[1]);
}
GST_END_TEST;

static Suite *
swap_suite (void)
{
  Suite *s = suite_create ("extractor-swap");
  TCase *tc = tcase_create ("pipeline");
  tcase_add_unchecked_fixture (tc, make_data, remove_data);
  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_swap_extractor);
  return s;
}

GST_CHECK_MAIN (swap);
