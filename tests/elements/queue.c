/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* queue.c: the distillation line with a queue between every two elements,
 * so that each element runs in its own streaming thread:
 *
 *   ncfmdatasetsrc ! queue ! ncfmaugment ! queue ! ncfmconvnet ! queue
 *     ! ncfmcf ! queue ! ncfmdistill
 *
 * The model and t travel on the buffer (NcfmModelMeta, NcfmCFMeta), so the
 * threads share no state: the saved synthetic set is bitwise the one of the
 * same line without queues.  And the overlap is real: while ncfmdistill is
 * held on its first buffer, the extractor pushes more (shown with pad
 * probes, no timing thresholds); without queues it cannot, the control.
 * The plugin is loaded, on the tiny dataset of elements-test-util. */
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

#include "elements-test-util.h"

#define ELEMENTS_AHEAD 3  /* buffers out of the extractor while the distiller holds the first */

/* The line, with `sep` between the elements (" ! " or " ! queue ! "). */
static gchar *
line_with_norm (const gchar *sep, const gchar *norm, const gchar *location)
{
  return g_strdup_printf ("ncfmdatasetsrc location=%s batch-size=5 epochs=2%s"
      "ncfmaugment seed=1%sncfmconvnet name=x width=8 depth=1 norm=%s seed=2%s"
      "ncfmcf num-freqs=64 seed=3%sncfmdistill name=d dataset=%s factor=1 ipc=2 init=real "
      "save-every=0 location=%s", idx_dir, sep, sep, norm, sep, sep, idx_dir, location);
}

static gchar *
line (const gchar *sep, const gchar *location)
{
  return line_with_norm (sep, "instancenorm", location);
}

static GstElement *
parse (const gchar *desc)
{
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  return pipeline;
}

static GBytes *
read_bytes (const gchar *path)
{
  gchar *data = NULL;
  gsize len = 0;
  fail_unless (g_file_get_contents (path, &data, &len, NULL), "cannot read %s", path);
  return g_bytes_new_take (data, len);
}

/* The first tensor or metadata key in which two saved sets differ, for the message. */
static gchar *
first_difference (const gchar *a, const gchar *b)
{
  g_autoptr (NcfmSafetensors) x = ncfm_safetensors_load (a, NULL);
  g_autoptr (NcfmSafetensors) y = ncfm_safetensors_load (b, NULL);
  fail_unless (x && y);
  g_auto (GStrv) names = ncfm_safetensors_list_names (x);
  for (guint i = 0; names[i]; i++) {
    NcfmDType dx, dy;
    gsize nx = 0, ny = 0;
    gconstpointer px = ncfm_safetensors_peek (x, names[i], &dx, &nx, NULL);
    gconstpointer py = ncfm_safetensors_peek (y, names[i], &dy, &ny, NULL);
    if (!py || dx != dy || nx != ny || memcmp (px, py, nx) != 0)
      return g_strdup_printf ("tensor %s", names[i]);
  }
  g_auto (GStrv) keys = ncfm_safetensors_list_metadata_keys (x);
  for (guint i = 0; keys[i]; i++)
    if (g_strcmp0 (ncfm_safetensors_get_metadata (x, keys[i]),
            ncfm_safetensors_get_metadata (y, keys[i])) != 0)
      return g_strdup_printf ("metadata %s: %s vs %s", keys[i],
          ncfm_safetensors_get_metadata (x, keys[i]), ncfm_safetensors_get_metadata (y, keys[i]));
  return g_strdup ("the layout");
}

/* Runs the line with `sep` to EOS; the saved set's bytes. */
static GBytes *
run_line (const gchar *sep, const gchar *norm, const gchar *path)
{
  g_autofree gchar *desc = line_with_norm (sep, norm, path);
  GstElement *pipeline = parse (desc);
  g_autofree gchar *error = play_to_eos (pipeline, 180, NULL, NULL);
  fail_unless (error == NULL, "%s: %s", desc, error);
  gst_object_unref (pipeline);
  return read_bytes (path);
}

/* Bitwise the same set with and without queues (the Gaussian sampler: with
 * sampler=learned, ncfmcf may draw t before the distiller's ascent step on
 * the previous one, and the result legitimately depends on the schedule).
 * BatchNorm too: in training mode its output uses batch statistics only. */
GST_START_TEST (test_same_result_with_queues)
{
  const gchar *norms[] = { "instancenorm", "batchnorm" };
  g_autofree gchar *plain = g_build_filename (tmp_root, "plain.safetensors", NULL);
  g_autofree gchar *queued = g_build_filename (tmp_root, "queued.safetensors", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (norms); i++) {
    g_autoptr (GBytes) a = run_line (" ! ", norms[i], plain);
    g_autoptr (GBytes) b = run_line (" ! queue ! ", norms[i], queued);
    if (!g_bytes_equal (a, b)) {
      g_autofree gchar *what = first_difference (plain, queued);
      fail ("norm=%s: the synthetic sets differ with queues (%s)", norms[i], what);
    }
    const gchar *step = NULL;
    g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (plain, NULL);
    fail_unless (st && (step = ncfm_safetensors_get_metadata (st, "ncfm.step")));
    fail_unless (g_ascii_strtoull (step, NULL, 10) >= 10, "only %s steps", step);
    g_unlink (plain);
    g_unlink (queued);
  }
}
GST_END_TEST;

/* The learned sampler with queues: ncfmcf draws the next t before the
 * distiller sends back dL/dt of the previous one, and psi still takes an
 * ascent step for every buffer (the sampler keeps its recent draws). */
