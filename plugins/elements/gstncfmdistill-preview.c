/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmdistill-preview.c: ncfmdistill's preview frames: the stored images
 * as one RGB grid (one row per class, ipc columns, a 1-pixel dark gap around
 * every image), pushed on the src pad. */
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

/**
 * gst_ncfm_distill_preview_caps:
 * @self: the element, after start
 *
 * Returns: the fixed caps of the preview frames
 */
GstCaps *
gst_ncfm_distill_preview_caps (GstNcfmDistill *self)
{
  guint width, height;
  grid_size (self, &width, &height);
  return gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGB",
      "width", G_TYPE_INT, (gint) width, "height", G_TYPE_INT, (gint) height,
      "framerate", GST_TYPE_FRACTION, 0, 1,
      "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
}

static gboolean
start_stream (GstNcfmDistill *self, GstVideoInfo *info)
{
  g_autofree gchar *id = gst_pad_create_stream_id (self->srcpad, GST_ELEMENT (self), "preview");
  GstEvent *start = gst_event_new_stream_start (id);
  gst_event_set_group_id (start, gst_util_group_id_next ());
  g_autoptr (GstCaps) caps = gst_video_info_to_caps (info);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  if (!gst_pad_push_event (self->srcpad, start)
      || !gst_pad_push_event (self->srcpad, gst_event_new_caps (caps))) {
    g_autofree gchar *str = gst_caps_to_string (caps);
    GST_ELEMENT_WARNING (self, CORE, NEGOTIATION, ("The preview frames (%s) are not accepted "
            "downstream: no previews", str), ("src pad"));
    return FALSE;
  }
  gst_pad_push_event (self->srcpad, gst_event_new_segment (&segment));
  return TRUE;
}

/**
 * gst_ncfm_distill_push_preview:
 * @self: the element, with its synthetic set in place
 *
 * Renders the stored images and pushes them as one frame, if the src pad is
 * linked.  Frames carry no timestamp (a sink shows them as they come) and
 * the step as their offset.
 *
 * Returns: %GST_FLOW_OK: previews never stop the distillation; a
 *   downstream refusal is logged (a warning message when not negotiated)
 */
GstFlowReturn
gst_ncfm_distill_push_preview (GstNcfmDistill *self)
{
  if (!self->img || !gst_pad_is_linked (self->srcpad) || self->previewed_step == self->step)
    return GST_FLOW_OK;
  guint width, height;
  grid_size (self, &width, &height);
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, width, height);
  GST_VIDEO_INFO_FPS_N (&info) = 0;
  GST_VIDEO_INFO_FPS_D (&info) = 1;
  if (!self->preview_started) {
    self->preview_started = TRUE;
    if (!start_stream (self, &info)) {
      self->previewed_step = self->step;
      return GST_FLOW_OK;
    }
  }

  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  memset (map.data, GAP_VALUE, map.size);
  const gsize stride = GST_VIDEO_INFO_PLANE_STRIDE (&info, 0);
  const gsize hw = (gsize) self->h * self->w;
  const gsize per = (gsize) self->s_ipc * self->c * hw;
  g_autofree gfloat *host = g_new (gfloat, per);
  for (guint cls = 0; cls < self->k; cls++) {
    ncfm_tensor_download (self->img[cls], host, per * sizeof (gfloat));
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
  self->previewed_step = self->step;

  GST_LOG_OBJECT (self, "preview of step %" G_GUINT64_FORMAT, self->step);
  const GstFlowReturn ret = gst_pad_push (self->srcpad, buf);
  if (ret == GST_FLOW_NOT_NEGOTIATED) {
    GST_ELEMENT_WARNING (self, CORE, NEGOTIATION, ("The preview frames are not accepted "
            "downstream"), ("src pad: %s", gst_flow_get_name (ret)));
    return GST_FLOW_OK;
  }
  if (ret != GST_FLOW_OK)
    GST_DEBUG_OBJECT (self, "preview push: %s", gst_flow_get_name (ret));
  return GST_FLOW_OK;
}
