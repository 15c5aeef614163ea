/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* augment.c: ncfmaugment fed the batches of ncfmdatasetsrc (tiny generated IDX
 * dataset, see elements-test-util.c): a new images tensor, labels and batch
 * meta passed on, an NcfmAugmentMeta whose parameters replayed with libncfm
 * give the output bit for bit, reproducible seeds, per-sample mode,
 * passthrough, caps, errors on the bus, a pipeline to EOS. */
#include <string.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <ncfm.h>

#include "elements-test-util.h"
#include "gstncfmaugmentmeta.h" /* the NcfmAugmentMeta struct; its functions live in the plugin */

#define N_BATCHES 3

static NcfmAugmentMeta *
augment_meta (GstBuffer *buf)
{
  /* unregistered until the element adds its first meta */
  GType api = g_type_from_name ("NcfmAugmentMetaAPI");
  return api ? (NcfmAugmentMeta *) gst_buffer_get_meta (buf, api) : NULL;
}

static gboolean
has_batch_meta (GstBuffer *buf)
{
  GType api = g_type_from_name ("NcfmBatchMetaAPI");
  return api != 0 && gst_buffer_get_meta (buf, api) != NULL;
}

/* Mixed, unshuffled batches of 10, 10 and 5 images from ncfmdatasetsrc, and their caps. */
static GPtrArray *
source_batches (GstCaps **caps)
{
  GstHarness *src = gst_harness_new_with_padnames ("ncfmdatasetsrc", NULL, "src");
  g_object_set (src->element, "location", idx_dir, NULL);
  gst_util_set_object_arg (G_OBJECT (src->element), "mode", "mixed");
  g_object_set (src->element, "batch-size", 10, "shuffle", FALSE, NULL);
  gst_harness_play (src);
  GPtrArray *bufs = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  for (guint k = 0; k < N_BATCHES; k++)
    g_ptr_array_add (bufs, gst_harness_pull (src));
  *caps = gst_pad_get_current_caps (src->sinkpad);
  gst_harness_teardown (src);
  return bufs;
}

/* A playing ncfmaugment harness with properties (name, value string pairs)
 * set before it starts, its bus (if any) set so that errors can be popped. */
static GstHarness *
new_augment (GstCaps *caps, GstBus *bus, const gchar *first, va_list ap)
{
  GstElement *aug = gst_element_factory_make ("ncfmaugment", NULL);
  fail_unless (aug != NULL);
  if (bus)
    gst_element_set_bus (aug, bus);
  for (const gchar *name = first; name; name = va_arg (ap, const gchar *))
    gst_util_set_object_arg (G_OBJECT (aug), name, va_arg (ap, const gchar *));
  GstHarness *h = gst_harness_new_with_element (aug, "sink", "src");
  gst_object_unref (aug);
  gst_harness_set_src_caps (h, gst_caps_ref (caps));
  return h;
}

static GstHarness *
start_augment (GstCaps *caps, GstBus *bus, const gchar *first, ...)
{
  va_list ap;
  va_start (ap, first);
  GstHarness *h = new_augment (caps, bus, first, ap);
  va_end (ap);
  return h;
}

static GBytes *
memory_bytes (GstBuffer *buf, guint idx)
{
  GstMapInfo map;
  GstMemory *mem = gst_buffer_peek_memory (buf, idx);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  GBytes *bytes = g_bytes_new (map.data, map.size);
  gst_memory_unmap (mem, &map);
  return bytes;
}

