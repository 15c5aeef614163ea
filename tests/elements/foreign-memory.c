/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* foreign-memory.c: the image consumers (ncfmaugment, ncfmconvnet, ncfmtrain,
 * ncfmevaluate) fed by an appsrc whose buffers hold plain system memory
 * (gst_memory_new_wrapped), as NNStreamer's tensor_converter or any
 * application would push them.  The same batches go through the same
 * elements once in ncfm memory (straight from ncfmdatasetsrc) and once as
 * copies in system memory: features, trained weights and accuracies must be
 * bitwise equal.  Memories of the wrong size fail with an error naming the
 * tensor and both byte counts; ncfmcf and ncfmdistill, which need ncfm
 * metas, refuse such buffers saying so.  The plugin is loaded. */
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

#include "elements-test-util.h"

#define BATCH 8  /* 25 images in mixed batches: 8 + 8 + 8 + a short batch of 1 */
#define FOREIGN_CAPS "other/tensors, format=(string)static, num_tensors=(int)2, " \
  "dimensions=(string)\"3:4:1:8,8\", types=(string)\"float32,int32\", framerate=(fraction)0/1"
#define FEATURE_CAPS "other/tensors, format=(string)static, num_tensors=(int)2, " \
  "dimensions=(string)\"16:8,8\", types=(string)\"float32,int32\", framerate=(fraction)0/1"

typedef struct {
  gboolean eos;
  gchar *error;         /* the first error's message and debug text */
  GPtrArray *buffers;   /* what the appsink "sink" received */
  GPtrArray *messages;  /* GstStructure copies of the element messages */
} Run;

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->error, g_free);
  g_clear_pointer (&r->buffers, g_ptr_array_unref);
  g_clear_pointer (&r->messages, g_ptr_array_unref);
}

static GstFlowReturn
on_new_sample (GstElement *sink, gpointer data)
{
  Run *r = data;
  GstSample *sample = NULL;
  g_signal_emit_by_name (sink, "pull-sample", &sample);
  if (!sample)
    return GST_FLOW_ERROR;
  g_ptr_array_add (r->buffers, gst_buffer_ref (gst_sample_get_buffer (sample)));
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static void
keep_element_message (GstMessage *msg, gpointer data)
{
  Run *r = data;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT)
    g_ptr_array_add (r->messages, gst_structure_copy (gst_message_get_structure (msg)));
}

/* Runs `desc` to EOS or error.  An appsrc named "src" gets `caps` and
 * `input` (then end-of-stream); an appsink named "sink" is collected. */
static void
run (const gchar *desc, const gchar *caps, GPtrArray *input, Run *r)
{
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  memset (r, 0, sizeof *r);
  r->buffers = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  r->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  if (sink) {
    g_object_set (sink, "emit-signals", TRUE, "sync", FALSE, NULL);
    g_signal_connect (sink, "new-sample", G_CALLBACK (on_new_sample), r);
  }
  if (src) {
    GstCaps *c = gst_caps_from_string (caps);
    g_object_set (src, "caps", c, "format", GST_FORMAT_TIME, NULL);
    gst_caps_unref (c);
    for (guint i = 0; input && i < input->len; i++) {
      GstFlowReturn ret;
      g_signal_emit_by_name (src, "push-buffer", g_ptr_array_index (input, i), &ret);
      fail_unless_equals_int (ret, GST_FLOW_OK);
    }
    GstFlowReturn ret;
    g_signal_emit_by_name (src, "end-of-stream", &ret);
  }
  r->error = play_to_eos (pipeline, 120, keep_element_message, r);
  r->eos = r->error == NULL;
  g_clear_object (&src);
  g_clear_object (&sink);
  gst_object_unref (pipeline);
}

/* A memory holding a copy of `size` bytes in plain system memory. */
static GstMemory *
system_memory (gconstpointer data, gsize size)
{
  gpointer copy = g_memdup2 (data, size);
  return gst_memory_new_wrapped (0, copy, size, 0, size, copy, g_free);
}

/* What a non-ncfm element would push for an ncfm batch: each tensor's bytes
 * in system memory, the batch number as offset, no metas. */
static GstBuffer *
to_system_memory (GstBuffer *ncfm)
{
  GstBuffer *buf = gst_buffer_new ();
  for (guint i = 0; i < gst_buffer_n_memory (ncfm); i++) {
    GstMemory *mem = gst_buffer_peek_memory (ncfm, i);
    fail_unless (gst_memory_is_type (mem, "NcfmTensor"));
    GstMapInfo map;
    fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
    gst_buffer_append_memory (buf, system_memory (map.data, map.size));
    gst_memory_unmap (mem, &map);
  }
  GST_BUFFER_OFFSET (buf) = GST_BUFFER_OFFSET (ncfm);
  GST_BUFFER_PTS (buf) = GST_BUFFER_PTS (ncfm);
  return buf;
}

