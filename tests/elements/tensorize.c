/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tensorize.c: ncfmtensorize with the plugin loaded, behind videotestsrc and
 * videoconvert (copied next to the test): solid colours in every packed
 * format against (v - mean) / std, batch shapes, labels, metas, timestamps and
 * the partial batch at EOS; regions of interest through a GstHarness on a
 * painted frame (crops, clipping, label mapping, unknown types skipped,
 * aspect-crop, roi-only) and through videoconvert from a probe standing in for
 * a detector; bad
 * properties; state cycles; and the whole chain into ncfmdistill on the tiny
 * IDX dataset, where only the class of the label may change. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <ncfm.h>

#include "elements-test-util.h"
#include "gstncfmmeta.h" /* the NcfmBatchMeta struct; its functions live in the plugin */

/* the BT.601 luma weights the element documents */
#define LUMA_R 0.299
#define LUMA_G 0.587
#define LUMA_B 0.114
#define TOLERANCE 1e-5

static NcfmBatchMeta *
batch_meta (GstBuffer *buf)
{
  GType api = g_type_from_name ("NcfmBatchMetaAPI");
  fail_unless (api != 0);
  return (NcfmBatchMeta *) gst_buffer_get_meta (buf, api);
}

/* Memory `index` of a batch, copied out through a host map (as any element would). */
static gpointer
dup_memory (GstBuffer *buf, guint index, gsize *size)
{
  GstMapInfo map;
  GstMemory *mem = gst_buffer_peek_memory (buf, index);
  fail_unless (gst_memory_is_type (mem, "NcfmTensor"));
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  gpointer copy = g_memdup2 (map.data, map.size);
  *size = map.size;
  gst_memory_unmap (mem, &map);
  return copy;
}

/* Runs a pipeline made already (taken: unreffed at the end), its appsink named
 * "sink", to EOS; returns the batches pulled, and the caps of the first in *caps. */
static GPtrArray *
pull_to_eos (GstElement *pipeline, const gchar *desc, GstCaps **caps)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE,
      "%s", desc);
  for (;;) {
    GstSample *sample = NULL;
    g_signal_emit_by_name (sink, "try-pull-sample", 60 * GST_SECOND, &sample);
    if (!sample)
      break;
    if (caps && !*caps)
      *caps = gst_caps_ref (gst_sample_get_caps (sample));
    g_ptr_array_add (out, gst_buffer_ref (gst_sample_get_buffer (sample)));
    gst_sample_unref (sample);
  }
  gboolean eos = FALSE;
  g_object_get (sink, "eos", &eos, NULL);
  fail_unless (eos, "%s: no EOS", desc);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return out;
}

/* Runs `desc` (its appsink named "sink") to EOS or error; returns the batches
 * pulled, and the caps of the first one in *caps. */
static GPtrArray *
run_to_eos (const gchar *desc, GstCaps **caps)
{
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  return pull_to_eos (pipeline, desc, caps);
}

typedef struct {
  const gchar *pattern, *format;  /* videotestsrc pattern, the format it sends (NULL: any) */
  const gchar *convert;           /* the format videoconvert makes of it (NULL: its choice) */
  const gchar *props;             /* ncfmtensorize properties besides the common ones */
  guint channels;
  gdouble pixel[3];               /* the colour in [0, 1] after the grey mix */
  gdouble mean[3], std[3];
} SolidCase;

