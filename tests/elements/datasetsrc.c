/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* datasetsrc.c: ncfmdatasetsrc through GstHarness and small pipelines, on an IDX
 * dataset generated here (25 images of 4x3, labels i % 10) and on the real
 * Fashion-MNIST when it is installed: caps, the two tensor memories and the
 * batch meta, per-class and mixed batches, epochs and EOS, position/duration
 * queries, property round trips, errors on the bus, host mapping. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "gstncfmmeta.h" /* the NcfmBatchMeta struct; its functions live in the plugin */

#define N_IMAGES 25
#define IMG_H 4
#define IMG_W 3
#define FASHION_MNIST "/usr/share/datasets/fashion-mnist"

static gchar *tmp_root, *idx_dir;

static guint8
pixel (guint i, guint p)
{
  return (guint8) ((i * IMG_H * IMG_W + p) * 7 + 1);
}

static gint32
label_of (guint i)
{
  return (gint32) (i % 10);
}

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static void
write_idx (const gchar *dir, const gchar *prefix)
{
  guint8 images[16 + N_IMAGES * IMG_H * IMG_W], labels[8 + N_IMAGES];
  put_be32 (images, 0x803);
  put_be32 (images + 4, N_IMAGES);
  put_be32 (images + 8, IMG_H);
  put_be32 (images + 12, IMG_W);
  for (guint p = 0; p < N_IMAGES * IMG_H * IMG_W; p++)
    images[16 + p] = pixel (p / (IMG_H * IMG_W), p % (IMG_H * IMG_W));
  put_be32 (labels, 0x801);
  put_be32 (labels + 4, N_IMAGES);
  for (guint i = 0; i < N_IMAGES; i++)
    labels[8 + i] = (guint8) label_of (i);
  g_autofree gchar *a = g_strdup_printf ("%s/%s-images-idx3-ubyte", dir, prefix);
  g_autofree gchar *b = g_strdup_printf ("%s/%s-labels-idx1-ubyte", dir, prefix);
  fail_unless (g_file_set_contents (a, (gchar *) images, sizeof images, NULL));
  fail_unless (g_file_set_contents (b, (gchar *) labels, sizeof labels, NULL));
}

static void
make_dataset (void)
{
  tmp_root = g_dir_make_tmp ("ncfm-elements-XXXXXX", NULL);
  fail_unless (tmp_root != NULL);
  idx_dir = g_build_filename (tmp_root, "tiny", NULL);
  fail_unless (g_mkdir (idx_dir, 0755) == 0);
  write_idx (idx_dir, "train");
  write_idx (idx_dir, "t10k");
}

static void
remove_dataset (void)
{
  const gchar *names[] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *p = g_build_filename (idx_dir, names[i], NULL);
    g_unlink (p);
  }
  g_rmdir (idx_dir);
  g_rmdir (tmp_root);
  g_clear_pointer (&idx_dir, g_free);
  g_clear_pointer (&tmp_root, g_free);
}

static gboolean
have_fashion_mnist (void)
{
  g_autofree gchar *p = g_build_filename (FASHION_MNIST, "train-images-idx3-ubyte.gz", NULL);
  if (g_file_test (p, G_FILE_TEST_EXISTS))
    return TRUE;
  g_print ("SKIP: Fashion-MNIST is not installed at " FASHION_MNIST "\n");
  return FALSE;
}

static NcfmBatchMeta *
batch_meta (GstBuffer *buf)
{
  GType api = g_type_from_name ("NcfmBatchMetaAPI");
  fail_unless (api != 0);
  return (NcfmBatchMeta *) gst_buffer_get_meta (buf, api);
}

/* A started harness around ncfmdatasetsrc with the given properties (name, value
 * string pairs, NULL-terminated), on the tiny dataset unless "location" is given. */
static GstHarness *
start_src (const gchar *first, ...)
{
  GstHarness *h = gst_harness_new_with_padnames ("ncfmdatasetsrc", NULL, "src");
  g_object_set (h->element, "location", idx_dir, NULL);
  va_list ap;
  va_start (ap, first);
  for (const gchar *name = first; name; name = va_arg (ap, const gchar *))
    gst_util_set_object_arg (G_OBJECT (h->element), name, va_arg (ap, const gchar *));
  va_end (ap);
  gst_harness_play (h);
  return h;
}