/* The images of `in` augmented by libncfm with the parameters of `out`'s meta. */
static GBytes *
replay (GstBuffer *in, GstBuffer *out)
{
  g_autoptr (GError) error = NULL;
  NcfmAugmentMeta *meta = augment_meta (out);
  fail_unless (meta != NULL && NCFM_IS_AUGMENT_PARAMS (meta->params));
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", &error);
  fail_unless (cpu != NULL);
  g_autoptr (GBytes) xb = memory_bytes (in, 0);
  const gint64 shape[4] = { (gint64) g_bytes_get_size (xb) / (IMG_H * IMG_W * 4), 1, IMG_H,
    IMG_W };
  g_autoptr (NcfmTensor) x = ncfm_tensor_new_from_data (cpu, NCFM_DTYPE_F32, shape, 4,
      g_bytes_get_data (xb, NULL), g_bytes_get_size (xb), &error);
  g_autoptr (NcfmTensor) y = ncfm_tensor_new (cpu, NCFM_DTYPE_F32, shape, 4, &error);
  fail_unless (x && y);
  fail_unless (ncfm_augment_params_apply (meta->params, x, y, NULL, &error),
      "%s", error ? error->message : "");
  return ncfm_tensor_to_bytes (y);
}

/* Every batch through ncfmaugment with the given properties; returns the outputs. */
static GPtrArray *
augment_all (GPtrArray *in, GstCaps *caps, const gchar *first, ...)
{
  va_list ap;
  va_start (ap, first);
  GstHarness *h = new_augment (caps, NULL, first, ap);
  va_end (ap);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  for (guint k = 0; k < in->len; k++)
    g_ptr_array_add (out, gst_harness_push_and_pull (h, gst_buffer_ref (in->pdata[k])));
  gst_harness_teardown (h);
  return out;
}

GST_START_TEST (test_augment_replays)
{
  GstCaps *caps = NULL;
  GPtrArray *in = source_batches (&caps);
  GPtrArray *before = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint k = 0; k < in->len; k++)
    g_ptr_array_add (before, memory_bytes (in->pdata[k], 0));

  GstHarness *h = start_augment (caps, NULL, NULL);
  for (guint k = 0; k < in->len; k++) {
    GstBuffer *src = in->pdata[k];
    GstBuffer *out = gst_harness_push_and_pull (h, gst_buffer_ref (src));
    fail_unless (out != NULL && out != src);
    if (k == 0) {  /* output caps = input caps */
      GstCaps *outcaps = gst_pad_get_current_caps (h->sinkpad);
      fail_unless (gst_caps_is_equal (outcaps, caps), "%" GST_PTR_FORMAT, outcaps);
      gst_caps_unref (outcaps);
    }
    fail_unless_equals_int (gst_buffer_n_memory (out), 2);
    fail_unless (gst_memory_is_type (gst_buffer_peek_memory (out, 0), "NcfmTensor"));
    fail_unless (gst_buffer_peek_memory (out, 0) != gst_buffer_peek_memory (src, 0));
    fail_unless (gst_buffer_peek_memory (out, 1) == gst_buffer_peek_memory (src, 1));
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (out), k);
    fail_unless (has_batch_meta (out));

    NcfmAugmentMeta *meta = augment_meta (out);
    fail_unless (meta != NULL);
    fail_unless_equals_string (ncfm_augment_params_get_strategy (meta->params),
        "color_crop_cutout");
    fail_unless_equals_int (ncfm_augment_params_get_mode (meta->params), NCFM_AUGMENT_SHARED);
    fail_unless_equals_int64 (ncfm_augment_params_get_height (meta->params), IMG_H);
    fail_unless_equals_int64 (ncfm_augment_params_get_width (meta->params), IMG_W);

    g_autoptr (GBytes) got = memory_bytes (out, 0);
    g_autoptr (GBytes) now = memory_bytes (src, 0);
    g_autoptr (GBytes) want = replay (src, out);
    fail_unless (g_bytes_equal (now, before->pdata[k]), "the input was modified");
    fail_if (g_bytes_equal (got, now), "batch %u was not augmented", k);
    fail_unless (g_bytes_equal (got, want), "batch %u: the replayed meta differs", k);

    /* a copy of the buffer keeps the same parameters */
    GstBuffer *copy = gst_buffer_copy (out);
    fail_unless (augment_meta (copy) && augment_meta (copy)->params == meta->params);
    gst_buffer_unref (copy);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  g_ptr_array_unref (before);
  g_ptr_array_unref (in);
  gst_caps_unref (caps);
}
GST_END_TEST;

