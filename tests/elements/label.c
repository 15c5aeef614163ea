/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* label.c: ncfmlabel and ncfmgather with the plugin loaded, behind
 * videotestsrc ! ncfmtensorize unlabeled=true: every label equals the arg-max
 * of a direct ncfm_model_forward on the same images, and min-confidence
 * drops exactly the images below it; the errors (weights unset, missing or
 * not a model, classes or image shape unlike the stream's, a bad class
 * subset; capacity below batch-size, a bad reservoir file left unchanged);
 * with when-busy=drop a live source behind a slow chain is never held up,
 * the batches dropped are counted and every batch pushed is labelled as the
 * model says;
 * ncfmgather's batches are per-class batches as ncfmdatasetsrc makes them,
 * its reservoir is saved and resumed; and the whole chain distils: the loss
 * falls and only the classes the model saw change. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

#include "elements-test-util.h"
#include "gstncfmmeta.h" /* the NcfmBatchMeta struct; its functions live in the plugin */
#include "train-test-util.h"

#define K 10

/* "videotestsrc ... ! ncfmtensorize unlabeled=true" of IMG_H x IMG_W grey images */
#define SOURCE "videotestsrc pattern=ball num-buffers=%u ! video/x-raw,width=32,height=24 ! " \
  "videoconvert ! ncfmtensorize unlabeled=true classes=%u width=3 height=4 channels=1 " \
  "batch-size=4 dataset=fashion-mnist"

static gpointer
dup_memory (GstBuffer *buf, guint index, gsize *size)
{
  GstMapInfo map;
  fail_unless (gst_memory_map (gst_buffer_peek_memory (buf, index), &map, GST_MAP_READ));
  gpointer copy = g_memdup2 (map.data, map.size);
  *size = map.size;
  gst_memory_unmap (gst_buffer_peek_memory (buf, index), &map);
  return copy;
}

/* How late batches reach ncfmlabel's sink pad (their timestamp is their first frame's),
 * and the last "ncfm-label" message. */
typedef struct {
  LagWatch lag;
  GstStructure *last_count;
} LabelWatch;

/* Pulls every buffer of `desc` (appsink "sink") to EOS; with `w`, watches the element
 * "label" as above. */
static GPtrArray *
pull_all_watched (const gchar *desc, LabelWatch *w)
{
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  if (w) {
    GstElement *label = gst_bin_get_by_name (GST_BIN (pipeline), "label");
    GstPad *pad = gst_element_get_static_pad (label, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, lag_watch_probe, &w->lag, NULL);
    gst_object_unref (pad);
    gst_object_unref (label);
  }
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_sample_unref);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (;;) {
    GstSample *s = NULL;
    g_signal_emit_by_name (sink, "try-pull-sample", 60 * GST_SECOND, &s);
    if (!s)
      break;
    g_ptr_array_add (out, s);
  }
  GstBus *bus = gst_element_get_bus (pipeline);
  for (GstMessage *m; w && (m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT));
      gst_message_unref (m))
    if (gst_message_has_name (m, "ncfm-label")) {
      g_clear_pointer (&w->last_count, gst_structure_free);
      w->last_count = gst_structure_copy (gst_message_get_structure (m));
    }
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return out;
}

static GPtrArray *
pull_all (const gchar *desc)
{
  return pull_all_watched (desc, NULL);
}

/* The arg-max of a direct forward (and its softmax probability) of `n` images. */
static void
direct_argmax (NcfmModel *model, const gfloat *images, guint n, gint32 *best, gdouble *conf)
{
  g_autoptr (GError) error = NULL;
  NcfmDevice *dev = ncfm_model_get_device (model);
  const gint64 shape[4] = { n, 1, IMG_H, IMG_W };
  g_autoptr (NcfmTensor) t = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, shape, 4,
      (const guint8 *) images, n * IMG_H * IMG_W * sizeof (gfloat), &error);
  g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
  ncfm_model_set_training (model, FALSE);
  fail_unless (ncfm_model_forward (model, t, acts, &error));
  g_autofree gfloat *logits = g_new (gfloat, n * K);
  ncfm_tensor_download (ncfm_activations_get_logits (acts), logits, n * K * sizeof (gfloat));
  for (guint i = 0; i < n; i++) {
    const gfloat *row = logits + i * K;
    best[i] = 0;
    for (guint j = 1; j < K; j++)
      if (row[j] > row[best[i]])
        best[i] = (gint32) j;
    gdouble z = 0;
    for (guint j = 0; j < K; j++)
      z += exp (row[j] - row[best[i]]);
    conf[i] = 1.0 / z;
  }
}