/* The labels of a batch, copied out through a host map (as any element would). */
static GArray *
batch_labels (GstBuffer *buf)
{
  GstMapInfo map;
  GstMemory *mem = gst_buffer_peek_memory (buf, 1);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  GArray *labels = g_array_sized_new (FALSE, FALSE, sizeof (gint32), map.size / 4);
  g_array_append_vals (labels, map.data, map.size / 4);
  gst_memory_unmap (mem, &map);
  return labels;
}

static void
check_caps (GstHarness *h, const gchar *dims)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (caps != NULL);
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gint n = 0, num = -1, den = -1;
  fail_unless (gst_structure_has_name (s, "other/tensors"));
  fail_unless_equals_string (gst_structure_get_string (s, "format"), "static");
  fail_unless (gst_structure_get_int (s, "num_tensors", &n));
  fail_unless_equals_int (n, 2);
  fail_unless_equals_string (gst_structure_get_string (s, "dimensions"), dims);
  fail_unless_equals_string (gst_structure_get_string (s, "types"), "float32,int32");
  fail_unless (gst_structure_get_fraction (s, "framerate", &num, &den));
  fail_unless (num == 0 && den == 1);
  fail_if (gst_caps_features_contains (gst_caps_get_features (caps, 0), "memory:NcfmCUDA"));
  gst_caps_unref (caps);
}

