/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* elements-test-util.h: the tiny IDX dataset the element tests run on: 25
 * images of 4x3 (IMG_H x IMG_W) with pixel() values and labels i % 10,
 * written as the train and t10k splits of idx_dir (under tmp_root). */
#ifndef ELEMENTS_TEST_UTIL_H
#define ELEMENTS_TEST_UTIL_H

#include <gst/gst.h>

#define N_IMAGES 25
#define IMG_H 4
#define IMG_W 3

/* set by make_dataset(), freed by remove_dataset() */
extern gchar *tmp_root, *idx_dir;

guint8 pixel (guint i, guint p);
gint32 label_of (guint i);
/* check fixtures (tcase_add_unchecked_fixture) */
void make_dataset (void);
void remove_dataset (void);
/* "message (debug)" of an ERROR message, newly allocated. */
gchar *error_message_text (GstMessage *msg);
/* Plays the pipeline until EOS or an error (the test fails after timeout_s);
 * every ELEMENT and WARNING message goes to on_message (may be NULL).  Sets
 * the pipeline back to NULL; returns the error's text, or NULL at EOS. */
typedef void (*PlayMessageFunc) (GstMessage *msg, gpointer data);
gchar *play_to_eos (GstElement *pipeline, guint timeout_s, PlayMessageFunc on_message,
    gpointer data);
/* A fresh (untrained, seeded) 1-channel ConvNet classifier of `classes` classes on
 * height x IMG_W images, saved under tmp_root as `name`; the path, newly allocated. */
gchar *fresh_model (const gchar *name, guint classes, guint height, guint64 seed);
/* How late buffers pass a pad: the clock's running time minus each buffer's timestamp,
 * counted while the pad's element is PLAYING.  Watch a pad with
 * gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, lag_watch_probe, &watch, NULL). */
typedef struct {
  GMutex lock;
  GstClockTimeDiff max_lag;
  guint64 buffers;
} LagWatch;
GstPadProbeReturn lag_watch_probe (GstPad *pad, GstPadProbeInfo *info, gpointer watch);

#endif
