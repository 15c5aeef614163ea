/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* limits.c: values at the edge of (or outside) the ranges gst-inspect shows.
 * Every integer property of every ncfm element at its maximum, one at a time,
 * in a short pipeline the element fits in, ends in a clean error or EOS,
 * never an abort; absurd floats are refused when the pipeline is parsed; the
 * negotiation failures that used to read only "not-negotiated" say why. */
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>

#include "elements-test-util.h"

#define RUN_TIMEOUT_S 60

/* The pipeline each element is swept in: the element under test is named "e",
 * sized small so that the one property at its maximum is the only large
 * thing.  %1$s is the tiny IDX dataset, %2$s a scratch directory. */
static const struct {
  const gchar *factory, *pipeline;
} sweep_pipelines[] = {
  { "ncfmdatasetsrc", "ncfmdatasetsrc name=e location=%1$s num-buffers=3 batch-size=8 "
        "! fakesink" },
  { "ncfmaugment", "ncfmdatasetsrc location=%1$s batch-size=8 num-buffers=1 "
        "! ncfmaugment name=e strategy=flip ! fakesink" },
  { "ncfmconvnet", "ncfmdatasetsrc location=%1$s batch-size=8 num-buffers=1 "
        "! ncfmconvnet name=e depth=1 width=4 ! fakesink" },
  { "ncfmresnet", "videotestsrc num-buffers=2 ! video/x-raw,width=16,height=16 "
        "! ncfmtensorize width=16 height=16 batch-size=2 ! ncfmresnet name=e width=2 "
        "! fakesink" },
  { "ncfmcf", "ncfmdatasetsrc location=%1$s batch-size=8 num-buffers=1 "
        "! ncfmconvnet depth=1 width=2 ! ncfmcf name=e num-freqs=16 ! fakesink" },
  { "ncfmtensorize", "videotestsrc num-buffers=3 ! video/x-raw,width=8,height=6 "
        "! ncfmtensorize name=e width=4 height=4 batch-size=2 ! fakesink" },
  { "ncfmdistill", "ncfmdatasetsrc location=%1$s mode=per-class batch-size=4 "
        "num-buffers=2 ! ncfmconvnet depth=1 width=2 ! ncfmcf num-freqs=16 "
        "! ncfmdistill name=e "
        "dataset=%1$s location=%2$s/syn.safetensors ipc=1 factor=1 init=real save-every=0" },
  { "ncfmgather", "ncfmdatasetsrc location=%1$s mode=mixed batch-size=8 num-buffers=2 "
        "! ncfmgather name=e batch-size=2 capacity=4 min-new=1 ! fakesink" },
  { "ncfmtrain", "ncfmdatasetsrc location=%1$s batch-size=8 num-buffers=2 "
        "! ncfmtrain name=e depth=1 width=4 location=%2$s/trained.safetensors" },
};

static gboolean
is_integer (GParamSpec *p)
{
  return G_IS_PARAM_SPEC_INT (p) || G_IS_PARAM_SPEC_UINT (p) || G_IS_PARAM_SPEC_INT64 (p)
      || G_IS_PARAM_SPEC_UINT64 (p);
}

/* The property's maximum as a GValue of its type. */
static void
maximum_of (GParamSpec *p, GValue *v)
{
  g_value_init (v, p->value_type);
  if (G_IS_PARAM_SPEC_INT (p))
    g_value_set_int (v, G_PARAM_SPEC_INT (p)->maximum);
  else if (G_IS_PARAM_SPEC_UINT (p))
    g_value_set_uint (v, G_PARAM_SPEC_UINT (p)->maximum);
  else if (G_IS_PARAM_SPEC_INT64 (p))
    g_value_set_int64 (v, G_PARAM_SPEC_INT64 (p)->maximum);
  else
    g_value_set_uint64 (v, G_PARAM_SPEC_UINT64 (p)->maximum);
}

static const gchar *
pipeline_for (const gchar *factory)
{
  for (guint i = 0; i < G_N_ELEMENTS (sweep_pipelines); i++)
    if (strcmp (sweep_pipelines[i].factory, factory) == 0)
      return sweep_pipelines[i].pipeline;
  return NULL;
}

