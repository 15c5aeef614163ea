/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmdistill-preview.c: ncfmdistill's preview stream: the stored images
 * as one RGB grid (one row per class, ipc columns, a 1-pixel dark gap around
 * every image), queued by the streaming thread and pushed on the src pad by
 * the pad's own task, which stamps each frame.  The task is what lets a sink
 * behind the src pad take frames while the distiller holds its streaming
 * thread (in preroll, or in a step); the NO_PREROLL of the state change is
 * what lets a sink that needs several frames to preroll (behind an encoder
 * with a lookahead) wait for PLAYING, when the steps make them. */
#include "gstncfmdistill-private.h"

#include <gst/video/video.h>
#include <string.h>

#define GST_CAT_DEFAULT gst_ncfm_distill_debug

#define GAP 1
#define GAP_VALUE 32

static void
grid_size (GstNcfmDistill *self, guint *width, guint *height)
{
  *width = self->s_ipc * (self->w + GAP) + GAP;
  *height = self->k * (self->h + GAP) + GAP;
}

/* The fixed caps of the frames, once the geometry is known (after start). */
static GstCaps *
preview_caps (GstNcfmDistill *self)
{
  guint width, height;
  grid_size (self, &width, &height);
  return gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGB",
      "width", G_TYPE_INT, (gint) width, "height", G_TYPE_INT, (gint) height,
      "framerate", GST_TYPE_FRACTION, self->s_preview_fps_n, self->s_preview_fps_d,
      "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
}

/* ---- the streaming thread's side ---- */

static GstBuffer *
render_grid (GstNcfmDistill *self, GstVideoInfo *info)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  memset (map.data, GAP_VALUE, map.size);
  const gsize stride = GST_VIDEO_INFO_PLANE_STRIDE (info, 0);
  const gsize hw = (gsize) self->h * self->w;
  const gsize per = (gsize) self->s_ipc * self->c * hw;
  g_autofree gfloat *host = g_new (gfloat, per);
  for (guint cls = 0; cls < self->k; cls++) {
    if (!ncfm_synset_holds_class (self->synset, cls))
      continue;   /* another class shard's: the row stays blank */
    ncfm_tensor_download (ncfm_synset_get_images (self->synset, cls), host, per * sizeof (gfloat));
    for (guint i = 0; i < self->s_ipc; i++) {
      const gfloat *im = host + (gsize) i * self->c * hw;
      for (guint y = 0; y < self->h; y++) {
        guint8 *row = map.data + (gsize) (cls * (self->h + GAP) + GAP + y) * stride
            + (gsize) (i * (self->w + GAP) + GAP) * 3;
        for (guint x = 0; x < self->w; x++) {
          for (guint ch = 0; ch < 3; ch++) {
            const gfloat v = im[(gsize) (self->c == 3 ? ch : 0) * hw + (gsize) y * self->w + x];
            row[x * 3 + ch] = (guint8) (CLAMP (v, 0.0f, 1.0f) * 255.0f + 0.5f);
          }
        }
      }
    }
  }
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_OFFSET (buf) = self->step;
  return buf;
}

/**
 * gst_ncfm_distill_queue_preview:
 * @self: the element, with its synthetic set in place
 *
 * Renders the stored images of the current step and queues them for the
 * src pad (replacing a frame not pushed yet), if the pad is linked.  Frames
 * carry no timestamp (a sink shows them as they come) and the step as
 * their offset.  Never blocks on downstream.
 */
void
gst_ncfm_distill_queue_preview (GstNcfmDistill *self)
{
  if (!self->synset || !gst_pad_is_linked (self->srcpad) || self->previewed_step == self->step)
    return;
  guint width, height;
  grid_size (self, &width, &height);
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, width, height);
  GstBuffer *buf = render_grid (self, &info);
  self->previewed_step = self->step;
  GST_LOG_OBJECT (self, "preview of step %" G_GUINT64_FORMAT, self->step);

  g_mutex_lock (&self->pv_lock);
  if (!self->pv_caps)
    self->pv_caps = preview_caps (self);
  gst_buffer_replace (&self->pv_buffer, NULL);
  self->pv_buffer = buf;
  g_cond_signal (&self->pv_cond);
  g_mutex_unlock (&self->pv_lock);
}

/**
 * gst_ncfm_distill_preview_eos:
 * @self: the element
 *
 * Ends the preview stream after the frame queued last (if the stream began).
 */