static gchar *
dataset_src (void)
{
  return g_strdup_printf ("ncfmdatasetsrc location=%s batch-size=%d mode=mixed epochs=1",
      idx_dir, BATCH);
}

/* The batches of ncfmdatasetsrc (ncfm memory) and their system-memory copies. */
static void
make_batches (GPtrArray **ncfm, GPtrArray **foreign)
{
  g_autofree gchar *src = dataset_src ();
  g_autofree gchar *desc = g_strdup_printf ("%s ! appsink name=sink", src);
  Run r;
  run (desc, NULL, NULL, &r);
  fail_unless (r.eos, "%s", r.error);
  fail_unless_equals_int (r.buffers->len, 4);
  *ncfm = g_ptr_array_ref (r.buffers);
  *foreign = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  for (guint i = 0; i < r.buffers->len; i++)
    g_ptr_array_add (*foreign, to_system_memory (g_ptr_array_index (r.buffers, i)));
  run_clear (&r);
}

static GBytes *
memory_bytes (GstBuffer *buf, guint index)
{
  GstMemory *mem = gst_buffer_peek_memory (buf, index);
  GstMapInfo map;
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  GBytes *b = g_bytes_new (map.data, map.size);
  gst_memory_unmap (mem, &map);
  return b;
}

/* Two runs' outputs: the same memories bit for bit, all of them ncfm memory. */
static void
check_same_outputs (GPtrArray *a, GPtrArray *b, const gchar *what)
{
  fail_unless_equals_int (a->len, b->len);
  for (guint i = 0; i < a->len; i++) {
    GstBuffer *x = g_ptr_array_index (a, i), *y = g_ptr_array_index (b, i);
    fail_unless_equals_int (gst_buffer_n_memory (x), 2);
    fail_unless_equals_int (gst_buffer_n_memory (y), 2);
    for (guint m = 0; m < 2; m++) {
      fail_unless (gst_memory_is_type (gst_buffer_peek_memory (y, m), "NcfmTensor"),
          "%s: buffer %u memory %u is not ncfm memory", what, i, m);
      g_autoptr (GBytes) p = memory_bytes (x, m);
      g_autoptr (GBytes) q = memory_bytes (y, m);
      fail_unless (g_bytes_equal (p, q), "%s: buffer %u memory %u differs (%" G_GSIZE_FORMAT
          " vs %" G_GSIZE_FORMAT " bytes)", what, i, m, g_bytes_get_size (p),
          g_bytes_get_size (q));
    }
  }
}

/* ncfmconvnet, and ncfmaugment before it, give the same features for the
 * batches in system memory as in ncfm memory; the short last batch too. */
GST_START_TEST (test_same_features)
{
  g_autoptr (GPtrArray) ncfm = NULL;
  g_autoptr (GPtrArray) foreign = NULL;
  make_batches (&ncfm, &foreign);
  const gchar *middles[] = {
    "ncfmconvnet width=8 depth=1 seed=3",
    "ncfmaugment seed=5 ! ncfmconvnet width=8 depth=1 seed=3",
    "ncfmaugment seed=5",
  };
  g_autofree gchar *src = dataset_src ();
  for (guint m = 0; m < G_N_ELEMENTS (middles); m++) {
    g_autofree gchar *a = g_strdup_printf ("%s ! %s ! appsink name=sink", src, middles[m]);
    g_autofree gchar *b = g_strdup_printf ("appsrc name=src ! %s ! appsink name=sink",
        middles[m]);
    Run ra, rb;
    run (a, NULL, NULL, &ra);
    fail_unless (ra.eos, "%s: %s", a, ra.error);
    run (b, FOREIGN_CAPS, foreign, &rb);
    fail_unless (rb.eos, "%s: %s", b, rb.error);
    check_same_outputs (ra.buffers, rb.buffers, middles[m]);
    /* the short batch: 1 image, its N taken from the memory size */
    GstBuffer *last = g_ptr_array_index (rb.buffers, rb.buffers->len - 1);
    fail_unless_equals_uint64 (gst_memory_get_sizes (gst_buffer_peek_memory (last, 1), NULL,
            NULL), sizeof (gint32));
    run_clear (&ra);
    run_clear (&rb);
  }
}
GST_END_TEST;

/* ncfmtrain learns the same weights from either memory, and ncfmevaluate
 * scores them the same. */
