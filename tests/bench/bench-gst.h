/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-gst.h: what the pipeline benchmarks share: the seconds per class step
 * of a gst-launch line, timed from ncfmdistill's ncfm-progress messages. */
#ifndef NCFM_BENCH_GST_H
#define NCFM_BENCH_GST_H

#include <gst/gst.h>

/* Loads this build's ncfm plugin; FALSE (printed) if it is not there. */
gboolean bench_gst_load_plugin (const char *bench);

/* Plays `line` until ncfmdistill has posted warmup + timed progress messages
 * and returns the mean seconds between messages warmup and warmup + timed;
 * < 0 on a pipeline error or a stream that ends too early (printed).  The
 * stream may end (EOS) right after the last timed step. */
double bench_gst_step_seconds (const char *line, int warmup, int timed);

#endif
