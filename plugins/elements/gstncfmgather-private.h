/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmgather-private.h: ncfmgather's state, shared by its sink side and
 * properties (gstncfmgather.c) and its source pad's task (gstncfmgather-task.c). */
#ifndef GST_NCFM_GATHER_PRIVATE_H
#define GST_NCFM_GATHER_PRIVATE_H

#include <gst/gst.h>
#include <ncfm.h>

#include "gstncfmcaps.h"
#include "gstncfmgather.h"
#include "gstncfmgather-stats.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_ncfm_gather_debug);

struct _GstNcfmGather {
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  /* properties, under the object lock; read in start */
  guint capacity, batch_size, min_new;
  guint64 seed;
  gchar *location, *device;

  /* from start to stop; settings and the output device */
  guint s_capacity, s_batch_size, s_min_new;
  guint64 s_seed;
  gchar *s_location;
  NcfmDevice *dev;

  /* the sink side's (streaming thread) */
  GstNcfmTensorsInfo in_info;
  NcfmDevice *import_device;
  gfloat *host_images;           /* one input batch on the host */
  gsize host_capacity;

  /* shared by both sides, under `lock`; `cond` wakes the task */
  GMutex lock;
  GCond cond;
  NcfmReservoir *reservoir;      /* from the first buffer on */
  gchar **class_names;
  guint channels, c, h, w;
  gfloat mean[NCFM_MAX_CHANNELS], std[NCFM_MAX_CHANNELS];
  gboolean eos, flushing, busy, dirty;
  GstFlowReturn srcresult;
  guint next_class;
  GstClockTime last_pts;
  GstNcfmGatherStats stats;

  /* the task's */
  gfloat *batch_images;
  guint64 position;
};

/* the task's (gstncfmgather-task.c) */
void gst_ncfm_gather_loop (GstNcfmGather *self);
gboolean gst_ncfm_gather_src_activate_mode (GstPad *pad, GstObject *parent, GstPadMode mode,
    gboolean active);
/* Posts the statistics (under the lock); `force`: also within a second of the last. */
void gst_ncfm_gather_post_stats (GstNcfmGather *self, gboolean force);
/* Saves the reservoir to location if it changed; posts a warning when that fails. */
void gst_ncfm_gather_save_reservoir (GstNcfmGather *self);

G_END_DECLS
#endif