GST_START_TEST (test_mixed_batches)
{
  GstHarness *h = start_src ("mode", "mixed", "batch-size", "10", "shuffle", "false", NULL);
  const guint sizes[] = { 10, 10, 5 };
  for (guint k = 0; k < 3; k++) {
    GstBuffer *buf = gst_harness_pull (h);
    fail_unless (buf != NULL);
    if (k == 0)
      check_caps (h, "3:4:1:10,10");
    fail_unless_equals_int (gst_buffer_n_memory (buf), 2);
    for (guint m = 0; m < 2; m++)
      fail_unless (gst_memory_is_type (gst_buffer_peek_memory (buf, m), "NcfmTensor"));
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), k);
    fail_unless_equals_int (gst_buffer_peek_memory (buf, 0)->size,
        sizes[k] * IMG_H * IMG_W * sizeof (float));

    NcfmBatchMeta *meta = batch_meta (buf);
    fail_unless (meta != NULL);
    fail_unless_equals_int (meta->num_classes, 10);
    fail_unless_equals_string (meta->class_names[3], "3");
    fail_unless_equals_string (meta->dataset_name, "tiny");
    fail_unless_equals_int (meta->channels, 1);
    fail_unless_equals_int (meta->class_id, -1);
    fail_unless_equals_uint64 (meta->position, k);
    fail_unless (meta->std[0] > 0);

    /* dataset order (shuffle off): image i of batch k is image 10 k + i,
     * normalised with the meta's mean/std */
    GstMapInfo map;
    fail_unless (gst_memory_map (gst_buffer_peek_memory (buf, 0), &map, GST_MAP_READ));
    const float *x = (const float *) map.data;
    for (guint i = 0; i < sizes[k]; i++)
      for (guint p = 0; p < IMG_H * IMG_W; p++) {
        const float want = (pixel (10 * k + i, p) / 255.0f - meta->mean[0]) / meta->std[0];
        fail_unless (fabsf (x[i * IMG_H * IMG_W + p] - want) < 1e-4f * (1 + fabsf (want)),
            "batch %u image %u pixel %u: %g, expected %g", k, i, p, x[i * IMG_H * IMG_W + p],
            want);
      }
    gst_memory_unmap (gst_buffer_peek_memory (buf, 0), &map);
    GArray *labels = batch_labels (buf);
    fail_unless_equals_int (labels->len, sizes[k]);
    for (guint i = 0; i < labels->len; i++)
      fail_unless_equals_int (g_array_index (labels, gint32, i), label_of (10 * k + i));
    g_array_unref (labels);

    /* a whole-buffer map, as fakesink dump=true or filesink do */
    fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
    fail_unless_equals_int (map.size, sizes[k] * (IMG_H * IMG_W + 1) * 4);
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
  }
  GstBuffer *last = NULL;
  fail_unless (gst_harness_pull_until_eos (h, &last));
  fail_unless (last == NULL);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_per_class_batches)
{
  GstHarness *h = start_src ("batch-size", "3", "epochs", "2", "seed", "7", NULL);
  for (guint k = 0; k < 20; k++) {
    GstBuffer *buf = gst_harness_pull (h);
    fail_unless (buf != NULL);
    if (k == 0)
      check_caps (h, "3:4:1:3,3");
    const gint32 c = (gint32) (k % 10);
    GArray *labels = batch_labels (buf);
    /* classes 0..4 hold 3 images, 5..9 hold 2: a smaller batch, same caps */
    fail_unless_equals_int (labels->len, c < 5 ? 3 : 2);
    for (guint i = 0; i < labels->len; i++)
      fail_unless_equals_int (g_array_index (labels, gint32, i), c);
    fail_unless_equals_int (batch_meta (buf)->class_id, c);
    fail_unless_equals_uint64 (batch_meta (buf)->epoch, k / 10);
    g_array_unref (labels);
    gst_buffer_unref (buf);
  }
  GstBuffer *last = NULL;
  fail_unless (gst_harness_pull_until_eos (h, &last));
  fail_unless (last == NULL);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_class_subset)
{
  GstHarness *h = start_src ("classes", "7, 2", NULL);
  const gint32 want[] = { 7, 2 };
  for (guint k = 0; k < 2; k++) {
    GstBuffer *buf = gst_harness_pull (h);
    GArray *labels = batch_labels (buf);
    fail_unless (labels->len > 0);
    for (guint i = 0; i < labels->len; i++)
      fail_unless_equals_int (g_array_index (labels, gint32, i), want[k]);
    g_array_unref (labels);
    gst_buffer_unref (buf);
  }
  GstBuffer *last = NULL;
  fail_unless (gst_harness_pull_until_eos (h, &last));
  fail_unless (last == NULL);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_queries)
{
  /* duration and position in batches, on the element */
  GstHarness *h = start_src ("mode", "mixed", "batch-size", "10", "epochs", "2", NULL);
  gint64 duration = 0, position = -1;
  fail_unless (gst_element_query_duration (h->element, GST_FORMAT_DEFAULT, &duration));
  fail_unless_equals_int64 (duration, 6);
  gst_buffer_unref (gst_harness_pull (h));
  fail_unless (gst_element_query_position (h->element, GST_FORMAT_DEFAULT, &position));
  fail_unless (position >= 1 && position <= 6);
  gst_harness_teardown (h);

  h = start_src ("epochs", "0", NULL);
  fail_unless (gst_element_query_duration (h->element, GST_FORMAT_DEFAULT, &duration));
  fail_unless_equals_int64 (duration, -1);
  for (guint k = 0; k < 25; k++)  /* past the end of one epoch: it loops */
    gst_buffer_unref (gst_harness_pull (h));
  gst_harness_teardown (h);

  /* in a pipeline: progress through fakesink, EOS on the bus, position at the end */
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc name=src location=%s mode=mixed "
      "batch-size=10 epochs=2 ! fakesink name=sink", idx_dir);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (pipeline, NULL, NULL, GST_CLOCK_TIME_NONE)
      == GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_query_duration (pipeline, GST_FORMAT_DEFAULT, &duration));
  fail_unless_equals_int64 (duration, 6);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  fail_unless (gst_element_query_position (src, GST_FORMAT_DEFAULT, &position));
  fail_unless_equals_int64 (position, 6);
  gst_object_unref (src);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}
GST_END_TEST;

static void
on_handoff (GstElement *sink, GstBuffer *buf, GstPad *pad, GArray *offsets)
{
  (void) sink;
  (void) pad;
  guint64 off = GST_BUFFER_OFFSET (buf);
  g_array_append_val (offsets, off);
}