static const SolidCase solid_cases[] = {
  { "white", NULL, NULL, "channels=1 mean=0.25 std=0.5", 1, { 1 }, { 0.25 }, { 0.5 } },
  { "white", "RGB", "GRAY8", "channels=3", 3, { 1, 1, 1 }, { 0, 0, 0 }, { 1, 1, 1 } },
  { "black", "BGRx", NULL, "channels=3 dataset=cifar10", 3, { 0, 0, 0 },
    { 0.4914, 0.4822, 0.4465 }, { 0.2023, 0.1994, 0.2010 } },
  { "red", "RGB", NULL, "channels=1 dataset=fashion-mnist", 1, { LUMA_R }, { 0.2861 }, { 0.3530 } },
  { "red", "xRGB", NULL, "channels=3 mean=0.5,0.5,0.5 std=0.25,0.25,0.25", 3, { 1, 0, 0 },
    { 0.5, 0.5, 0.5 }, { 0.25, 0.25, 0.25 } },
  { "red", "BGR", NULL, "channels=3 dataset=imagenet", 3, { 1, 0, 0 }, { 0.485, 0.456, 0.406 },
    { 0.229, 0.224, 0.225 } },
  { "green", "ABGR", NULL, "channels=1 dataset=mnist", 1, { LUMA_G }, { 0.1307 }, { 0.3081 } },
  { "blue", "BGRA", NULL, "channels=1", 1, { LUMA_B }, { 0 }, { 1 } },
  { "blue", "RGBA", NULL, "channels=3", 3, { 0, 0, 1 }, { 0, 0, 0 }, { 1, 1, 1 } },
  { "white", "xBGR", NULL, "channels=1 std=2", 1, { 1 }, { 0 }, { 2 } },
};

/* 10 frames of 40x30 at 30 fps, batches of 4: 4 + 4 + a partial 2 at EOS */
GST_START_TEST (test_solid_colours)
{
  for (guint t = 0; t < G_N_ELEMENTS (solid_cases); t++) {
    const SolidCase *sc = &solid_cases[t];
    g_autofree gchar *desc = g_strdup_printf ("videotestsrc num-buffers=10 pattern=%s ! "
        "video/x-raw,width=40,height=30,framerate=30/1%s%s ! videoconvert ! video/x-raw%s%s ! "
        "ncfmtensorize label=3 batch-size=4 width=28 height=28 %s ! appsink name=sink "
        "sync=false", sc->pattern, sc->format ? ",format=" : "", sc->format ? sc->format : "",
        sc->convert ? ",format=" : "", sc->convert ? sc->convert : "", sc->props);
    GstCaps *caps = NULL;
    g_autoptr (GPtrArray) batches = run_to_eos (desc, &caps);
    fail_unless_equals_int (batches->len, 3);
    const GstStructure *s = gst_caps_get_structure (caps, 0);
    g_autofree gchar *dims = g_strdup_printf ("28:28:%u:4,4", sc->channels);
    fail_unless (gst_structure_has_name (s, "other/tensors"));
    fail_unless_equals_string (gst_structure_get_string (s, "dimensions"), dims);
    fail_unless_equals_string (gst_structure_get_string (s, "types"), "float32,int32");
    gst_caps_unref (caps);

    const guint sizes[] = { 4, 4, 2 }, last_frame[] = { 3, 7, 9 };
    const gsize chw = (gsize) sc->channels * 28 * 28;
    for (guint k = 0; k < 3; k++) {
      GstBuffer *buf = g_ptr_array_index (batches, k);
      fail_unless_equals_int (gst_buffer_n_memory (buf), 2);
      fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), k);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (buf),
          gst_util_uint64_scale (last_frame[k], GST_SECOND, 30));
      gsize n_x, n_y;
      g_autofree gfloat *x = dup_memory (buf, 0, &n_x);
      g_autofree gint32 *y = dup_memory (buf, 1, &n_y);
      fail_unless_equals_int (n_x, sizes[k] * chw * sizeof (gfloat));
      fail_unless_equals_int (n_y, sizes[k] * sizeof (gint32));
      for (guint i = 0; i < sizes[k]; i++)
        fail_unless_equals_int (y[i], 3);
      for (gsize p = 0; p < sizes[k] * chw; p++) {
        const guint ch = (p / (28 * 28)) % sc->channels;
        const gdouble want = (sc->pixel[ch] - sc->mean[ch]) / sc->std[ch];
        fail_unless (fabs (x[p] - want) <= TOLERANCE, "%s: batch %u value %" G_GSIZE_FORMAT
            " (channel %u) is %.7f, expected %.7f", desc, k, p, ch, x[p], want);
      }
      NcfmBatchMeta *meta = batch_meta (buf);
      fail_unless (meta != NULL);
      fail_unless_equals_int (meta->num_classes, 10);
      fail_unless_equals_string (meta->class_names[3], "3");
      fail_unless_equals_int (meta->channels, sc->channels);
      fail_unless_equals_int (meta->class_id, 3);
      fail_unless_equals_uint64 (meta->position, k);
      for (guint ch = 0; ch < sc->channels; ch++) {
        fail_unless (fabs (meta->mean[ch] - sc->mean[ch]) < 1e-7);
        fail_unless (fabs (meta->std[ch] - sc->std[ch]) < 1e-7);
      }
    }
  }
}
GST_END_TEST;