/* Runs @factory's pipeline with @p at its maximum; the run must end. */
static void
run_at_maximum (const gchar *factory, GParamSpec *p)
{
  g_autofree gchar *desc = g_strdup_printf (pipeline_for (factory), idx_dir, tmp_root);
  g_autofree gchar *syn = g_build_filename (tmp_root, "syn.safetensors", NULL);
  g_autoptr (GError) err = NULL;
  g_unlink (syn);              /* a set from the last run would be resumed */
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), "e");
  GValue max = G_VALUE_INIT;
  maximum_of (p, &max);
  g_object_set_property (G_OBJECT (e), p->name, &max);
  g_autofree gchar *shown = g_strdup_value_contents (&max);
  g_value_unset (&max);
  gst_object_unref (e);
  /* an abort ends the test binary; a hang fails it after RUN_TIMEOUT_S */
  const gint64 t0 = g_get_monotonic_time ();
  g_autofree gchar *error = play_to_eos (pipeline, RUN_TIMEOUT_S, NULL, NULL);
  g_printerr ("%s %s=%s (%.1f s): %s\n", factory, p->name, shown,
      (g_get_monotonic_time () - t0) / 1e6, error ? error : "EOS");
  gst_object_unref (pipeline);
}

GST_START_TEST (test_integer_maximum_sweep)
{
  g_autoptr (GList) features = gst_registry_get_feature_list_by_plugin (gst_registry_get (),
      "ncfm");
  guint swept = 0;
  for (GList *l = features; l; l = l->next) {
    if (!GST_IS_ELEMENT_FACTORY (l->data))
      continue;
    const gchar *factory = gst_plugin_feature_get_name (l->data);
    GstElement *probe = gst_element_factory_make (factory, NULL);
    fail_unless (probe != NULL, "%s", factory);
    guint n_props;
    g_autofree GParamSpec **props = g_object_class_list_properties (G_OBJECT_GET_CLASS (probe),
        &n_props);
    for (guint i = 0; i < n_props; i++) {
      GParamSpec *p = props[i];
      /* our properties (GstBaseSrc's num-buffers and the like are GStreamer's) */
      if (!is_integer (p) || !(p->flags & G_PARAM_WRITABLE)
          || !g_str_has_prefix (g_type_name (p->owner_type), "GstNcfm"))
        continue;
      fail_unless (pipeline_for (factory) != NULL,
          "%s has integer property %s but no sweep pipeline here: add one", factory, p->name);
      run_at_maximum (factory, p);
      swept++;
    }
    gst_object_unref (probe);
  }
  gst_plugin_feature_list_free (g_steal_pointer (&features));
  fail_unless (swept >= 30, "only %u properties swept", swept);
}
GST_END_TEST;

/* A batch size beyond the dataset (inside the range) is one batch of it all. */
static void
keep_caps (GstElement *sink, GstBuffer *buf, GstPad *pad, gpointer data)
{
  (void) sink;
  (void) buf;
  gchar **caps = data;
  GstCaps *now = gst_pad_get_current_caps (pad);
  g_free (*caps);
  *caps = gst_caps_to_string (now);
  gst_caps_unref (now);
}