static gint
compare_doubles (const gdouble *a, const gdouble *b)
{
  return (*a > *b) - (*a < *b);
}

/* Checks every label of the samples against a direct forward of their images with `model`
 * and `min_conf`; appends each image's confidence to `all`; returns the images kept. */
static guint
check_sample_labels (NcfmModel *model, GPtrArray *samples, gdouble min_conf, GArray *all)
{
  guint kept = 0;
  for (guint b = 0; b < samples->len; b++) {
    GstBuffer *buf = gst_sample_get_buffer (g_ptr_array_index (samples, b));
    gsize isize, lsize;
    g_autofree gfloat *images = dup_memory (buf, 0, &isize);
    g_autofree gint32 *labels = dup_memory (buf, 1, &lsize);
    const guint n = lsize / sizeof (gint32);
    fail_unless_equals_int (isize, n * IMG_H * IMG_W * sizeof (gfloat));
    gint32 best[8];
    gdouble conf[8];
    direct_argmax (model, images, n, best, conf);
    for (guint i = 0; i < n; i++) {
      const gboolean keep = conf[i] >= min_conf;
      fail_unless_equals_int (labels[i], keep ? best[i] : -1);
      kept += keep;
      g_array_append_val (all, conf[i]);
    }
    GType api = g_type_from_name ("NcfmBatchMetaAPI");
    NcfmBatchMeta *meta = (NcfmBatchMeta *) gst_buffer_get_meta (buf, api);
    fail_unless (meta != NULL && meta->num_classes == K);
  }
  return kept;
}

/* Runs the source into ncfmlabel `props` and checks every label against a direct forward;
 * returns the images kept. */
static guint
check_labels (const gchar *weights, gdouble min_conf, gdouble *median)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", &error);
  g_autoptr (NcfmModel) model = ncfm_model_new_from_file (cpu, weights, &error);
  fail_unless (model != NULL, "%s", error ? error->message : "");
  gchar conf_text[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_dtostr (conf_text, sizeof conf_text, min_conf);
  g_autofree gchar *desc = g_strdup_printf (SOURCE " ! ncfmlabel weights=%s min-confidence=%s "
      "! appsink name=sink sync=false", 40, K, weights, conf_text);
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr (GPtrArray) samples = pull_all (desc);
  fail_unless_equals_int (samples->len, 10);
  const guint kept = check_sample_labels (model, samples, min_conf, all), total = all->len;
  g_array_sort (all, (GCompareFunc) compare_doubles);
  /* half way between the two middle ones: no image lies within float rounding of it */
  *median = (g_array_index (all, gdouble, all->len / 2 - 1)
      + g_array_index (all, gdouble, all->len / 2)) / 2;
  GST_INFO ("min-confidence %s: kept %u of %u", conf_text, kept, total);
  return kept;
}

GST_START_TEST (test_labels_match_forward)
{
  g_autofree gchar *weights = fresh_model ("label.safetensors", K, IMG_H, 4);
  gdouble median = 0;
  fail_unless_equals_int (check_labels (weights, 0.0, &median), 40);
  /* the median confidence as the threshold: some kept, some dropped */
  const guint kept = check_labels (weights, median, &median);
  fail_unless (kept > 0 && kept < 40, "min-confidence %g kept %u of 40", median, kept);
  g_unlink (weights);
}
GST_END_TEST;

/* A live source at 100 frames/s (25 batches/s) behind a chain that takes 150 ms a batch:
 * with when-busy=drop the source is never held up, the batches that could not be labelled
 * in time are dropped and counted, and every batch pushed is labelled as the model says.
 * (With when-busy=wait the same run lags by seconds.) */