GST_START_TEST (test_drop_partial)
{
  g_autoptr (GPtrArray) batches = run_to_eos ("videotestsrc num-buffers=10 ! videoconvert ! "
      "ncfmtensorize batch-size=4 width=8 height=8 drop-partial=true ! appsink name=sink "
      "sync=false", NULL);
  fail_unless_equals_int (batches->len, 2);
  g_autoptr (GPtrArray) exact = run_to_eos ("videotestsrc num-buffers=8 ! videoconvert ! "
      "ncfmtensorize batch-size=4 width=8 height=8 ! appsink name=sink sync=false", NULL);
  fail_unless_equals_int (exact->len, 2);
}
GST_END_TEST;

/* ---- regions of interest, through a harness on a painted RGBx frame ---- */

#define FW 16
#define FH 12

static guint8
paint (guint x, guint y, guint ch)
{
  switch (ch) {
    case 0: return (guint8) (10 * x + y);
    case 1: return (guint8) (20 * y);
    default: return (guint8) ((x * y + 3 * x) % 256);
  }
}

static GstBuffer *
painted_frame (guint index)
{
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGBx, FW, FH);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  GstVideoFrame frame;
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (guint y = 0; y < FH; y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
    for (guint x = 0; x < FW; x++) {
      for (guint ch = 0; ch < 3; ch++)
        row[4 * x + ch] = paint (x, y, ch);
      row[4 * x + 3] = 0xa5;  /* padding: must not show */
    }
  }
  gst_video_frame_unmap (&frame);
  GST_BUFFER_PTS (buf) = index * GST_SECOND / 30;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
  return buf;
}

/* The 4x3 sample of a region (x0, y0) scaled down by `f` (1, 2 or 4) with
 * align_corners=False bilinear: at an integer factor each output pixel is
 * the mean of the middle two source pixels (f > 1) along each axis. */
static gdouble
expected (guint x0, guint y0, guint f, guint i, guint j, guint ch)
{
  if (f == 1)
    return paint (x0 + j, y0 + i, ch) / 255.0;
  const guint a = f / 2 - 1;
  gdouble sum = 0;
  for (guint dy = 0; dy < 2; dy++)
    for (guint dx = 0; dx < 2; dx++)
      sum += paint (x0 + f * j + a + dx, y0 + f * i + a + dy, ch);
  return sum / 4 / 255.0;
}

static void
check_sample (const gfloat *x, guint sample, guint x0, guint y0, guint f)
{
  for (guint ch = 0; ch < 3; ch++)
    for (guint i = 0; i < 3; i++)
      for (guint j = 0; j < 4; j++) {
        const gfloat v = x[((sample * 3 + ch) * 3 + i) * 4 + j];
        const gdouble want = expected (x0, y0, f, i, j, ch);
        fail_unless (fabs (v - want) <= TOLERANCE, "sample %u channel %u pixel (%u, %u): %.7f, "
            "expected %.7f", sample, ch, i, j, v, want);
      }
}

/* A harness around ncfmtensorize with class-names cat,dog, 4x3 RGB out, and
 * the properties given (name, value pairs, NULL-terminated). */