void
gst_ncfm_distill_preview_eos (GstNcfmDistill *self)
{
  g_mutex_lock (&self->pv_lock);
  self->pv_eos = TRUE;
  g_cond_signal (&self->pv_cond);
  g_mutex_unlock (&self->pv_lock);
}

/**
 * gst_ncfm_distill_preview_flush:
 * @self: the element
 * @event: flush-start or flush-stop, arriving on the sink pad
 *
 * Drops the queued frame and forwards the flush downstream.
 */
void
gst_ncfm_distill_preview_flush (GstNcfmDistill *self, GstEvent *event)
{
  g_mutex_lock (&self->pv_lock);
  gst_buffer_replace (&self->pv_buffer, NULL);
  self->pv_eos = FALSE;
  const gboolean started = self->pv_started;
  g_mutex_unlock (&self->pv_lock);
  if (started)
    gst_pad_push_event (self->srcpad, gst_event_ref (event));
}

/* ---- the src pad's task ---- */

/* The pipeline's running time now, or 0 without a clock (before PLAYING). */
static GstClockTime
running_time_now (GstNcfmDistill *self)
{
  g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (self));
  if (!clock || GST_STATE (self) != GST_STATE_PLAYING)
    return 0;
  const GstClockTime now = gst_clock_get_time (clock);
  const GstClockTime base = gst_element_get_base_time (GST_ELEMENT (self));
  return now > base ? now - base : 0;
}

/* Frame `index` of the preview-fps grid: its time. */
static GstClockTime
grid_time (GstNcfmDistill *self, guint64 index)
{
  return gst_util_uint64_scale (index, (guint64) self->s_preview_fps_d * GST_SECOND,
      (guint64) self->s_preview_fps_n);
}

/* Timestamps a frame on the preview-fps grid: the first at 0 (a sink
 * prerolls on it), then the later of one frame after the last and the
 * running time now (rounded up to the grid), so that a display sink never
 * finds a frame late and a recording faster than real time keeps every
 * frame, one frame apart. */
static void
stamp_frame (GstNcfmDistill *self, GstBuffer *buf)
{
  const guint64 now = gst_util_uint64_scale_ceil (running_time_now (self),
      (guint64) self->s_preview_fps_n, (guint64) self->s_preview_fps_d * GST_SECOND);
  const guint64 index = self->pv_next_frame ? MAX (self->pv_next_frame, now) : 0;
  GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = grid_time (self, index);
  GST_BUFFER_DURATION (buf) = grid_time (self, index + 1) - grid_time (self, index);
  self->pv_next_frame = index + 1;
}

static void
preview_loop (gpointer data)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (data);
  g_mutex_lock (&self->pv_lock);
  while (!self->pv_buffer && !self->pv_eos && !self->pv_flushing)
    g_cond_wait (&self->pv_cond, &self->pv_lock);
  if (self->pv_flushing) {
    g_mutex_unlock (&self->pv_lock);
    gst_pad_pause_task (self->srcpad);
    return;
  }
  GstBuffer *buf = g_steal_pointer (&self->pv_buffer);
  const gboolean eos = !buf && self->pv_eos;
  if (eos)
    self->pv_eos = FALSE;
  GstCaps *caps = buf && !self->pv_started ? gst_caps_ref (self->pv_caps) : NULL;
  const gboolean started = self->pv_started || buf;
  self->pv_started = started;
  g_mutex_unlock (&self->pv_lock);

  if (caps) {
    g_autofree gchar *id = gst_pad_create_stream_id (self->srcpad, GST_ELEMENT (self),
        "preview");
    GstEvent *start = gst_event_new_stream_start (id);
    gst_event_set_group_id (start, gst_util_group_id_next ());
    GstSegment segment;
    gst_segment_init (&segment, GST_FORMAT_TIME);
    gst_pad_push_event (self->srcpad, start);
    if (!gst_pad_push_event (self->srcpad, gst_event_new_caps (caps))) {
      g_autofree gchar *str = gst_caps_to_string (caps);
      GST_ELEMENT_WARNING (self, CORE, NEGOTIATION, ("The preview frames (%s) are not "
              "accepted downstream", str), ("src pad"));
    }
    gst_caps_unref (caps);
    gst_pad_push_event (self->srcpad, gst_event_new_segment (&segment));
  }
  if (buf) {
    stamp_frame (self, buf);
    const GstFlowReturn ret = gst_pad_push (self->srcpad, buf);
    if (ret != GST_FLOW_OK)
      GST_DEBUG_OBJECT (self, "preview push: %s", gst_flow_get_name (ret));
    /* the distillation goes on without its preview, but not silently */
    if (ret == GST_FLOW_NOT_NEGOTIATED && !self->pv_warned) {
      self->pv_warned = TRUE;
      g_autoptr (GstCaps) current = gst_pad_get_current_caps (self->srcpad);
      g_autofree gchar *str = current ? gst_caps_to_string (current) : NULL;
      GST_ELEMENT_WARNING (self, CORE, NEGOTIATION, ("The preview frames (%s) are not "
              "accepted downstream; the distillation goes on without them", str),
          ("src pad; an encoder or muxer may need larger frames (webmmux: 16x16 at least), "
              "more images per class make the grid wider"));
    }
  } else if (eos && started) {
    gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  }
}