GST_START_TEST (test_drop_when_busy)
{
  const guint frames = 160, batches = frames / 4;
  g_autofree gchar *weights = fresh_model ("busy.safetensors", K, IMG_H, 7);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", &error);
  g_autoptr (NcfmModel) model = ncfm_model_new_from_file (cpu, weights, &error);
  fail_unless (model != NULL, "%s", error ? error->message : "");
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc is-live=true pattern=ball "
      "num-buffers=%u ! video/x-raw,width=32,height=24,framerate=100/1 ! videoconvert ! "
      "ncfmtensorize unlabeled=true classes=%u width=3 height=4 channels=1 batch-size=4 "
      "dataset=fashion-mnist ! ncfmlabel name=label when-busy=drop weights=%s ! "
      "identity sleep-time=150000 ! appsink name=sink sync=false", frames, K, weights);
  LabelWatch w = { 0 };
  g_mutex_init (&w.lag.lock);
  g_autoptr (GPtrArray) samples = pull_all_watched (desc, &w);
  g_mutex_clear (&w.lag.lock);

  fail_unless_equals_uint64 (w.lag.buffers, batches);
  GST_INFO ("%u of %u batches pushed, max lag %" GST_STIME_FORMAT, samples->len, batches,
      GST_STIME_ARGS (w.lag.max_lag));
  /* a batch's timestamp is its first frame's: it is complete 30 ms later */
  fail_unless (w.lag.max_lag < GST_SECOND / 2, "the source lagged by %" GST_STIME_FORMAT,
      GST_STIME_ARGS (w.lag.max_lag));
  fail_unless (w.last_count != NULL);
  guint64 labelled = 0, dropped_busy = 0, dropped_images = 0;
  fail_unless (gst_structure_get_uint64 (w.last_count, "batches", &labelled));
  fail_unless (gst_structure_get_uint64 (w.last_count, "dropped-busy", &dropped_busy));
  fail_unless (gst_structure_get_uint64 (w.last_count, "dropped-busy-images", &dropped_images));
  gst_structure_free (w.last_count);
  /* 1.6 s of frames through 150 ms a batch: at most 12 batches pushed, the rest dropped */
  fail_unless_equals_uint64 (labelled, samples->len);
  fail_unless_equals_uint64 (labelled + dropped_busy, batches);
  fail_unless_equals_uint64 (dropped_images, 4 * dropped_busy);
  fail_unless (labelled >= 2 && dropped_busy >= batches / 2, "%" G_GUINT64_FORMAT " labelled, %"
      G_GUINT64_FORMAT " dropped", labelled, dropped_busy);
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (gdouble));
  fail_unless_equals_int (check_sample_labels (model, samples, 0.0, all), 4 * labelled);

  /* stopped while busy: the worker is joined, nothing leaks (the ASan run checks) */
  g_autofree gchar *endless = g_strdup_printf ("videotestsrc is-live=true ! "
      "video/x-raw,width=32,height=24,framerate=100/1 ! videoconvert ! ncfmtensorize "
      "unlabeled=true classes=%u width=3 height=4 channels=1 batch-size=4 "
      "dataset=fashion-mnist ! ncfmlabel when-busy=drop weights=%s ! identity "
      "sleep-time=150000 ! fakesink", K, weights);
  GstElement *pipeline = gst_parse_launch (endless, NULL);
  fail_unless (pipeline != NULL);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  g_usleep (G_USEC_PER_SEC / 2);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (pipeline);
  g_unlink (weights);
}
GST_END_TEST;

/* Runs `desc` to its error; checks that the error names `needle`. */
static void
expect_error (const gchar *desc, const gchar *needle)
{
  RunResult r;
  run_pipeline (desc, &r);
  fail_unless (r.error != NULL, "no error for %s", desc);
  fail_unless (strstr (r.error, needle) != NULL, "error \"%s\" lacks \"%s\"", r.error, needle);
  GST_INFO ("%s -> %s", desc, r.error);
  run_result_clear (&r);
}

