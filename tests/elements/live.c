/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* live.c: a live source (videotestsrc is-live=true, 60 frames/s) through
 * ncfmtensorize unlabeled=true ! ncfmlabel ! ncfmgather into a deliberately
 * slow sink (identity sleeping 150 ms per batch): the source is never held
 * up (every frame leaves it within 0.5 s of its timestamp's running time),
 * resident memory stays flat after the first seconds, and ncfmgather
 * accounts for every sample and reports a real-time factor near 1.
 * NCFM_LIVE_SECONDS (default 20) sets the length of the run. */
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

#include "elements-test-util.h"

#define K 4
#define MAX_LAG (GST_SECOND / 2)
#define MAX_RSS_GROWTH_KB (16 * 1024)

static guint64
rss_kb (void)
{
  g_autofree gchar *status = NULL;
  fail_unless (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  const gchar *line = strstr (status, "VmRSS:");
  fail_unless (line != NULL);
  return g_ascii_strtoull (line + 6, NULL, 10);
}

/* Pops element messages for `seconds`, keeping the last "ncfm-gather"; fails on an error. */
static void
run_for (GstBus *bus, gdouble seconds, GstStructure **last)
{
  const gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  for (gint64 now; (now = g_get_monotonic_time ()) < end;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, (end - now) * GST_USECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS);
    if (!msg)
      break;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autofree gchar *text = error_message_text (msg);
      fail ("%s", text);
    }
    const GstStructure *s = gst_message_get_structure (msg);
    if (s && gst_structure_has_name (s, "ncfm-gather")) {
      g_clear_pointer (last, gst_structure_free);
      *last = gst_structure_copy (s);
    }
    const gboolean eos = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
    gst_message_unref (msg);
    if (eos)
      break;
  }
}

static guint64
field (const GstStructure *s, const gchar *name)
{
  guint64 v = 0;
  fail_unless (gst_structure_get_uint64 (s, name, &v), "no %s", name);
  return v;
}

GST_START_TEST (test_live_never_stalls)
{
  g_autoptr (GError) error = NULL;
  const gchar *env = g_getenv ("NCFM_LIVE_SECONDS");
  const gdouble seconds = env ? g_ascii_strtod (env, NULL) : 20.0;
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", &error);
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (cpu, 1, 8, 8, K, 1, 8, NCFM_NORM_INSTANCE,
      3, &error);
  g_autofree gchar *weights = g_build_filename (tmp_root, "live.safetensors", NULL);
  fail_unless (ncfm_model_save (NCFM_MODEL (net), weights, &error));
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc name=src is-live=true pattern=snow ! "
      "video/x-raw,width=64,height=48,framerate=60/1 ! videoconvert ! ncfmtensorize "
      "unlabeled=true classes=%u width=8 height=8 channels=1 batch-size=4 ! ncfmlabel "
      "weights=%s ! ncfmgather name=g batch-size=8 capacity=32 min-new=4 ! identity "
      "sleep-time=150000 ! fakesink sync=false", K, weights);
  GstElement *pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstPad *srcpad = gst_element_get_static_pad (src, "src");
  LagWatch w = { 0 };
  g_mutex_init (&w.lock);
  gst_pad_add_probe (srcpad, GST_PAD_PROBE_TYPE_BUFFER, lag_watch_probe, &w, NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  GstStructure *last = NULL;

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  run_for (bus, MIN (5.0, seconds / 4), &last);
  const guint64 rss_start = rss_kb ();
  run_for (bus, seconds - MIN (5.0, seconds / 4), &last);
  const guint64 rss_end = rss_kb ();
  gst_element_send_event (pipeline, gst_event_new_eos ());
  run_for (bus, 30, &last);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  GST_INFO ("%" G_GUINT64_FORMAT " frames, max lag %" GST_STIME_FORMAT ", RSS %" G_GUINT64_FORMAT
      " -> %" G_GUINT64_FORMAT " kB; %" GST_PTR_FORMAT, w.buffers, GST_STIME_ARGS (w.max_lag),
      rss_start, rss_end, last);
  g_print ("live %.0f s: %" G_GUINT64_FORMAT " frames, max lag %.3f s, RSS %" G_GUINT64_FORMAT
      " -> %" G_GUINT64_FORMAT " kB\n", seconds, w.buffers, (gdouble) w.max_lag / GST_SECOND,
      rss_start, rss_end);
  /* the source ran at its rate, never more than MAX_LAG behind the clock */
  fail_unless (w.buffers >= 60 * seconds * 0.9, "%" G_GUINT64_FORMAT " frames", w.buffers);
  fail_unless (w.max_lag < MAX_LAG, "the source fell %" GST_STIME_FORMAT " behind",
      GST_STIME_ARGS (w.max_lag));
  fail_unless (rss_end < rss_start + MAX_RSS_GROWTH_KB, "RSS grew from %" G_GUINT64_FORMAT
      " to %" G_GUINT64_FORMAT " kB", rss_start, rss_end);
  /* every sample accounted for; the slow sink took few batches, the rest was sampled */
  fail_unless (last != NULL);
  const guint64 samples = field (last, "samples");
  /* batches of 4 in, the last one at EOS maybe smaller */
  fail_unless (samples > 4 * (field (last, "buffers") - 1) && samples <= 4 * field (last, "buffers"));
  fail_unless_equals_uint64 (field (last, "stored") + field (last, "replaced")
      + field (last, "discarded") + field (last, "unlabeled"), samples);
  fail_unless (field (last, "while-busy") > samples / 2);
  fail_unless (field (last, "batches") < samples / 8);
  fail_unless (field (last, "discarded") > 0);
  fail_unless (field (last, "reservoir-bytes") <= K * 32 * 64 * sizeof (gfloat));
  gdouble rtf = 0;
  fail_unless (gst_structure_get_double (last, "realtime-factor", &rtf));
  fail_unless (rtf > 0.9 && rtf < 1.1, "real-time factor %g", rtf);
  gint64 max_lag = 0;
  fail_unless (gst_structure_get_int64 (last, "max-lag", &max_lag));
  fail_unless (max_lag < (gint64) MAX_LAG, "ncfmgather saw a lag of %" G_GINT64_FORMAT, max_lag);

  gst_structure_free (last);
  gst_object_unref (bus);
  gst_object_unref (srcpad);
  gst_object_unref (src);
  gst_object_unref (pipeline);
  g_mutex_clear (&w.lock);
  g_unlink (weights);
}
GST_END_TEST;

static Suite *
live_suite (void)
{
  Suite *s = suite_create ("live");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_live_never_stalls);
  return s;
}

GST_CHECK_MAIN (live);