static gboolean
same_outputs (GPtrArray *a, GPtrArray *b)
{
  gboolean same = TRUE;
  for (guint k = 0; k < a->len; k++) {
    g_autoptr (GBytes) x = memory_bytes (a->pdata[k], 0);
    g_autoptr (GBytes) y = memory_bytes (b->pdata[k], 0);
    same &= g_bytes_equal (x, y);
  }
  return same;
}

GST_START_TEST (test_seed)
{
  GstCaps *caps = NULL;
  GPtrArray *in = source_batches (&caps);
  GPtrArray *a = augment_all (in, caps, "seed", "5", NULL);
  GPtrArray *b = augment_all (in, caps, "seed", "5", NULL);
  GPtrArray *c = augment_all (in, caps, "seed", "6", NULL);
  fail_unless (same_outputs (a, b), "the same seed gave different augmentations");
  fail_if (same_outputs (a, c), "seeds 5 and 6 gave the same augmentations");
  /* batches of one run get different parameters */
  fail_unless (ncfm_augment_params_get_seed (augment_meta (a->pdata[0])->params)
      != ncfm_augment_params_get_seed (augment_meta (a->pdata[1])->params));
  g_ptr_array_unref (a);
  g_ptr_array_unref (b);
  g_ptr_array_unref (c);
  g_ptr_array_unref (in);
  gst_caps_unref (caps);
}
GST_END_TEST;

GST_START_TEST (test_per_sample)
{
  GstCaps *caps = NULL;
  GPtrArray *in = source_batches (&caps);
  GPtrArray *out = augment_all (in, caps, "mode", "per-sample", "strategy",
      "color_crop_flip_scale_rotate", NULL);
  for (guint k = 0; k < in->len; k++) {
    NcfmAugmentMeta *meta = augment_meta (out->pdata[k]);
    fail_unless (meta != NULL);
    fail_unless_equals_int (ncfm_augment_params_get_mode (meta->params),
        NCFM_AUGMENT_PER_SAMPLE);
    /* the last batch holds 5 images: drawn for its own size */
    fail_unless_equals_int64 (ncfm_augment_params_get_batch (meta->params), k < 2 ? 10 : 5);
    g_autoptr (GBytes) got = memory_bytes (out->pdata[k], 0);
    g_autoptr (GBytes) want = replay (in->pdata[k], out->pdata[k]);
    fail_unless (g_bytes_equal (got, want), "batch %u: the replayed meta differs", k);
  }
  g_ptr_array_unref (out);
  g_ptr_array_unref (in);
  gst_caps_unref (caps);
}
GST_END_TEST;

GST_START_TEST (test_passthrough)
{
  GstCaps *caps = NULL;
  GPtrArray *in = source_batches (&caps);
  const gchar *strategies[] = { "", "none" };
  for (guint s = 0; s < G_N_ELEMENTS (strategies); s++) {
    GPtrArray *out = augment_all (in, caps, "strategy", strategies[s], NULL);
    for (guint k = 0; k < in->len; k++) {
      fail_unless (out->pdata[k] == in->pdata[k], "strategy \"%s\" is no passthrough",
          strategies[s]);
      fail_unless (augment_meta (out->pdata[k]) == NULL);
    }
    g_ptr_array_unref (out);
  }
  g_ptr_array_unref (in);
  gst_caps_unref (caps);
}
GST_END_TEST;

/* The error message a started element posts, or fails. */
static GError *
pop_error (GstBus *bus)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error posted");
  GError *error = NULL;
  gst_message_parse_error (msg, &error, NULL);
  gst_message_unref (msg);
  return error;
}