GST_START_TEST (test_datasetsrc_huge_batch)
{
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s mode=mixed "
      "batch-size=10000000 epochs=2 ! fakesink name=sink signal-handoffs=true", idx_dir);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_autofree gchar *caps = NULL;
  g_signal_connect (sink, "handoff", G_CALLBACK (keep_caps), &caps);
  g_autofree gchar *error = play_to_eos (pipeline, RUN_TIMEOUT_S, NULL, NULL);
  fail_unless (error == NULL, "%s", error);
  /* images [25, 1, 4, 3], labels [25] */
  fail_unless (caps && strstr (caps, "3:4:1:25") != NULL, "%s", caps);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* Out-of-range floats (and integers) never reach the element: GObject refuses them when the
 * pipeline is parsed, with a warning naming the property, and the element
 * keeps its default (GStreamer 1.22's parser warns and goes on). */
static gboolean
keep_warning (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
  (void) domain;
  (void) level;
  gchar **kept = data;
  g_free (*kept);
  *kept = g_strdup (message);
  return TRUE;
}

GST_START_TEST (test_absurd_floats_refused)
{
  static const gchar *const bad[] = {
    "ncfmdistill alpha=-0.5", "ncfmdistill beta=1.5", "ncfmdistill lr=-1",
    "ncfmdistill weight-decay=-0.1", "ncfmcf sigma=0", "ncfmcf sampler-lr=-1",
    "ncfmcf sampler-momentum=2", "ncfmtrain lr=-0.1", "ncfmtrain cutmix=1.5",
    "ncfmtrain momentum=-1", "ncfmdistill sampler-step-every=2000000",
  };
  g_autofree gchar *warning = NULL;
  GstCheckLogFilter *filter = gst_check_add_log_filter ("GLib-GObject", G_LOG_LEVEL_WARNING,
      g_regex_new ("out of range for property", 0, 0, NULL), keep_warning, &warning, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree gchar *prop = g_strndup (strchr (bad[i], ' ') + 1,
        strchr (bad[i], '=') - strchr (bad[i], ' ') - 1);
    g_autofree gchar *desc = g_strconcat (bad[i], " name=e", NULL);
    g_clear_pointer (&warning, g_free);
    GstElement *pipeline = gst_parse_launch (desc, NULL);
    fail_unless (pipeline != NULL, "%s", desc);
    fail_unless (warning != NULL, "%s: no warning", bad[i]);
    g_autofree gchar *quoted = g_strdup_printf ("'%s'", prop);
    fail_unless (strstr (warning, quoted) != NULL, "%s: %s", bad[i], warning);
    /* the element holds its default, not the absurd value */
    GstElement *e = GST_IS_BIN (pipeline) ? gst_bin_get_by_name (GST_BIN (pipeline), "e")
        : gst_object_ref (pipeline);
    GParamSpec *p = g_object_class_find_property (G_OBJECT_GET_CLASS (e), prop);
    GValue now = G_VALUE_INIT;
    g_value_init (&now, p->value_type);
    g_object_get_property (G_OBJECT (e), prop, &now);
    fail_unless (g_param_value_defaults (p, &now), "%s: the value changed", bad[i]);
    g_value_unset (&now);
    gst_object_unref (e);
    gst_object_unref (pipeline);
  }
  gst_check_remove_log_filter (filter);
}
GST_END_TEST;

static gchar *
run_desc (const gchar *fmt)
{
  g_autofree gchar *desc = g_strdup_printf (fmt, idx_dir, tmp_root);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL, "%s", desc);
  gchar *error = play_to_eos (pipeline, RUN_TIMEOUT_S, NULL, NULL);
  gst_object_unref (pipeline);
  return error;
}

static void
assert_error_names (const gchar *error, const gchar *what)
{
  fail_unless (error != NULL, "no error (expected one naming %s)", what);
  fail_unless (strstr (error, what) != NULL, "'%s' does not name '%s'", error, what);
}

/* Valid alone, invalid together: refused at start, both properties named. */
GST_START_TEST (test_zero_weights_refused)
{
  g_autofree gchar *error = run_desc ("ncfmdatasetsrc location=%1$s mode=per-class "
      "batch-size=4 ! ncfmconvnet depth=1 width=2 ! ncfmcf num-freqs=16 ! ncfmdistill "
      "dataset=%1$s location=%2$s/zero.safetensors ipc=1 factor=1 alpha=0 beta=0");
  assert_error_names (error, "alpha 0 and beta 0");
  assert_error_names (error, "properties alpha, beta");
}
GST_END_TEST;

/* What used to be the source's bare "not-negotiated". */
GST_START_TEST (test_negotiation_explained)
{
  g_autofree gchar *deep = run_desc ("ncfmdatasetsrc location=%1$s batch-size=8 "
      "! ncfmconvnet depth=3 width=2 ! fakesink");
  assert_error_names (deep, "ncfmconvnet depth 3 (property depth) needs 1-channel inputs of "
      "at least 4x4, got 4x3");
  g_autofree gchar *twice = run_desc ("ncfmdatasetsrc location=%1$s batch-size=8 "
      "! ncfmconvnet depth=1 width=2 ! ncfmconvnet depth=1 width=2 ! fakesink");
  assert_error_names (twice, "ncfmconvnet takes images [B,C,H,W], got features [B,24] (is there "
      "a second extractor?)");
}
GST_END_TEST;

static Suite *
limits_suite (void)
{
  Suite *s = suite_create ("limits");
  TCase *tc = tcase_create ("limits");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, test_integer_maximum_sweep);
  tcase_add_test (tc, test_datasetsrc_huge_batch);
  tcase_add_test (tc, test_absurd_floats_refused);
  tcase_add_test (tc, test_zero_weights_refused);
  tcase_add_test (tc, test_negotiation_explained);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (limits);