GST_START_TEST (test_train_and_evaluate)
{
  g_autoptr (GPtrArray) ncfm = NULL;
  g_autoptr (GPtrArray) foreign = NULL;
  make_batches (&ncfm, &foreign);
  g_autofree gchar *src = dataset_src ();
  g_autofree gchar *wa = g_build_filename (tmp_root, "train-ncfm.safetensors", NULL);
  g_autofree gchar *wb = g_build_filename (tmp_root, "train-foreign.safetensors", NULL);
  /* no batch meta on foreign buffers: num-classes; no duration query: steps */
  const gchar *train = "ncfmtrain depth=1 width=8 num-classes=10 steps=4 seed=9 cutmix=0.5";
  g_autofree gchar *a = g_strdup_printf ("%s ! %s location=%s", src, train, wa);
  g_autofree gchar *b = g_strdup_printf ("appsrc name=src ! %s location=%s", train, wb);
  Run r;
  run (a, NULL, NULL, &r);
  fail_unless (r.eos, "%s", r.error);
  run_clear (&r);
  run (b, FOREIGN_CAPS, foreign, &r);
  fail_unless (r.eos, "%s", r.error);
  run_clear (&r);

  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", NULL);
  g_autoptr (NcfmModel) ma = ncfm_model_new_from_file (cpu, wa, &error);
  g_autoptr (NcfmModel) mb = ncfm_model_new_from_file (cpu, wb, &error);
  fail_unless (ma && mb, "%s", error ? error->message : "");
  fail_unless_equals_int (ncfm_model_get_n_parameters (ma), ncfm_model_get_n_parameters (mb));
  for (guint i = 0; i < ncfm_model_get_n_parameters (ma); i++) {
    const gchar *name = ncfm_model_get_parameter_name (ma, i);
    g_autoptr (GBytes) p = ncfm_tensor_to_bytes (ncfm_model_get_parameter (ma, name));
    g_autoptr (GBytes) q = ncfm_tensor_to_bytes (ncfm_model_get_parameter (mb, name));
    fail_unless (g_bytes_equal (p, q), "trained %s differs", name);
  }

  gdouble top1[2] = { -1, -1 };
  guint64 count[2] = { 0, 0 };
  for (guint k = 0; k < 2; k++) {
    g_autofree gchar *desc = k == 0
        ? g_strdup_printf ("%s ! ncfmevaluate silent=true weights=%s", src, wa)
        : g_strdup_printf ("appsrc name=src ! ncfmevaluate silent=true weights=%s", wa);
    run (desc, FOREIGN_CAPS, foreign, &r);
    fail_unless (r.eos, "%s: %s", desc, r.error);
    for (guint i = 0; i < r.messages->len; i++) {
      const GstStructure *s = g_ptr_array_index (r.messages, i);
      if (gst_structure_has_name (s, "ncfm-accuracy"))
        fail_unless (gst_structure_get (s, "top1", G_TYPE_DOUBLE, &top1[k], "count",
                G_TYPE_UINT64, &count[k], NULL));
    }
    run_clear (&r);
  }
  fail_unless_equals_uint64 (count[0], N_IMAGES);
  fail_unless_equals_uint64 (count[1], N_IMAGES);
  fail_unless (top1[0] == top1[1], "top-1 %g (ncfm memory) vs %g (system memory)", top1[0],
      top1[1]);
  g_unlink (wa);
  g_unlink (wb);
}
GST_END_TEST;

/* One foreign buffer into `element` (a sink, or followed by a fakesink): the error message. */
static gchar *
push_one (const gchar *element, const gchar *caps, GstBuffer *buf)
{
  const gboolean sink = g_str_has_prefix (element, "ncfmtrain")
      || g_str_has_prefix (element, "ncfmevaluate") || g_str_has_prefix (element, "ncfmdistill");
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src ! %s%s", element,
      sink ? "" : " ! fakesink");
  g_autoptr (GPtrArray) input = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  g_ptr_array_add (input, buf);
  Run r;
  run (desc, caps, input, &r);
  fail_unless (!r.eos && r.error != NULL, "%s took the buffer", element);
  gchar *error = g_steal_pointer (&r.error);
  run_clear (&r);
  return error;
}

/* `image_bytes` of images and `n_labels` labels in system memory (0: no labels memory). */
static GstBuffer *
foreign_batch (gsize image_bytes, guint n_labels)
{
  g_autofree guint8 *images = g_malloc0 (image_bytes);
  g_autofree gint32 *labels = g_new0 (gint32, MAX (n_labels, 1));
  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, system_memory (images, image_bytes));
  if (n_labels)
    gst_buffer_append_memory (buf, system_memory (labels, n_labels * sizeof (gint32)));
  return buf;
}