GST_START_TEST (test_bad_strategy)
{
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s ! "
      "ncfmaugment strategy=color_blur ! fakesink", idx_dir);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus (pipeline);
  GError *e = pop_error (bus);
  fail_unless (g_error_matches (e, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS));
  fail_unless (strstr (e->message, "strategy") != NULL, "%s", e->message);
  fail_unless (strstr (e->message, "\"blur\"") != NULL, "%s", e->message);
  g_error_free (e);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* Caps that are no image batch fail negotiation with an error naming the field. */
GST_START_TEST (test_bad_caps)
{
  GstCaps *caps = NULL;
  GPtrArray *in = source_batches (&caps);
  const gchar *bad[][2] = {
    { "types", "other/tensors, format=static, num_tensors=2, dimensions=\"3:4:1:10,10\", "
          "types=\"float32,float32\", framerate=0/1" },
    { "dimensions", "other/tensors, format=static, num_tensors=2, dimensions=\"12:10,10\", "
          "types=\"float32,int32\", framerate=0/1" },
    { "num_tensors", "other/tensors, format=static, num_tensors=1, dimensions=\"3:4:1:10\", "
          "types=\"float32\", framerate=0/1" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    GstBus *bus = gst_bus_new ();
    GstCaps *c = gst_caps_from_string (bad[i][1]);
    GstHarness *h = start_augment (c, bus, NULL);
    fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (in->pdata[0])),
        GST_FLOW_NOT_NEGOTIATED);
    GError *e = pop_error (bus);
    fail_unless (strstr (e->message, bad[i][0]) != NULL, "%s", e->message);
    g_error_free (e);
    gst_harness_teardown (h);
    gst_caps_unref (c);
    gst_object_unref (bus);
  }
  g_ptr_array_unref (in);
  gst_caps_unref (caps);
}
GST_END_TEST;

GST_START_TEST (test_pipeline_eos)
{
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s epochs=2 batch-size=2 "
      "! ncfmaugment seed=3 ! fakesink", idx_dir);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  for (guint i = 0; i < 2; i++) {  /* twice: NULL -> PLAYING -> NULL again */
    fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
    gst_message_unref (msg);
    fail_unless (gst_element_set_state (pipeline, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
  }
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}
GST_END_TEST;

GST_START_TEST (test_properties)
{
  GstElement *aug = gst_element_factory_make ("ncfmaugment", NULL);
  fail_unless (aug != NULL);
  gchar *strategy;
  gint mode;
  guint64 seed;
  g_object_get (aug, "strategy", &strategy, "mode", &mode, "seed", &seed, NULL);
  fail_unless_equals_string (strategy, "color_crop_cutout");
  fail_unless (mode == 0 && seed == 0);
  g_free (strategy);
  gst_util_set_object_arg (G_OBJECT (aug), "mode", "per-sample");
  g_object_set (aug, "strategy", "flip", "seed", G_GUINT64_CONSTANT (1) << 50, NULL);
  g_object_get (aug, "strategy", &strategy, "mode", &mode, "seed", &seed, NULL);
  fail_unless_equals_string (strategy, "flip");
  fail_unless (mode == 1 && seed == G_GUINT64_CONSTANT (1) << 50);
  g_free (strategy);

  guint n;
  GParamSpec **specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (aug), &n);
  for (guint i = 0; i < n; i++)
    if (specs[i]->owner_type == G_OBJECT_TYPE (aug))
      fail_unless (strlen (g_param_spec_get_blurb (specs[i])) > 10, "%s", specs[i]->name);
  g_free (specs);
  gst_object_unref (aug);
}
GST_END_TEST;

static Suite *
augment_suite (void)
{
  Suite *s = suite_create ("ncfmaugment");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_augment_replays);
  tcase_add_test (tc, test_seed);
  tcase_add_test (tc, test_per_sample);
  tcase_add_test (tc, test_passthrough);
  tcase_add_test (tc, test_bad_strategy);
  tcase_add_test (tc, test_bad_caps);
  tcase_add_test (tc, test_pipeline_eos);
  tcase_add_test (tc, test_properties);
  return s;
}

GST_CHECK_MAIN (augment);
