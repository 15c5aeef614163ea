/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* elements-test-util.c: the tiny generated IDX dataset shared by the element tests. */
#include "elements-test-util.h"

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

gchar *tmp_root, *idx_dir;

guint8
pixel (guint i, guint p)
{
  return (guint8) ((i * IMG_H * IMG_W + p) * 7 + 1);
}

gint32
label_of (guint i)
{
  return (gint32) (i % 10);
}

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static void
write_idx (const gchar *dir, const gchar *prefix)
{
  guint8 images[16 + N_IMAGES * IMG_H * IMG_W], labels[8 + N_IMAGES];
  put_be32 (images, 0x803);
  put_be32 (images + 4, N_IMAGES);
  put_be32 (images + 8, IMG_H);
  put_be32 (images + 12, IMG_W);
  for (guint p = 0; p < N_IMAGES * IMG_H * IMG_W; p++)
    images[16 + p] = pixel (p / (IMG_H * IMG_W), p % (IMG_H * IMG_W));
  put_be32 (labels, 0x801);
  put_be32 (labels + 4, N_IMAGES);
  for (guint i = 0; i < N_IMAGES; i++)
    labels[8 + i] = (guint8) label_of (i);
  g_autofree gchar *a = g_strdup_printf ("%s/%s-images-idx3-ubyte", dir, prefix);
  g_autofree gchar *b = g_strdup_printf ("%s/%s-labels-idx1-ubyte", dir, prefix);
  fail_unless (g_file_set_contents (a, (gchar *) images, sizeof images, NULL));
  fail_unless (g_file_set_contents (b, (gchar *) labels, sizeof labels, NULL));
}

void
make_dataset (void)
{
  tmp_root = g_dir_make_tmp ("ncfm-elements-XXXXXX", NULL);
  fail_unless (tmp_root != NULL);
  idx_dir = g_build_filename (tmp_root, "tiny", NULL);
  fail_unless (g_mkdir (idx_dir, 0755) == 0);
  write_idx (idx_dir, "train");
  write_idx (idx_dir, "t10k");
}

void
remove_dataset (void)
{
  const gchar *names[] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree gchar *p = g_build_filename (idx_dir, names[i], NULL);
    g_unlink (p);
  }
  g_rmdir (idx_dir);
  g_rmdir (tmp_root);
  g_clear_pointer (&idx_dir, g_free);
  g_clear_pointer (&tmp_root, g_free);
}

gchar *
error_message_text (GstMessage *msg)
{
  g_autoptr (GError) e = NULL;
  g_autofree gchar *dbg = NULL;
  gst_message_parse_error (msg, &e, &dbg);
  return g_strdup_printf ("%s (%s)", e->message, dbg ? dbg : "");
}

gchar *
play_to_eos (GstElement *pipeline, guint timeout_s, PlayMessageFunc on_message, gpointer data)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  gchar *error = NULL;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, timeout_s * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT | GST_MESSAGE_WARNING);
    fail_unless (msg != NULL, "neither EOS nor an error in %u s", timeout_s);
    const GstMessageType type = GST_MESSAGE_TYPE (msg);
    if (type == GST_MESSAGE_ERROR)
      error = error_message_text (msg);
    else if (type != GST_MESSAGE_EOS && on_message)
      on_message (msg, data);
    gst_message_unref (msg);
    if (type == GST_MESSAGE_ERROR || type == GST_MESSAGE_EOS)
      break;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  return error;
}

gchar *
fresh_model (const gchar *name, guint classes, guint height, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", &error);
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (cpu, 1, height, IMG_W, classes, 1, 8,
      NCFM_NORM_INSTANCE, seed, &error);
  fail_unless (net != NULL, "%s", error ? error->message : "");
  gchar *path = g_build_filename (tmp_root, name, NULL);
  fail_unless (ncfm_model_save (NCFM_MODEL (net), path, &error), "%s", error ? error->message
      : "");
  return path;
}

GstPadProbeReturn
lag_watch_probe (GstPad *pad, GstPadProbeInfo *info, gpointer watch)
{
  LagWatch *w = watch;
  GstElement *element = GST_ELEMENT (gst_pad_get_parent (pad));
  GstClock *clock = gst_element_get_clock (element);
  if (clock && GST_STATE (element) == GST_STATE_PLAYING) {
    const GstClockTime now = gst_clock_get_time (clock) - gst_element_get_base_time (element);
    const GstClockTimeDiff lag = GST_CLOCK_DIFF (GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info)),
        now);
    g_mutex_lock (&w->lock);
    w->max_lag = MAX (w->max_lag, lag);
    w->buffers++;
    g_mutex_unlock (&w->lock);
  }
  g_clear_object (&clock);
  gst_object_unref (element);
  return GST_PAD_PROBE_OK;
}
