/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmgather-task.c: ncfmgather's source pad task: it waits for a class
 * that is ready (ncfm_reservoir_next_ready), draws its batch under the lock,
 * and makes and pushes the buffer outside it, so the sink side never waits
 * for downstream.  At EOS: one last batch per class with new images, the
 * reservoir saved, then EOS. */
#include "gstncfmgather-private.h"

#include "gstncfmmeta.h"
#include "gstncfmtensormemory.h"

#define GST_CAT_DEFAULT gst_ncfm_gather_debug

/* Posts the statistics (under the lock); `force`: also within a second of the last. */
void
gst_ncfm_gather_post_stats (GstNcfmGather *self, gboolean force)
{
  GstStructure *s = gst_ncfm_gather_stats_report (&self->stats, self->reservoir,
      GST_ELEMENT (self), force);
  if (s)
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

/* Saves the reservoir to location if it changed; posts a warning when that fails. */
void
gst_ncfm_gather_save_reservoir (GstNcfmGather *self)
{
  g_autoptr (GError) error = NULL;
  g_mutex_lock (&self->lock);
  g_autoptr (NcfmReservoir) r = self->reservoir && self->dirty && self->s_location
      ? g_object_ref (self->reservoir) : NULL;
  if (r && ncfm_reservoir_save (r, self->s_location, &error))
    self->dirty = FALSE;
  g_mutex_unlock (&self->lock);
  if (error)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("Cannot save the reservoir to %s (property "
            "location): %s", self->s_location, error->message), (NULL));
  else if (r)
    GST_INFO_OBJECT (self, "reservoir saved to %s", self->s_location);
}

/* Batch of class `cls` with the images drawn into batch_images, as a buffer on dev. */
static GstBuffer *
make_batch (GstNcfmGather *self, guint cls, guint n, GstClockTime pts, GError **error)
{
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->dev);
  const gint64 shape[4] = { n, self->c, self->h, self->w };
  const gint64 lshape[1] = { n };
  g_autofree gint32 *labels = g_new (gint32, n);
  for (guint i = 0; i < n; i++)
    labels[i] = (gint32) cls;
  g_autoptr (NcfmTensor) images = ncfm_tensor_new_from_data (self->dev, NCFM_DTYPE_F32, shape,
      4, (const guint8 *) self->batch_images, (gsize) n * self->c * self->h * self->w
      * sizeof (gfloat), error);
  g_autoptr (NcfmTensor) lt = images ? ncfm_tensor_new_from_data (self->dev, NCFM_DTYPE_I32,
      lshape, 1, (const guint8 *) labels, n * sizeof (gint32), error) : NULL;
  if (!lt)
    return NULL;
  /* consumers run on their own streams: the batch must be complete when pushed */
  ncfm_device_synchronize (self->dev);
  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, gst_ncfm_tensor_memory_new (images));
  gst_buffer_append_memory (buf, gst_ncfm_tensor_memory_new (lt));
  NcfmBatchMeta *meta = gst_buffer_add_ncfm_batch_meta (buf,
      (const gchar *const *) self->class_names, self->channels, self->mean, self->std);
  meta->class_id = (gint) cls;
  meta->position = self->position;
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_OFFSET (buf) = self->position;
  GST_BUFFER_OFFSET_END (buf) = self->position + 1;
  self->position++;
  return buf;
}

/* Stops the task after `ret` (EOS, flushing, an error downstream). */
static void
pause_task (GstNcfmGather *self, GstFlowReturn ret)
{
  GST_DEBUG_OBJECT (self, "pausing the task: %s", gst_flow_get_name (ret));
  g_mutex_lock (&self->lock);
  self->srcresult = ret;
  g_mutex_unlock (&self->lock);
  gst_pad_pause_task (self->srcpad);
  if (ret == GST_FLOW_EOS || ret == GST_FLOW_FLUSHING)
    return;
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) {
    GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  }
}

void
gst_ncfm_gather_loop (GstNcfmGather *self)
{
  g_autoptr (GError) error = NULL;
  g_mutex_lock (&self->lock);
  gint cls = -1;
  while (!self->flushing && self->reservoir == NULL && !self->eos)
    g_cond_wait (&self->cond, &self->lock);
  while (!self->flushing && self->reservoir
      && (cls = ncfm_reservoir_next_ready (self->reservoir, self->s_batch_size,
              self->s_min_new, self->next_class)) < 0 && !self->eos)
    g_cond_wait (&self->cond, &self->lock);
  if (!self->flushing && cls < 0 && self->eos && self->reservoir)
    /* the end: one last batch, maybe smaller, for every class with new images */
    cls = ncfm_reservoir_next_ready (self->reservoir, 1, 1, self->next_class);
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    pause_task (self, GST_FLOW_FLUSHING);
    return;
  }
  if (cls < 0) {
    gst_ncfm_gather_post_stats (self, TRUE);
    g_mutex_unlock (&self->lock);
    gst_ncfm_gather_save_reservoir (self);
    GST_DEBUG_OBJECT (self, "EOS after %" G_GUINT64_FORMAT " batches", self->position);
    gst_pad_push_event (self->srcpad, gst_event_new_eos ());
    pause_task (self, GST_FLOW_EOS);
    return;
  }
  const guint n = ncfm_reservoir_draw_into (self->reservoir, (guint) cls, self->s_batch_size,
      self->batch_images);
  self->next_class = ((guint) cls + 1) % ncfm_reservoir_get_num_classes (self->reservoir);
  self->stats.batches++;
  self->busy = TRUE;
  self->dirty = TRUE;
  const GstClockTime pts = self->last_pts;
  g_mutex_unlock (&self->lock);

  GST_LOG_OBJECT (self, "batch %" G_GUINT64_FORMAT ": class %d, %u images", self->position,
      cls, n);
  GstBuffer *buf = make_batch (self, (guint) cls, n, pts, &error);
  GstFlowReturn ret = GST_FLOW_ERROR;
  if (buf)
    ret = gst_pad_push (self->srcpad, buf);
  else
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, ("Cannot make a batch on %s: %s",
            ncfm_device_get_name (self->dev), error->message), (NULL));
  g_mutex_lock (&self->lock);
  self->busy = FALSE;
  gst_ncfm_gather_post_stats (self, FALSE);
  g_mutex_unlock (&self->lock);
  if (ret != GST_FLOW_OK)
    pause_task (self, ret);
}

gboolean
gst_ncfm_gather_src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode,
    gboolean active)
{
  GstNcfmGather *self = GST_NCFM_GATHER (parent);
  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  g_mutex_lock (&self->lock);
  self->flushing = !active;
  if (active) {
    self->eos = FALSE;
    self->srcresult = GST_FLOW_OK;
  }
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
  if (active)
    return gst_pad_start_task (pad, (GstTaskFunction) gst_ncfm_gather_loop, self, NULL);
  return gst_pad_stop_task (pad);
}

