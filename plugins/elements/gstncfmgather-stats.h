/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmgather-stats.h: ncfmgather's account of a live stream: what became
 * of every sample (stored, replaced, discarded, unlabeled), how far behind
 * the clock the input runs, and the "ncfm-gather" message that reports it.
 * The caller serialises every call (ncfmgather's lock). */
#ifndef GST_NCFM_GATHER_STATS_H
#define GST_NCFM_GATHER_STATS_H

#include <gst/gst.h>
#include <ncfm.h>

G_BEGIN_DECLS

typedef struct {
  guint64 buffers, samples, unlabeled, stored, replaced, discarded, while_busy, batches;
  GstClockTime first_pts, last_pts;    /* stream time of the first and the last input */
  gint64 first_us, last_us;            /* monotonic wall time of their arrival */
  GstClockTimeDiff lag, max_lag;       /* clock running time - input running time */
  gboolean have_lag;
  gint64 last_report_us;
} GstNcfmGatherStats;

void gst_ncfm_gather_stats_init (GstNcfmGatherStats *stats);
void gst_ncfm_gather_stats_count (GstNcfmGatherStats *stats, NcfmReservoirOutcome outcome,
    gboolean busy);
void gst_ncfm_gather_stats_frame (GstNcfmGatherStats *stats, GstElement *element,
    GstPad *sinkpad, GstBuffer *buf);
/* The "ncfm-gather" structure, or NULL within a second of the last one unless `force`. */
GstStructure *gst_ncfm_gather_stats_report (GstNcfmGatherStats *stats,
    NcfmReservoir *reservoir, GstElement *element, gboolean force);

G_END_DECLS
#endif