static void
check_error (const gchar *error, const gchar *const *needles)
{
  for (guint i = 0; needles[i]; i++)
    fail_unless (strstr (error, needles[i]) != NULL, "\"%s\" not in: %s", needles[i], error);
}

/* Memories of the wrong size: an error naming the tensor and both byte
 * counts, in every image consumer; no crash. */
GST_START_TEST (test_wrong_sizes)
{
  const gsize item = IMG_H * IMG_W * sizeof (gfloat);  /* 48 bytes, 8 of them in the caps */
  const gchar *elements[] = { "ncfmconvnet width=8 depth=1", "ncfmaugment",
    "ncfmtrain depth=1 width=8 num-classes=10" };
  for (guint e = 0; e < G_N_ELEMENTS (elements); e++) {
    /* 2 bytes too many for 8 images */
    g_autofree gchar *m1 = push_one (elements[e], FOREIGN_CAPS, foreign_batch (8 * item + 2, 8));
    check_error (m1, (const gchar *[]) { "memory 0", "tensor 0", "386 bytes", "384 bytes",
          "multiple of 48 bytes", NULL });
    /* 9 images where the caps allow 8 */
    g_autofree gchar *m2 = push_one (elements[e], FOREIGN_CAPS, foreign_batch (9 * item, 9));
    check_error (m2, (const gchar *[]) { "tensor 0", "432 bytes", "384 bytes", NULL });
    /* labels of the wrong size */
    g_autofree gchar *m3 = push_one (elements[e], FOREIGN_CAPS, foreign_batch (8 * item, 9));
    check_error (m3, (const gchar *[]) { "memory 1", "tensor 1", "36 bytes", "32 bytes", NULL });
    /* 3 images, 2 labels: each a whole batch, but not one batch */
    g_autofree gchar *m4 = push_one (elements[e], FOREIGN_CAPS, foreign_batch (3 * item, 2));
    check_error (m4, (const gchar *[]) { "[3, 1, 4, 3]", "[2]", "one label per image", NULL });
    /* one memory for two tensors */
    g_autofree gchar *m5 = push_one (elements[e], FOREIGN_CAPS, foreign_batch (8 * item, 0));
    check_error (m5, (const gchar *[]) { "1 memories", "num_tensors is 2", NULL });
  }
  /* ncfmevaluate, with a model that takes these images */
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", NULL);
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (cpu, 1, IMG_H, IMG_W, 10, 1, 8,
      NCFM_NORM_INSTANCE, 0, NULL);
  g_autofree gchar *path = g_build_filename (tmp_root, "eval.safetensors", NULL);
  fail_unless (ncfm_convnet_save (net, path, NULL));
  g_autofree gchar *eval = g_strdup_printf ("ncfmevaluate weights=%s", path);
  g_autofree gchar *m6 = push_one (eval, FOREIGN_CAPS, foreign_batch (8 * item + 2, 8));
  check_error (m6, (const gchar *[]) { "memory 0", "tensor 0", "386 bytes", "384 bytes", NULL });
  g_unlink (path);
}
GST_END_TEST;

/* ncfmcf and ncfmdistill need ncfm metas that a non-ncfm element cannot
 * attach: they refuse its buffers and say so. */
GST_START_TEST (test_metas_needed)
{
  const gsize features = 8 * 16 * sizeof (gfloat);
  g_autofree gchar *m1 = push_one ("ncfmcf num-freqs=16 num-classes=10", FEATURE_CAPS,
      foreign_batch (features, 8));
  check_error (m1, (const gchar *[]) { "memory 0", "not NcfmTensor memory", "NcfmModelMeta",
        "NcfmCFMeta", "ncfmdistill", NULL });
  g_autofree gchar *synset = g_build_filename (tmp_root, "foreign.safetensors", NULL);
  g_autofree gchar *distill = g_strdup_printf ("ncfmdistill dataset=%s factor=1 ipc=1 "
      "location=%s", idx_dir, synset);
  g_autofree gchar *m2 = push_one (distill, FEATURE_CAPS, foreign_batch (features, 8));
  check_error (m2, (const gchar *[]) { "NcfmCFMeta", NULL });
  fail_if (g_file_test (synset, G_FILE_TEST_EXISTS));
}
GST_END_TEST;

static Suite *
foreign_memory_suite (void)
{
  Suite *s = suite_create ("foreign-memory");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_same_features);
  tcase_add_test (tc, test_train_and_evaluate);
  tcase_add_test (tc, test_wrong_sizes);
  tcase_add_test (tc, test_metas_needed);
  return s;
}

GST_CHECK_MAIN (foreign_memory);
