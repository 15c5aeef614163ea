/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* preview.c: ncfmdistill's preview is a real video stream: its frames,
 * encoded with vp8enc and muxed with webmmux, read back from the file as
 * frames on the preview-fps grid with increasing timestamps and the grid's
 * size; and a sink behind the preview that needs several frames before it
 * prerolls (as behind x264enc's lookahead) does not hang the pipeline. */
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>

#include "elements-test-util.h"

#define MIDDLE "ncfmaugment ! ncfmconvnet width=8 depth=1 ! ncfmcf num-freqs=64"
/* the grid of 10 classes of IPC images of IMG_H x IMG_W, a 1-pixel gap around each;
 * IPC makes it wide enough for webmmux (16 pixels at least) */
#define IPC 4
#define GRID_W (IPC * (IMG_W + 1) + 1)
#define GRID_H (10 * (IMG_H + 1) + 1)

static gchar *
distill_desc (const gchar *synset, const gchar *preview)
{
  return g_strdup_printf ("ncfmdatasetsrc location=%s batch-size=5 epochs=2 ! " MIDDLE
      " ! ncfmdistill name=d dataset=%s factor=1 location=%s ipc=%u "
      "preview-every=1 preview-fps=10/1 ! %s", idx_dir, idx_dir, synset, IPC, preview);
}

typedef struct {
  GArray *pts, *durations;
  gint width, height, fps_n, fps_d;
} Frames;

static void
on_decoded (GstElement *sink, GstBuffer *buf, GstPad *pad, gpointer data)
{
  Frames *f = data;
  (void) sink;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gst_structure_get_int (s, "width", &f->width);
  gst_structure_get_int (s, "height", &f->height);
  gst_structure_get_fraction (s, "framerate", &f->fps_n, &f->fps_d);
  const GstClockTime pts = GST_BUFFER_PTS (buf), duration = GST_BUFFER_DURATION (buf);
  g_array_append_val (f->pts, pts);
  g_array_append_val (f->durations, duration);
}

static void
count_steps (GstMessage *msg, gpointer data)
{
  const GstStructure *s = gst_message_get_structure (msg);
  if (s && gst_structure_has_name (s, "ncfm-progress"))
    (*(guint *) data)++;
}

GST_START_TEST (test_webm_round_trip)
{
  g_autofree gchar *synset = g_build_filename (tmp_root, "webm.safetensors", NULL);
  g_autofree gchar *webm = g_build_filename (tmp_root, "preview.webm", NULL);
  g_autofree gchar *mux = g_strdup_printf ("videoconvert ! vp8enc deadline=1 ! webmmux ! "
      "filesink location=%s", webm);
  g_autofree gchar *desc = distill_desc (synset, mux);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL, "%s", desc);
  guint steps = 0;
  g_autofree gchar *error = play_to_eos (pipeline, 120, count_steps, &steps);
  fail_unless (error == NULL, "%s", error);
  gst_object_unref (pipeline);

  /* read back: every frame decodes, on the 10/1 grid, in order */
  g_autofree gchar *read = g_strdup_printf ("filesrc location=%s ! matroskademux ! vp8dec ! "
      "fakesink name=sink signal-handoffs=true", webm);
  pipeline = gst_parse_launch (read, NULL);
  fail_unless (pipeline != NULL, "%s", read);
  Frames f = { g_array_new (FALSE, FALSE, sizeof (GstClockTime)),
    g_array_new (FALSE, FALSE, sizeof (GstClockTime)), 0, 0, 0, 0 };
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_decoded), &f);
  gst_object_unref (sink);
  g_autofree gchar *read_error = play_to_eos (pipeline, 60, NULL, NULL);
  fail_unless (read_error == NULL, "%s", read_error);
  gst_object_unref (pipeline);

  /* a frame per step and one for the first buffer, fewer when the distiller replaced a
   * frame the encoder had not taken yet: on a loaded machine (the whole suite in
   * parallel) that can be every middle frame, so only the first and the last are sure */
  GST_INFO ("%u frames in %s for %u steps", f.pts->len, webm, steps);
  fail_unless (steps >= 4);
  fail_unless (f.pts->len >= 2 && f.pts->len <= steps + 1, "%u frames for %u steps",
      f.pts->len, steps);
  fail_unless_equals_int (f.width, GRID_W);
  fail_unless_equals_int (f.height, GRID_H);
  fail_unless (f.fps_n == 10 && f.fps_d == 1, "framerate %d/%d", f.fps_n, f.fps_d);
  const GstClockTime frame = GST_SECOND / 10;
  fail_unless_equals_uint64 (g_array_index (f.pts, GstClockTime, 0), 0);
  for (guint i = 0; i < f.pts->len; i++) {
    const GstClockTime pts = g_array_index (f.pts, GstClockTime, i);
    fail_unless (GST_CLOCK_TIME_IS_VALID (pts), "frame %u has no timestamp", i);
    fail_unless (pts % frame == 0, "frame %u at %" GST_TIME_FORMAT ", off the 10/1 grid", i,
        GST_TIME_ARGS (pts));
    fail_unless (i == 0 || pts > g_array_index (f.pts, GstClockTime, i - 1),
        "frame %u at %" GST_TIME_FORMAT " is not after the one before", i, GST_TIME_ARGS (pts));
    /* the last frame's duration is the muxer's to say */
    if (i + 1 < f.pts->len)
      fail_unless_equals_uint64 (g_array_index (f.durations, GstClockTime, i), frame);
  }
  g_array_unref (f.pts);
  g_array_unref (f.durations);
  g_unlink (webm);
  g_unlink (synset);
}
GST_END_TEST;

/* Drops the first three preview frames, as an encoder with a lookahead holds them back. */
static GstPadProbeReturn
hold_back (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  guint *seen = data;
  (void) pad;
  (void) info;
  return (*seen)++ < 3 ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

GST_START_TEST (test_sink_needs_frames_to_preroll)
{
  g_autofree gchar *synset = g_build_filename (tmp_root, "preroll.safetensors", NULL);
  g_autofree gchar *desc = distill_desc (synset, "fakesink name=pv");
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL, "%s", desc);
  GstElement *pv = gst_bin_get_by_name (GST_BIN (pipeline), "pv");
  GstPad *pad = gst_element_get_static_pad (pv, "sink");
  guint seen = 0;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, hold_back, &seen, NULL);
  gst_object_unref (pad);
  gst_object_unref (pv);
  /* a live-like answer: the pipeline does not wait for the preview sink in PAUSED */
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PAUSED),
      GST_STATE_CHANGE_NO_PREROLL);
  g_autofree gchar *error = play_to_eos (pipeline, 60, NULL, NULL);
  fail_unless (error == NULL, "%s", error);
  fail_unless (seen > 3, "%u preview frames", seen);
  gst_object_unref (pipeline);
  g_unlink (synset);
}
GST_END_TEST;

static Suite *
preview_suite (void)
{
  Suite *s = suite_create ("ncfmdistill-preview");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_webm_round_trip);
  tcase_add_test (tc, test_sink_needs_frames_to_preroll);
  return s;
}

GST_CHECK_MAIN (preview);