GST_START_TEST (test_seek)
{
  /* a flushing seek in batches (GST_FORMAT_DEFAULT) while prerolled: the
   * stream goes on from that batch, with the batches an unbroken run gives */
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc name=src location=%s shuffle=false "
      "! fakesink name=sink signal-handoffs=true", idx_dir);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GArray *offsets = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), offsets);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (pipeline, NULL, NULL, GST_CLOCK_TIME_NONE)
      == GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_seek_simple (pipeline, GST_FORMAT_DEFAULT,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, 7));
  fail_unless (gst_element_get_state (pipeline, NULL, NULL, GST_CLOCK_TIME_NONE)
      == GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  fail_unless_equals_int (offsets->len, 3);
  for (guint i = 0; i < 3; i++)
    fail_unless_equals_uint64 (g_array_index (offsets, guint64, i), 7 + i);
  g_array_unref (offsets);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
}
GST_END_TEST;

GST_START_TEST (test_state_cycles)
{
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s epochs=0 ! fakesink",
      idx_dir);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  for (guint i = 0; i < 3; i++) {
    fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
    fail_unless (gst_element_get_state (pipeline, NULL, NULL, GST_CLOCK_TIME_NONE)
        == GST_STATE_CHANGE_SUCCESS);
    fail_unless (gst_element_set_state (pipeline, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
  }
  gst_object_unref (pipeline);
}
GST_END_TEST;

GST_START_TEST (test_properties)
{
  GstElement *src = gst_element_factory_make ("ncfmdatasetsrc", NULL);
  fail_unless (src != NULL);
  gchar *location, *split, *classes, *cache_dir, *device;
  guint image_size, batch_size, epochs;
  gint format, mode;
  gboolean shuffle, strict;
  guint64 seed;
  g_object_get (src, "location", &location, "split", &split, "classes", &classes,
      "cache-dir", &cache_dir, "device", &device, "image-size", &image_size,
      "batch-size", &batch_size, "epochs", &epochs, "format", &format, "mode", &mode,
      "shuffle", &shuffle, "strict", &strict, "seed", &seed, NULL);
  fail_unless_equals_string (location, FASHION_MNIST);
  fail_unless_equals_string (split, "train");
  fail_unless (classes == NULL && cache_dir == NULL && device == NULL);
  fail_unless (image_size == 0 && batch_size == 256 && epochs == 1 && seed == 0);
  fail_unless (format == 0 && mode == 0 && shuffle && !strict);
  g_free (location);
  g_free (split);

  gst_util_set_object_arg (G_OBJECT (src), "format", "cifar100");
  gst_util_set_object_arg (G_OBJECT (src), "mode", "mixed");
  g_object_set (src, "location", "/data/x", "split", "test", "classes", "0,3,7",
      "cache-dir", "/tmp/c", "device", "cpu", "image-size", 32, "batch-size", 1000,
      "epochs", 0, "shuffle", FALSE, "strict", TRUE, "seed", G_GUINT64_CONSTANT (1) << 40, NULL);
  g_object_get (src, "location", &location, "split", &split, "classes", &classes,
      "cache-dir", &cache_dir, "device", &device, "image-size", &image_size,
      "batch-size", &batch_size, "epochs", &epochs, "format", &format, "mode", &mode,
      "shuffle", &shuffle, "strict", &strict, "seed", &seed, NULL);
  fail_unless_equals_string (location, "/data/x");
  fail_unless_equals_string (split, "test");
  fail_unless_equals_string (classes, "0,3,7");
  fail_unless_equals_string (cache_dir, "/tmp/c");
  fail_unless_equals_string (device, "cpu");
  fail_unless (image_size == 32 && batch_size == 1000 && epochs == 0);
  fail_unless (seed == G_GUINT64_CONSTANT (1) << 40);
  fail_unless (format == 3 && mode == 1 && !shuffle && strict);
  g_free (location);
  g_free (split);
  g_free (classes);
  g_free (cache_dir);
  g_free (device);

  /* every property documents itself */
  guint n;
  GParamSpec **specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (src), &n);
  for (guint i = 0; i < n; i++)
    if (specs[i]->owner_type == G_OBJECT_TYPE (src))
      fail_unless (strlen (g_param_spec_get_blurb (specs[i])) > 10, "%s", specs[i]->name);
  g_free (specs);
  gst_object_unref (src);
}
GST_END_TEST;