static GstHarness *
roi_harness (const gchar *first, ...)
{
  GstElement *e = gst_element_factory_make ("ncfmtensorize", NULL);
  fail_unless (e != NULL);
  g_object_set (e, "class-names", "cat,dog", "width", 4, "height", 3, "batch-size", 3, NULL);
  va_list ap;
  va_start (ap, first);
  for (const gchar *name = first; name; name = va_arg (ap, const gchar *))
    gst_util_set_object_arg (G_OBJECT (e), name, va_arg (ap, const gchar *));
  va_end (ap);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGBx,width=16,height=12,"
      "framerate=30/1");
  return h;
}

GST_START_TEST (test_regions)
{
  GstHarness *h = roi_harness (NULL);
  /* frame 0: "dog" at its output size, a type outside class-names, "cat" at twice it */
  GstBuffer *f0 = painted_frame (0);
  gst_buffer_add_video_region_of_interest_meta (f0, "dog", 2, 1, 4, 3);
  gst_buffer_add_video_region_of_interest_meta (f0, "bird", 0, 0, 8, 6);
  gst_buffer_add_video_region_of_interest_meta (f0, "cat", 8, 4, 8, 6);
  fail_unless_equals_int (gst_harness_push (h, f0), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  /* frame 1: "Cat" (names match case-insensitively) hanging over the corner, clipped to
   * 4x3; one wholly outside the frame */
  GstBuffer *f1 = painted_frame (1);
  gst_buffer_add_video_region_of_interest_meta (f1, "Cat", 12, 9, 8, 6);
  gst_buffer_add_video_region_of_interest_meta (f1, "dog", 20, 0, 4, 3);
  fail_unless_equals_int (gst_harness_push (h, f1), GST_FLOW_OK);

  GstBuffer *b0 = gst_harness_pull (h);
  gsize n;
  g_autofree gfloat *x = dup_memory (b0, 0, &n);
  g_autofree gint32 *y = dup_memory (b0, 1, &n);
  fail_unless_equals_int (n, 3 * sizeof (gint32));
  fail_unless (y[0] == 1 && y[1] == 0 && y[2] == 0, "labels %d %d %d", y[0], y[1], y[2]);
  check_sample (x, 0, 2, 1, 1);
  check_sample (x, 1, 8, 4, 2);
  check_sample (x, 2, 12, 9, 1);
  NcfmBatchMeta *meta = batch_meta (b0);
  fail_unless_equals_int (meta->num_classes, 2);
  fail_unless_equals_string (meta->class_names[1], "dog");
  fail_unless_equals_int (meta->class_id, -1);  /* mixed labels */
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b0), GST_SECOND / 30);
  gst_buffer_unref (b0);
  guint64 skipped = 0;
  g_object_get (h->element, "rois-skipped", &skipped, NULL);
  fail_unless_equals_uint64 (skipped, 2);

  /* frame 2 has no regions: the whole frame, 4x smaller, with label (0); EOS
   * pushes it as a batch of one */
  fail_unless_equals_int (gst_harness_push (h, painted_frame (2)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_received (h), 1);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  GstBuffer *b1 = gst_harness_pull (h);
  g_autofree gfloat *x1 = dup_memory (b1, 0, &n);
  fail_unless_equals_int (n, 3 * 3 * 4 * sizeof (gfloat));
  check_sample (x1, 0, 0, 0, 4);
  fail_unless_equals_int (batch_meta (b1)->class_id, 0);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b1), 1);
  gst_buffer_unref (b1);
  gst_harness_teardown (h);
}
GST_END_TEST;