GST_START_TEST (test_label_errors)
{
  g_autofree gchar *weights = fresh_model ("errors.safetensors", K, IMG_H, 1);
  g_autofree gchar *five = fresh_model ("five.safetensors", 5, IMG_H, 1);
  g_autofree gchar *tall = fresh_model ("tall.safetensors", K, 2 * IMG_H, 1);
  g_autofree gchar *junk = g_build_filename (tmp_root, "junk.safetensors", NULL);
  fail_unless (g_file_set_contents (junk, "not a model", -1, NULL));
  /* ncfmlabel's properties, with %s for the file of each case */
  const struct {
    const gchar *props, *file, *needle;
  } cases[] = {
    { "%s", "", "Property weights is not set" },
    { "weights=%s", "/nonexistent/m.safetensors", "/nonexistent/m.safetensors (property weights)" },
    { "weights=%s", junk, "(property weights)" },
    { "weights=%s", five, "has 5 classes but the stream has 10" },
    { "when-busy=drop weights=%s", five, "has 5 classes but the stream has 10" },
    { "weights=%s", tall, "(property weights) takes images of [1,8,3]" },
    { "weights=%s classes=0,Nope", weights,
      "\"Nope\" is neither a class id below 10 nor a class name of the stream" },
    { "weights=%s classes=10", weights, "(property classes)" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *props = g_strdup_printf (cases[i].props, cases[i].file);
    g_autofree gchar *d = g_strdup_printf (SOURCE " ! ncfmlabel %s ! fakesink", 8, K, props);
    expect_error (d, cases[i].needle);
  }
  g_unlink (weights);
  g_unlink (five);
  g_unlink (tall);
  g_unlink (junk);
}
GST_END_TEST;

GST_START_TEST (test_gather_batches)
{
  g_autofree gchar *weights = fresh_model ("gather.safetensors", K, IMG_H, 2);
  g_autofree gchar *res = g_build_filename (tmp_root, "reservoir.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf (SOURCE " ! ncfmlabel weights=%s ! ncfmgather "
      "batch-size=3 capacity=6 min-new=2 location=%s ! appsink name=sink sync=false", 40, K,
      weights, res);
  g_autoptr (GPtrArray) samples = pull_all (desc);
  /* how many depends on how the two sides of ncfmgather interleave: at least one */
  fail_unless (samples->len >= 1);
  for (guint b = 0; b < samples->len; b++) {
    GstSample *s = g_ptr_array_index (samples, b);
    GstStructure *st = gst_caps_get_structure (gst_sample_get_caps (s), 0);
    fail_unless_equals_string (gst_structure_get_string (st, "dimensions"), "3:4:1:3,3");
    fail_unless_equals_string (gst_structure_get_string (st, "types"), "float32,int32");
    GstBuffer *buf = gst_sample_get_buffer (s);
    GType api = g_type_from_name ("NcfmBatchMetaAPI");
    NcfmBatchMeta *meta = (NcfmBatchMeta *) gst_buffer_get_meta (buf, api);
    fail_unless (meta != NULL && meta->num_classes == K && meta->class_id >= 0);
    fail_unless_equals_int (meta->channels, 1);
    fail_unless (fabs (meta->mean[0] - 0.2861) < 1e-6);
    gsize lsize;
    g_autofree gint32 *labels = dup_memory (buf, 1, &lsize);
    fail_unless (lsize >= sizeof (gint32) && lsize <= 3 * sizeof (gint32));
    for (guint i = 0; i < lsize / sizeof (gint32); i++)
      fail_unless_equals_int (labels[i], meta->class_id);
  }
  /* saved at EOS: 40 images seen; a second run resumes from it */
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmReservoir) r = ncfm_reservoir_new_from_file (res, &error);
  fail_unless (r != NULL, "%s", error ? error->message : "");
  guint64 seen = 0;
  for (guint c = 0; c < K; c++)
    seen += ncfm_reservoir_get_n_seen (r, c);
  fail_unless_equals_uint64 (seen, 40);
  g_clear_pointer (&samples, g_ptr_array_unref);
  samples = pull_all (desc);
  g_clear_object (&r);
  r = ncfm_reservoir_new_from_file (res, &error);
  seen = 0;
  for (guint c = 0; c < K; c++)
    seen += ncfm_reservoir_get_n_seen (r, c);
  fail_unless_equals_uint64 (seen, 80);

  /* refusals: capacity below batch-size; a reservoir of another capacity, left unchanged */
  gsize before_len, after_len;
  g_autofree gchar *before = NULL, *after = NULL;
  fail_unless (g_file_get_contents (res, &before, &before_len, NULL));
  g_autofree gchar *d = g_strdup_printf (SOURCE " ! ncfmlabel weights=%s ! ncfmgather "
      "batch-size=8 capacity=4 ! fakesink", 8, K, weights);
  expect_error (d, "Property capacity (4) is below property batch-size (8)");
  g_clear_pointer (&d, g_free);
  d = g_strdup_printf (SOURCE " ! ncfmlabel weights=%s ! ncfmgather batch-size=3 capacity=7 "
      "location=%s ! fakesink", 8, K, weights, res);
  expect_error (d, "(property location) holds 10 classes of [1,4,3] with capacity 6");
  fail_unless (g_file_get_contents (res, &after, &after_len, NULL));
  fail_unless (before_len == after_len && memcmp (before, after, before_len) == 0);
  g_clear_pointer (&d, g_free);
  fail_unless (g_file_set_contents (res, "junk", -1, NULL));
  d = g_strdup_printf (SOURCE " ! ncfmlabel weights=%s ! ncfmgather batch-size=3 capacity=6 "
      "location=%s ! fakesink", 8, K, weights, res);
  expect_error (d, "Cannot resume the reservoir");
  g_clear_pointer (&after, g_free);
  fail_unless (g_file_get_contents (res, &after, &after_len, NULL));
  fail_unless_equals_string (after, "junk");
  g_clear_pointer (&d, g_free);
  g_unlink (res);
  g_unlink (weights);
}
GST_END_TEST;

/* ---- the whole chain from an unlabelled stream ---- */