/* Starts the element with one property set and returns the error it posts. */
static GError *
start_error (const gchar *name, const gchar *value)
{
  GstElement *src = gst_element_factory_make ("ncfmdatasetsrc", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (src, bus);
  g_object_set (src, "location", idx_dir, NULL);
  gst_util_set_object_arg (G_OBJECT (src), name, value);
  fail_unless_equals_int (gst_element_set_state (src, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error posted for %s=%s", name, value);
  GError *error = NULL;
  gst_message_parse_error (msg, &error, NULL);
  gst_message_unref (msg);
  gst_element_set_state (src, GST_STATE_NULL);
  gst_element_set_bus (src, NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
  return error;
}

GST_START_TEST (test_errors)
{
  g_autofree gchar *missing = g_build_filename (tmp_root, "no-such-dataset", NULL);
  GError *e = start_error ("location", missing);
  fail_unless (g_error_matches (e, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND));
  fail_unless (strstr (e->message, missing) != NULL, "%s", e->message);
  g_error_free (e);

  e = start_error ("classes", "1,x,3");
  fail_unless (g_error_matches (e, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS));
  fail_unless (strstr (e->message, "\"x\"") != NULL, "%s", e->message);
  g_error_free (e);

  e = start_error ("classes", "1,12");
  fail_unless (g_error_matches (e, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS));
  fail_unless (strstr (e->message, "\"12\"") != NULL, "%s", e->message);
  g_error_free (e);

  e = start_error ("device", "gpu7");
  fail_unless (g_error_matches (e, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS));
  fail_unless (strstr (e->message, "device") != NULL, "%s", e->message);
  g_error_free (e);

  e = start_error ("image-size", "32");
  fail_unless (g_error_matches (e, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ));
  g_error_free (e);
}
GST_END_TEST;

GST_START_TEST (test_fashion_mnist)
{
  if (!have_fashion_mnist ())
    return;
  GstHarness *h = start_src ("location", FASHION_MNIST, "classes", "Sneaker,Bag", NULL);
  GstBuffer *buf = gst_harness_pull (h);
  check_caps (h, "28:28:1:256,256");
  GArray *labels = batch_labels (buf);
  fail_unless_equals_int (labels->len, 256);
  for (guint i = 0; i < labels->len; i++)
    fail_unless_equals_int (g_array_index (labels, gint32, i), 7);
  NcfmBatchMeta *meta = batch_meta (buf);
  fail_unless_equals_string (meta->class_names[7], "Sneaker");
  fail_unless_equals_string (meta->dataset_name, "fashion-mnist");
  g_array_unref (labels);
  gst_buffer_unref (buf);
  gst_harness_teardown (h);

  h = start_src ("location", FASHION_MNIST, "mode", "mixed", "batch-size", "1000", NULL);
  gint64 duration = 0;
  fail_unless (gst_element_query_duration (h->element, GST_FORMAT_DEFAULT, &duration));
  fail_unless_equals_int64 (duration, 60);
  guint n = 0;
  for (GstBuffer *b = NULL; gst_harness_pull_until_eos (h, &b) && b; n++)
    gst_buffer_unref (b);
  fail_unless_equals_int (n, 60);
  gst_harness_teardown (h);
}
GST_END_TEST;

static Suite *
datasetsrc_suite (void)
{
  Suite *s = suite_create ("ncfmdatasetsrc");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_mixed_batches);
  tcase_add_test (tc, test_per_class_batches);
  tcase_add_test (tc, test_class_subset);
  tcase_add_test (tc, test_queries);
  tcase_add_test (tc, test_seek);
  tcase_add_test (tc, test_state_cycles);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_fashion_mnist);
  return s;
}

GST_CHECK_MAIN (datasetsrc);