GST_START_TEST (test_learned_sampler_trains_with_queues)
{
  g_autofree gchar *path = g_build_filename (tmp_root, "learned.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s batch-size=5 epochs=2 "
      "! queue ! ncfmaugment seed=1 ! queue ! ncfmconvnet width=8 depth=1 seed=2 ! queue ! "
      "ncfmcf num-freqs=64 seed=3 sampler=learned ! queue max-size-buffers=3 ! ncfmdistill "
      "dataset=%s factor=1 ipc=2 init=real save-every=0 location=%s", idx_dir, idx_dir, path);
  GstElement *pipeline = parse (desc);
  g_autofree gchar *error = play_to_eos (pipeline, 180, NULL, NULL);
  fail_unless (error == NULL, "%s: %s", desc, error);
  gst_object_unref (pipeline);
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, NULL);
  const gchar *step = st ? ncfm_safetensors_get_metadata (st, "ncfm.step") : NULL;
  const gchar *psi_step = st ? ncfm_safetensors_get_metadata (st, "psi.step") : NULL;
  fail_unless (step && psi_step, "no step metadata in %s", path);
  fail_unless (g_ascii_strtoull (step, NULL, 10) >= 10, "only %s steps", step);
  fail_unless_equals_string (psi_step, step);
  g_unlink (path);
}
GST_END_TEST;

/* What the two probes share. */
typedef struct {
  GMutex lock;
  GCond cond;
  guint extracted;      /* buffers the extractor has pushed */
  gboolean held;        /* the distiller's first buffer has arrived */
  guint extracted_at_release;
  gboolean timed_out;
  gint64 max_wait_us;
} Overlap;

static GstPadProbeReturn
on_extracted (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Overlap *o = data;
  (void) pad;
  (void) info;
  g_mutex_lock (&o->lock);
  o->extracted++;
  g_cond_broadcast (&o->cond);
  g_mutex_unlock (&o->lock);
  return GST_PAD_PROBE_OK;
}

/* Holds the distiller's first buffer until the extractor has pushed
 * ELEMENTS_AHEAD buffers, or max_wait_us have passed: a line where the
 * extractor cannot run ahead (no queues) times out instead of hanging. */
static GstPadProbeReturn
hold_first_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Overlap *o = data;
  (void) pad;
  (void) info;
  g_mutex_lock (&o->lock);
  if (!o->held) {
    o->held = TRUE;
    const gint64 deadline = g_get_monotonic_time () + o->max_wait_us;
    while (o->extracted < ELEMENTS_AHEAD && !o->timed_out)
      if (!g_cond_wait_until (&o->cond, &o->lock, deadline))
        o->timed_out = o->extracted < ELEMENTS_AHEAD;
    o->extracted_at_release = o->extracted;
  }
  g_mutex_unlock (&o->lock);
  return GST_PAD_PROBE_OK;
}

/* Runs the line with `sep`, the distiller held as above; fills `o`. */
static void
run_held (const gchar *sep, gint64 max_wait_us, Overlap *o)
{
  g_autofree gchar *path = g_build_filename (tmp_root, "held.safetensors", NULL);
  g_autofree gchar *desc = line (sep, path);
  GstElement *pipeline = parse (desc);
  memset (o, 0, sizeof *o);
  g_mutex_init (&o->lock);
  g_cond_init (&o->cond);
  o->max_wait_us = max_wait_us;
  GstElement *x = gst_bin_get_by_name (GST_BIN (pipeline), "x");
  GstElement *d = gst_bin_get_by_name (GST_BIN (pipeline), "d");
  GstPad *xsrc = gst_element_get_static_pad (x, "src");
  GstPad *dsink = gst_element_get_static_pad (d, "sink");
  gst_pad_add_probe (xsrc, GST_PAD_PROBE_TYPE_BUFFER, on_extracted, o, NULL);
  gst_pad_add_probe (dsink, GST_PAD_PROBE_TYPE_BUFFER, hold_first_buffer, o, NULL);
  g_autofree gchar *error = play_to_eos (pipeline, 180, NULL, NULL);
  fail_unless (error == NULL, "%s: %s", desc, error);
  fail_unless (o->held, "the distiller got no buffer");
  gst_object_unref (xsrc);
  gst_object_unref (dsink);
  gst_object_unref (x);
  gst_object_unref (d);
  gst_object_unref (pipeline);
  g_mutex_clear (&o->lock);
  g_cond_clear (&o->cond);
  g_unlink (path);
}

GST_START_TEST (test_extractor_runs_ahead)
{
  Overlap o;
  run_held (" ! queue ! ", 60 * G_USEC_PER_SEC, &o);
  fail_if (o.timed_out, "the extractor did not run ahead: %u buffer(s) extracted in 60 s "
      "while the distiller held its first", o.extracted_at_release);
  fail_unless (o.extracted_at_release >= ELEMENTS_AHEAD, "%u", o.extracted_at_release);
  GST_INFO ("%u buffers extracted while the distiller held its first", o.extracted_at_release);
}
GST_END_TEST;

/* The control: without queues the extractor waits for the distiller (one
 * thread), so the probe must time out with only the held buffer extracted.
 * The outcome does not depend on timing; the wait is only as long as it is. */
GST_START_TEST (test_no_overlap_without_queues)
{
  Overlap o;
  run_held (" ! ", G_USEC_PER_SEC / 2, &o);
  fail_unless (o.timed_out, "the extractor ran ahead without queues");
  fail_unless_equals_int (o.extracted_at_release, 1);
}
GST_END_TEST;

static Suite *
queue_suite (void)
{
  Suite *s = suite_create ("queue");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_same_result_with_queues);
  tcase_add_test (tc, test_learned_sampler_trains_with_queues);
  tcase_add_test (tc, test_extractor_runs_ahead);
  tcase_add_test (tc, test_no_overlap_without_queues);
  return s;
}

GST_CHECK_MAIN (queue);