static gboolean
preview_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode, gboolean active)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (parent);
  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  g_mutex_lock (&self->pv_lock);
  self->pv_flushing = !active;
  gst_buffer_replace (&self->pv_buffer, NULL);
  self->pv_eos = FALSE;
  self->pv_started = FALSE;
  self->pv_next_frame = 0;
  self->pv_warned = FALSE;
  g_clear_pointer (&self->pv_caps, gst_caps_unref);
  g_cond_signal (&self->pv_cond);
  g_mutex_unlock (&self->pv_lock);
  return active ? gst_pad_start_task (pad, preview_loop, self, NULL) : gst_pad_stop_task (pad);
}

/**
 * gst_ncfm_distill_preview_change_state:
 * @self: the element
 * @transition: the state change
 * @ret: what the base class returned for it
 *
 * With the src pad linked (and the base sink's async state changes turned
 * off for it), the change to PAUSED is NO_PREROLL, as for a live source: the
 * pipeline goes on to PLAYING, where the steps make the frames that a sink
 * behind the src pad may need to preroll.
 *
 * Returns: the state change's result
 */
GstStateChangeReturn
gst_ncfm_distill_preview_change_state (GstNcfmDistill *self, GstStateChange transition,
    GstStateChangeReturn ret)
{
  const gboolean to_paused = transition == GST_STATE_CHANGE_READY_TO_PAUSED
      || transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED;
  if (ret == GST_STATE_CHANGE_SUCCESS && to_paused && gst_pad_is_linked (self->srcpad)
      && !gst_base_sink_is_async_enabled (GST_BASE_SINK (self)))
    return GST_STATE_CHANGE_NO_PREROLL;
  return ret;
}

static gboolean
preview_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstNcfmDistill *self = GST_NCFM_DISTILL (parent);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter, *caps = self->k ? preview_caps (self)
          : gst_pad_get_pad_template_caps (pad);
      gst_query_parse_caps (query, &filter);
      if (filter) {
        GstCaps *x = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (caps);
        caps = x;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    case GST_QUERY_LATENCY:
      gst_query_set_latency (query, FALSE, 0, GST_CLOCK_TIME_NONE);
      return TRUE;
    default:
      /* nothing upstream of the previews answers for them */
      return FALSE;
  }
}

static gboolean
preview_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  (void) pad;
  (void) parent;
  /* QoS, navigation, reconfigure...: the previews follow the distillation */
  gst_event_unref (event);
  return TRUE;
}

/**
 * gst_ncfm_distill_preview_init:
 * @self: the element, in its instance init
 * @templ: the src pad template
 *
 * Creates and adds the src pad, with its task started on activation.
 */
void
gst_ncfm_distill_preview_init (GstNcfmDistill *self, GstStaticPadTemplate *templ)
{
  g_mutex_init (&self->pv_lock);
  g_cond_init (&self->pv_cond);
  self->srcpad = gst_pad_new_from_static_template (templ, "src");
  gst_pad_set_activatemode_function (self->srcpad, GST_DEBUG_FUNCPTR (preview_activate_mode));
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (preview_query));
  gst_pad_set_event_function (self->srcpad, GST_DEBUG_FUNCPTR (preview_event));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}

/**
 * gst_ncfm_distill_preview_finalize:
 * @self: the element, in its finalize
 */
void
gst_ncfm_distill_preview_finalize (GstNcfmDistill *self)
{
  gst_buffer_replace (&self->pv_buffer, NULL);
  g_clear_pointer (&self->pv_caps, gst_caps_unref);
  g_mutex_clear (&self->pv_lock);
  g_cond_clear (&self->pv_cond);
}
