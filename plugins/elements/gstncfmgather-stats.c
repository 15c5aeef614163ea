/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmgather-stats.c: see gstncfmgather-stats.h. */
#include "gstncfmgather-stats.h"

#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (gst_ncfm_gather_debug);
#define GST_CAT_DEFAULT gst_ncfm_gather_debug

#define REPORT_INTERVAL_US G_USEC_PER_SEC

void
gst_ncfm_gather_stats_init (GstNcfmGatherStats *stats)
{
  memset (stats, 0, sizeof *stats);
  stats->first_pts = stats->last_pts = GST_CLOCK_TIME_NONE;
}

void
gst_ncfm_gather_stats_count (GstNcfmGatherStats *stats, NcfmReservoirOutcome outcome,
    gboolean busy)
{
  switch (outcome) {
    case NCFM_RESERVOIR_STORED: stats->stored++; break;
    case NCFM_RESERVOIR_REPLACED: stats->replaced++; break;
    case NCFM_RESERVOIR_DISCARDED: stats->discarded++; break;
  }
  if (busy)
    stats->while_busy++;
}

void
gst_ncfm_gather_stats_frame (GstNcfmGatherStats *stats, GstElement *element, GstPad *sinkpad,
    GstBuffer *buf)
{
  const GstClockTime pts = GST_BUFFER_PTS (buf);
  const gint64 now_us = g_get_monotonic_time ();
  stats->buffers++;
  if (!GST_CLOCK_TIME_IS_VALID (pts))
    return;
  if (!GST_CLOCK_TIME_IS_VALID (stats->first_pts)) {
    stats->first_pts = pts;
    stats->first_us = now_us;
  }
  stats->last_pts = pts;
  stats->last_us = now_us;
  /* how late the input is: the clock's running time against the buffer's */
  g_autoptr (GstClock) clock = gst_element_get_clock (element);
  g_autoptr (GstEvent) seg_event = gst_pad_get_sticky_event (sinkpad, GST_EVENT_SEGMENT, 0);
  if (!clock || !seg_event || GST_STATE (element) != GST_STATE_PLAYING)
    return;
  const GstSegment *segment;
  gst_event_parse_segment (seg_event, &segment);
  const GstClockTime rt = gst_segment_to_running_time (segment, GST_FORMAT_TIME, pts);
  const GstClockTime now = gst_clock_get_time (clock), base = gst_element_get_base_time (element);
  if (!GST_CLOCK_TIME_IS_VALID (rt) || now < base)
    return;
  stats->lag = GST_CLOCK_DIFF (rt, now - base);
  stats->max_lag = stats->have_lag ? MAX (stats->max_lag, stats->lag) : stats->lag;
  stats->have_lag = TRUE;
}

static void
take_array (GstStructure *s, const gchar *field, NcfmReservoir *r, gboolean draws)
{
  GValue array = G_VALUE_INIT, v = G_VALUE_INIT;
  const guint k = r ? ncfm_reservoir_get_num_classes (r) : 0;
  gst_value_array_init (&array, k);
  g_value_init (&v, G_TYPE_UINT64);
  for (guint c = 0; c < k; c++) {
    g_value_set_uint64 (&v, draws ? ncfm_reservoir_get_n_draws (r, c)
        : ncfm_reservoir_get_n_stored (r, c));
    gst_value_array_append_value (&array, &v);
  }
  g_value_unset (&v);
  gst_structure_take_value (s, field, &array);
}

GstStructure *
gst_ncfm_gather_stats_report (GstNcfmGatherStats *stats, NcfmReservoir *reservoir,
    GstElement *element, gboolean force)
{
  const gint64 now_us = g_get_monotonic_time ();
  if (!force && now_us - stats->last_report_us < REPORT_INTERVAL_US)
    return NULL;
  stats->last_report_us = now_us;
  gdouble rtf = 0.0;
  if (GST_CLOCK_TIME_IS_VALID (stats->first_pts) && stats->last_us > stats->first_us)
    rtf = (gdouble) (stats->last_pts - stats->first_pts)
        / ((gdouble) (stats->last_us - stats->first_us) * 1000.0);
  GstStructure *s = gst_structure_new ("ncfm-gather",
      "buffers", G_TYPE_UINT64, stats->buffers, "samples", G_TYPE_UINT64, stats->samples,
      "unlabeled", G_TYPE_UINT64, stats->unlabeled, "stored", G_TYPE_UINT64, stats->stored,
      "replaced", G_TYPE_UINT64, stats->replaced, "discarded", G_TYPE_UINT64, stats->discarded,
      "while-busy", G_TYPE_UINT64, stats->while_busy, "batches", G_TYPE_UINT64, stats->batches,
      "realtime-factor", G_TYPE_DOUBLE, rtf,
      "lag", G_TYPE_INT64, stats->have_lag ? stats->lag : (gint64) 0,
      "max-lag", G_TYPE_INT64, stats->have_lag ? stats->max_lag : (gint64) 0,
      "reservoir-bytes", G_TYPE_UINT64,
      (guint64) (reservoir ? ncfm_reservoir_get_bytes (reservoir) : 0), NULL);
  take_array (s, "class-stored", reservoir, FALSE);
  take_array (s, "class-batches", reservoir, TRUE);
  GST_DEBUG_OBJECT (element, "%" GST_PTR_FORMAT, s);
  return s;
}