GST_START_TEST (test_regions_off)
{
  GstHarness *h = roi_harness ("use-roi", "false", "batch-size", "1", "label", "1", NULL);
  GstBuffer *f0 = painted_frame (0);
  gst_buffer_add_video_region_of_interest_meta (f0, "cat", 8, 4, 8, 6);
  GstBuffer *b = gst_harness_push_and_pull (h, f0);
  gsize n;
  g_autofree gfloat *x = dup_memory (b, 0, &n);
  g_autofree gint32 *y = dup_memory (b, 1, &n);
  fail_unless_equals_int (y[0], 1);
  check_sample (x, 0, 0, 0, 4);
  gst_buffer_unref (b);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Samples x [C=3, out_h, out_w] against the frame's region (x0, y0) scaled down by f. */
static void
check_scaled (const gfloat *x, guint out_w, guint out_h, guint x0, guint y0, guint f)
{
  for (guint ch = 0; ch < 3; ch++)
    for (guint i = 0; i < out_h; i++)
      for (guint j = 0; j < out_w; j++) {
        const gfloat v = x[(ch * out_h + i) * out_w + j];
        const gdouble want = expected (x0, y0, f, i, j, ch);
        fail_unless (fabs (v - want) <= TOLERANCE, "%ux%u from (%u, %u): channel %u pixel "
            "(%u, %u): %.7f, expected %.7f", out_w, out_h, x0, y0, ch, i, j, v, want);
      }
}

/* aspect-crop: the 16x12 frame's centre at 2:1 (16x8 from y 2) and at 2:3 (8x12 from
 * x 4), each 4 times larger than the output; regions ignored with use-roi off */
GST_START_TEST (test_aspect_crop)
{
  const struct { const gchar *w, *h; guint out_w, out_h, x0, y0; } cases[] = {
    { "4", "2", 4, 2, 0, 2 },
    { "2", "3", 2, 3, 4, 0 },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    GstHarness *h = roi_harness ("use-roi", "false", "aspect-crop", "true", "batch-size", "1",
        "width", cases[c].w, "height", cases[c].h, NULL);
    GstBuffer *f0 = painted_frame (0);
    gst_buffer_add_video_region_of_interest_meta (f0, "cat", 8, 4, 8, 6);
    GstBuffer *b = gst_harness_push_and_pull (h, f0);
    gsize n;
    g_autofree gfloat *x = dup_memory (b, 0, &n);
    fail_unless_equals_int (n, 3 * cases[c].out_w * cases[c].out_h * sizeof (gfloat));
    check_scaled (x, cases[c].out_w, cases[c].out_h, cases[c].x0, cases[c].y0, 4);
    gst_buffer_unref (b);
    gst_harness_teardown (h);
  }
}
GST_END_TEST;

/* roi-only: a frame without regions gives no sample (counted), one with a region of any
 * type gives its crop, unlabeled */
GST_START_TEST (test_roi_only)
{
  GstHarness *h = roi_harness ("roi-only", "true", "unlabeled", "true", "aspect-crop", "true",
      "batch-size", "1", NULL);
  fail_unless_equals_int (gst_harness_push (h, painted_frame (0)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_received (h), 0);
  GstBuffer *f1 = painted_frame (1);
  gst_buffer_add_video_region_of_interest_meta (f1, "face", 8, 4, 8, 6);
  GstBuffer *b = gst_harness_push_and_pull (h, f1);
  gsize n;
  g_autofree gfloat *x = dup_memory (b, 0, &n);
  g_autofree gint32 *y = dup_memory (b, 1, &n);
  fail_unless_equals_int (y[0], -1);
  check_sample (x, 0, 8, 4, 2);
  gst_buffer_unref (b);
  guint64 frames = 0, rois = 0;
  g_object_get (h->element, "frames-skipped", &frames, "rois-skipped", &rois, NULL);
  fail_unless_equals_uint64 (frames, 1);
  fail_unless_equals_uint64 (rois, 0);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* A detector's stand-in: a region of interest on every second frame. */
static GstPadProbeReturn
detect_every_second (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  guint *frames = data;
  (void) pad;
  if ((*frames)++ % 2)
    return GST_PAD_PROBE_OK;
  GstBuffer *buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  gst_buffer_add_video_region_of_interest_meta (buf, "face", 16, 12, 32, 24);
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

/* The line of pipelines/camera.sh --roi: the metas a detector attaches to I420 frames
 * survive videoconvert (an aspectratiocrop there loses them), and only those frames
 * give samples. */
GST_START_TEST (test_detector_regions_through_videoconvert)
{
  const gchar *desc = "videotestsrc num-buffers=8 pattern=ball ! "
      "video/x-raw,format=I420,width=64,height=48 ! identity name=detector ! videoconvert ! "
      "ncfmtensorize name=t roi-only=true unlabeled=true aspect-crop=true width=4 height=3 "
      "channels=3 batch-size=1 ! appsink name=sink sync=false";
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  GstElement *detector = gst_bin_get_by_name (GST_BIN (pipeline), "detector");
  GstElement *t = gst_bin_get_by_name (GST_BIN (pipeline), "t");
  GstPad *pad = gst_element_get_static_pad (detector, "src");
  guint frames = 0;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, detect_every_second, &frames, NULL);
  gst_object_unref (pad);
  gst_object_unref (detector);
  g_autoptr (GPtrArray) batches = pull_to_eos (pipeline, desc, NULL);
  fail_unless_equals_int (frames, 8);
  fail_unless_equals_int (batches->len, 4);
  guint64 skipped = 0;
  g_object_get (t, "frames-skipped", &skipped, NULL);
  fail_unless_equals_uint64 (skipped, 4);
  gst_object_unref (t);
}
GST_END_TEST;

/* ---- settings errors: the change to PAUSED fails with the property named ---- */

static const struct {
  const gchar *props, *named;
} bad_cases[] = {
  { "label=10", "label" },
  { "classes=3 label=3", "label" },
  { "class-names=a,b label=2", "label" },
  { "channels=2", "channels" },
  { "channels=3 mean=0.5", "mean" },
  { "channels=1 mean=zero", "mean" },
  { "channels=1 std=0", "std" },
  { "channels=3 std=1,1,-1", "std" },
  { "channels=1 dataset=cifar10", "dataset" },
  { "class-names=a,,b", "class-names" },
  { "class-names=a,b,A", "class-names" },
  { "class-names=a,b classes=3", "class-names" },
  { "device=cuda:99", "device" },
  { "use-roi=false roi-only=true", "roi-only" },
};

GST_START_TEST (test_bad_properties)
{
  for (guint t = 0; t < G_N_ELEMENTS (bad_cases); t++) {
    g_autofree gchar *desc = g_strdup_printf ("videotestsrc num-buffers=2 ! videoconvert ! "
        "ncfmtensorize %s ! fakesink", bad_cases[t].props);
    GError *err = NULL;
    GstElement *pipeline = gst_parse_launch (desc, &err);
    fail_unless (pipeline != NULL && err == NULL, "%s", desc);
    GstBus *bus = gst_element_get_bus (pipeline);
    gst_element_set_state (pipeline, GST_STATE_PAUSED);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_ASYNC_DONE);
    fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR, "%s: no error",
        desc);
    GError *e = NULL;
    gst_message_parse_error (msg, &e, NULL);
    fail_unless (strstr (e->message, bad_cases[t].named) != NULL, "%s: \"%s\" does not name %s",
        desc, e->message, bad_cases[t].named);
    GST_INFO ("%s: %s", bad_cases[t].props, e->message);
    g_error_free (e);
    gst_message_unref (msg);
    fail_unless_equals_int (gst_element_get_state (pipeline, NULL, NULL, 0),
        GST_STATE_CHANGE_FAILURE);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (bus);
    gst_object_unref (pipeline);
  }
}
GST_END_TEST;

/* the same pipeline, played to EOS and stopped again: a fresh batch numbering each time */
GST_START_TEST (test_state_cycles)
{
  GstElement *pipeline = gst_parse_launch ("videotestsrc num-buffers=6 ! videoconvert ! "
      "ncfmtensorize batch-size=4 width=8 height=8 ! fakesink name=sink", NULL);
  fail_unless (pipeline != NULL);
  GstBus *bus = gst_element_get_bus (pipeline);
  for (guint round = 0; round < 3; round++) {
    fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING)
        != GST_STATE_CHANGE_FAILURE);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "round %u", round);
    gst_message_unref (msg);
    GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
    GstSample *last = NULL;
    g_object_get (sink, "last-sample", &last, NULL);
    fail_unless (last != NULL);
    /* 6 frames: a batch of 4, then the partial one of 2, numbered from 0 again */
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (gst_sample_get_buffer (last)), 1);
    fail_unless_equals_int (gst_buffer_peek_memory (gst_sample_get_buffer (last), 1)->size,
        2 * sizeof (gint32));
    gst_sample_unref (last);
    gst_object_unref (sink);
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
  }
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* ---- the whole chain: video frames of one label distilled ---- */

