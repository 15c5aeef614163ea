/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bench-gst.h"

#include <stdio.h>

typedef struct {
  GMutex lock;
  guint64 last_step;
  gint64 *at;        /* monotonic time of this process's k-th progress message (1-based) */
  guint64 n_steps;   /* warm-up + timed */
} Progress;

static GstBusSyncReply
on_sync_message (G_GNUC_UNUSED GstBus *bus, GstMessage *msg, gpointer data)
{
  Progress *p = data;
  const GstStructure *s = gst_message_get_structure (msg);
  /* one message per class step; counted here, since a class shard's "step"
   * field numbers the whole run's batches (it jumps by the shard count) */
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && s
      && gst_structure_has_name (s, "ncfm-progress")) {
    g_mutex_lock (&p->lock);
    const guint64 step = ++p->last_step;
    if (step <= p->n_steps)
      p->at[step - 1] = g_get_monotonic_time ();
    g_mutex_unlock (&p->lock);
  }
  return GST_BUS_PASS;
}

gboolean
bench_gst_load_plugin (const char *bench)
{
  /* the plugin of this build, whatever GST_PLUGIN_PATH says */
  gst_registry_scan_path (gst_registry_get (), NCFM_BENCH_PLUGIN_DIR);
  GstPluginFeature *distill = gst_registry_lookup_feature (gst_registry_get (), "ncfmdistill");
  if (!distill) {
    fprintf (stderr, "%s: the ncfm plugin is not in %s\n", bench, NCFM_BENCH_PLUGIN_DIR);
    return FALSE;
  }
  gst_object_unref (distill);
  return TRUE;
}

double
bench_gst_step_seconds (const char *line, int warmup, int timed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = gst_parse_launch (line, &error);
  if (!pipeline) {
    fprintf (stderr, "cannot build the pipeline: %s\n", error->message);
    return -1;
  }
  Progress p = { .n_steps = warmup + timed };
  g_mutex_init (&p.lock);
  p.at = g_new0 (gint64, p.n_steps);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  gst_bus_set_sync_handler (bus, on_sync_message, &p, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  double secs = -1;
  for (;;) {
    g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) err = NULL;
      g_autofree gchar *dbg = NULL;
      gst_message_parse_error (msg, &err, &dbg);
      fprintf (stderr, "pipeline error from %s: %s\n%s\n", GST_OBJECT_NAME (msg->src),
          err->message, dbg ? dbg : "");
      break;
    }
    g_mutex_lock (&p.lock);
    const gboolean done = p.last_step >= p.n_steps;
    g_mutex_unlock (&p.lock);
    if (done) {
      secs = (p.at[p.n_steps - 1] - p.at[warmup - 1]) / 1e6 / timed;
      break;
    }
    if (msg) {
      fprintf (stderr, "the stream ended before %d steps\n", (int) p.n_steps);
      break;
    }
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  g_free (p.at);
  g_mutex_clear (&p.lock);
  return secs;
}
