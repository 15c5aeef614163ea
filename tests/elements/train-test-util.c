/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* train-test-util.c: pipeline runs for the ncfmtrain / ncfmevaluate tests. */
#include "train-test-util.h"

#include <gst/check/gstcheck.h>

static void
run (const gchar *description, RunResult *r, gboolean keep)
{
  GError *err = NULL;
  memset (r, 0, sizeof (*r));
  r->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  GstElement *pipeline = gst_parse_launch (description, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s: %s", description, err ? err->message : "");
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 240 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "timeout running %s", description);
    const GstMessageType type = GST_MESSAGE_TYPE (msg);
    if (type == GST_MESSAGE_ELEMENT) {
      g_ptr_array_add (r->messages, gst_structure_copy (gst_message_get_structure (msg)));
    } else if (type == GST_MESSAGE_EOS) {
      r->eos = TRUE;
    } else {
      GError *e = NULL;
      gchar *dbg = NULL;
      gst_message_parse_error (msg, &e, &dbg);
      r->error = g_strdup_printf ("%s (%s)", e->message, dbg ? dbg : "");
      g_error_free (e);
      g_free (dbg);
    }
    gst_message_unref (msg);
    if (type != GST_MESSAGE_ELEMENT)
      break;
  }
  gst_object_unref (bus);
  if (keep && r->eos) {
    r->pipeline = pipeline;
    return;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

void
run_pipeline (const gchar *description, RunResult *r)
{
  run (description, r, FALSE);
}

void
run_pipeline_keep (const gchar *description, RunResult *r)
{
  run (description, r, TRUE);
}

void
run_result_clear (RunResult *r)
{
  if (r->pipeline) {
    gst_element_set_state (r->pipeline, GST_STATE_NULL);
    gst_clear_object (&r->pipeline);
  }
  g_clear_pointer (&r->error, g_free);
  g_clear_pointer (&r->messages, g_ptr_array_unref);
}

GPtrArray *
run_result_messages (RunResult *r, const gchar *name)
{
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; i < r->messages->len; i++)
    if (gst_structure_has_name (g_ptr_array_index (r->messages, i), name))
      g_ptr_array_add (out, g_ptr_array_index (r->messages, i));
  return out;
}