static void
count_progress (GstMessage *msg, gpointer data)
{
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_structure_has_name (gst_message_get_structure (msg), "ncfm-progress"))
    (*(guint *) data)++;
}

GST_START_TEST (test_distill_from_video)
{
  g_autofree gchar *path = g_build_filename (tmp_root, "video.safetensors", NULL);
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc num-buffers=24 pattern=ball ! "
      "video/x-raw,width=32,height=24 ! videoconvert ! ncfmtensorize label=3 classes=10 "
      "width=%u height=%u channels=1 batch-size=4 dataset=fashion-mnist ! ncfmaugment ! "
      "ncfmconvnet width=8 depth=1 ! ncfmcf num-freqs=64 ! ncfmdistill location=%s "
      "dataset=%s ipc=1 factor=1 init=real save-every=0", IMG_W, IMG_H, path, idx_dir);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL, "%s", desc);
  guint steps = 0;
  g_autofree gchar *failure = play_to_eos (pipeline, 120, count_progress, &steps);
  fail_unless (failure == NULL, "%s", failure);
  gst_object_unref (pipeline);
  fail_unless_equals_int (steps, 24 / 4);

  /* the starting point ncfmdistill took (init=real, seed 0), against what it saved */
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", &error);
  g_autoptr (NcfmDataset) ds = ncfm_dataset_load (idx_dir, NCFM_DATASET_FORMAT_AUTO, "train",
      0, NCFM_DATASET_FLAGS_NO_CACHE, NULL, &error);
  fail_unless (ds != NULL, "%s", error ? error->message : "");
  g_autoptr (NcfmTensor) init = NULL, init_labels = NULL;
  fail_unless (ncfm_multiformation_init (ds, 1, 1, NCFM_SYNSET_INIT_REAL, 0, cpu, &init,
          &init_labels, &error), "%s", error ? error->message : "");
  const gsize per = IMG_H * IMG_W;
  g_autofree gfloat *before = g_new (gfloat, 10 * per);
  ncfm_tensor_download (init, before, 10 * per * sizeof (gfloat));
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  fail_unless (st != NULL, "%s", error ? error->message : "");
  gsize n = 0;
  g_autofree gfloat *after = ncfm_safetensors_dup_f32 (st, "images", &n, &error);
  fail_unless (after != NULL && n == 10 * per);
  for (guint c = 0; c < 10; c++) {
    const gboolean same = memcmp (before + c * per, after + c * per, per * sizeof (gfloat)) == 0;
    fail_unless (same == (c != 3), "class %u %s", c, same ? "did not change" : "changed");
  }
  g_unlink (path);
}
GST_END_TEST;

static Suite *
tensorize_suite (void)
{
  Suite *s = suite_create ("ncfmtensorize");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_solid_colours);
  tcase_add_test (tc, test_drop_partial);
  tcase_add_test (tc, test_regions);
  tcase_add_test (tc, test_regions_off);
  tcase_add_test (tc, test_aspect_crop);
  tcase_add_test (tc, test_roi_only);
  tcase_add_test (tc, test_detector_regions_through_videoconvert);
  tcase_add_test (tc, test_bad_properties);
  tcase_add_test (tc, test_state_cycles);
  tcase_add_test (tc, test_distill_from_video);
  return s;
}

GST_CHECK_MAIN (tensorize);