static void
keep_losses (GArray *losses, GPtrArray *progress)
{
  for (guint i = 0; i < progress->len; i++) {
    gdouble loss;
    fail_unless (gst_structure_get_double (g_ptr_array_index (progress, i), "loss", &loss));
    g_array_append_val (losses, loss);
  }
}

GST_START_TEST (test_distill_unlabeled)
{
  g_autofree gchar *weights = fresh_model ("e2e.safetensors", K, IMG_H, 6);
  g_autofree gchar *path = g_build_filename (tmp_root, "e2e-synset.safetensors", NULL);
  /* live at 100 frames/s: ncfmgather emits as the classes fill, the distiller keeps up */
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc is-live=true pattern=ball "
      "num-buffers=200 ! video/x-raw,width=32,height=24,framerate=100/1 ! videoconvert ! "
      "ncfmtensorize unlabeled=true classes=%u width=3 height=4 channels=1 batch-size=4 "
      "dataset=fashion-mnist ! ncfmlabel weights=%s ! ncfmgather batch-size=4 capacity=16 "
      "min-new=4 ! ncfmaugment strategy=none ! ncfmconvnet width=8 depth=1 rotate-every=0 ! "
      "ncfmcf num-freqs=256 ! ncfmdistill location=%s dataset=%s ipc=1 factor=1 init=real "
      "lr=0.05 save-every=0", K, weights, path, idx_dir);
  RunResult r;
  run_pipeline (desc, &r);
  fail_unless (r.eos, "%s", r.error);
  g_autoptr (GPtrArray) progress = run_result_messages (&r, "ncfm-progress");
  g_autoptr (GPtrArray) labelled = run_result_messages (&r, "ncfm-label");
  g_autoptr (GArray) losses = g_array_new (FALSE, FALSE, sizeof (gdouble));
  keep_losses (losses, progress);
  const guint n = losses->len, q = n / 4;
  fail_unless (q >= 3, "%u steps", n);
  gdouble first = 0, last = 0;
  for (guint i = 0; i < q; i++) {
    first += g_array_index (losses, gdouble, i) / q;
    last += g_array_index (losses, gdouble, n - q + i) / q;
  }
  GST_INFO ("%u steps, loss %g -> %g", n, first, last);
  fail_unless (last < first, "loss did not fall: %g -> %g", first, last);

  /* the classes the model gave labels to, from ncfmlabel's last count */
  const GValue *kept = gst_structure_get_value (g_ptr_array_index (labelled,
          labelled->len - 1), "class-kept");
  gboolean saw[K];
  for (guint c = 0; c < K; c++)
    saw[c] = g_value_get_uint64 (gst_value_array_get_value (kept, c)) > 0;

  /* the starting point ncfmdistill took (init=real, seed 0), against what it saved */
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", &error);
  g_autoptr (NcfmDataset) ds = ncfm_dataset_load (idx_dir, NCFM_DATASET_FORMAT_AUTO, "train",
      0, NCFM_DATASET_FLAGS_NO_CACHE, NULL, &error);
  g_autoptr (NcfmTensor) init = NULL, init_labels = NULL;
  fail_unless (ncfm_multiformation_init (ds, 1, 1, NCFM_SYNSET_INIT_REAL, 0, cpu, &init,
          &init_labels, &error), "%s", error ? error->message : "");
  const gsize per = IMG_H * IMG_W;
  g_autofree gfloat *before = g_new (gfloat, K * per);
  ncfm_tensor_download (init, before, K * per * sizeof (gfloat));
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  fail_unless (st != NULL, "%s", error ? error->message : "");
  gsize count = 0;
  g_autofree gfloat *after = ncfm_safetensors_dup_f32 (st, "images", &count, &error);
  fail_unless (after != NULL && count == K * per);
  guint changed = 0;
  for (guint c = 0; c < K; c++) {
    const gboolean same = memcmp (before + c * per, after + c * per, per * sizeof (gfloat)) == 0;
    fail_unless (same == !saw[c], "class %u %s", c, same ? "did not change" : "changed");
    changed += !same;
  }
  fail_unless (changed > 0 && changed < K, "%u classes changed", changed);
  run_result_clear (&r);
  g_unlink (path);
  g_unlink (weights);
}
GST_END_TEST;

static Suite *
label_suite (void)
{
  Suite *s = suite_create ("ncfmlabel");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_labels_match_forward);
  tcase_add_test (tc, test_label_errors);
  tcase_add_test (tc, test_drop_when_busy);
  tcase_add_test (tc, test_gather_batches);
  tcase_add_test (tc, test_distill_unlabeled);
  return s;
}

GST_CHECK_MAIN (label);
