/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* train-test-util.h: runs a gst-launch description to EOS or error for the
 * ncfmtrain / ncfmevaluate tests, keeping the element messages it posted. */
#ifndef NCFM_TRAIN_TEST_UTIL_H
#define NCFM_TRAIN_TEST_UTIL_H

#include <gst/gst.h>

typedef struct {
  gboolean eos;
  gchar *error;       /* the first error's message and debug text */
  GPtrArray *messages;  /* GstStructure copies of the element messages, in order */
  GstElement *pipeline; /* run_pipeline_keep: still PLAYING after EOS */
} RunResult;

void run_pipeline (const gchar *description, RunResult *r);
void run_pipeline_keep (const gchar *description, RunResult *r);
void run_result_clear (RunResult *r);
/* The element messages called @name, in order. */
GPtrArray *run_result_messages (RunResult *r, const gchar *name);

#endif
