/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-live: the sustained rate of distilling a live camera.  A 640x480 30 fps
 * live source (videotestsrc is-live=true) goes through ncfmtensorize
 * unlabeled=true (1x28x28, batches of 16) ! ncfmlabel (ConvNet-3 width 128,
 * instance norm: the evaluation's classifier, at fresh weights) ! ncfmgather
 * (batches of 128, min-new 16) ! ncfmaugment ! ncfmconvnet width=64 ! ncfmcf
 * num-freqs=1024 ! ncfmdistill ipc=10 (Fashion-MNIST's classes and geometry):
 *   live_frames_used     frames labelled in real time / frames the camera made
 *                        (30 per second of wall time), after a warm-up
 *   live_class_step_rate class steps of ncfmdistill per second, same window
 *   live_labeller        ncfmlabel's images/s (time inside the element, batches of
 *                        16) on a non-live run of the same line up to the labeller,
 *                        against the same ConvNet's forward in PyTorch
 *                        (convnet_torch.py) at the same batch
 * The first two have no PyTorch counterpart.
 *   bench-live [--iters N (N x 10 s of live source, default 2)] [--threads N]
 *              [--device SPEC (the ncfm elements'; PyTorch stays on the CPU)] [--no-torch]
 */
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <ncfm.h>
#include <stdio.h>
#include "bench-util.h"

#define FPS 30
#define WARMUP_S 5
#define LABEL_BATCH 16
#define LABEL_BATCHES 60
#define CLASSIFIER_WIDTH 128
#define FASHION "/usr/share/datasets/fashion-mnist"
#define CAMERA "videotestsrc pattern=ball %s ! video/x-raw,width=640,height=480,framerate=30/1 ! " \
  "videoconvert ! ncfmtensorize unlabeled=true classes=10 width=28 height=28 channels=1 " \
  "dataset=fashion-mnist batch-size=16 ! ncfmlabel name=label weights=\"%s\" ! "

typedef struct {
  GMutex lock;
  gint64 entered;      /* monotonic time the batch in ncfmlabel arrived */
  gint64 busy_us;      /* time spent inside ncfmlabel */
  guint64 images;      /* images out of ncfmlabel */
  guint64 steps;       /* ncfm-progress messages */
} Counters;

static GstPadProbeReturn
on_label_in (G_GNUC_UNUSED GstPad *pad, G_GNUC_UNUSED GstPadProbeInfo *info, gpointer data)
{
  Counters *c = data;
  g_mutex_lock (&c->lock);
  c->entered = g_get_monotonic_time ();
  g_mutex_unlock (&c->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_label_out (G_GNUC_UNUSED GstPad *pad, G_GNUC_UNUSED GstPadProbeInfo *info, gpointer data)
{
  Counters *c = data;
  g_mutex_lock (&c->lock);
  c->busy_us += g_get_monotonic_time () - c->entered;
  c->images += LABEL_BATCH;
  g_mutex_unlock (&c->lock);
  return GST_PAD_PROBE_OK;
}

static GstBusSyncReply
on_sync_message (G_GNUC_UNUSED GstBus *bus, GstMessage *msg, gpointer data)
{
  Counters *c = data;
  const GstStructure *s = gst_message_get_structure (msg);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && s
      && gst_structure_has_name (s, "ncfm-progress")) {
    g_mutex_lock (&c->lock);
    c->steps++;
    g_mutex_unlock (&c->lock);
  }
  return GST_BUS_PASS;
}

static Counters
read_counters (Counters *c)
{
  g_mutex_lock (&c->lock);
  Counters now = { .busy_us = c->busy_us, .images = c->images, .steps = c->steps };
  g_mutex_unlock (&c->lock);
  return now;
}

/* Plays LINE for `seconds` (0: to EOS) with the labeller's pads probed; the
 * counters at WARMUP_S and at the end go to *start and *end.  FALSE on an error. */
static gboolean
play (const char *line, Counters *c, int seconds, Counters *start, Counters *end)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = gst_parse_launch (line, &error);
  if (!pipeline) {
    fprintf (stderr, "cannot build the pipeline: %s\n", error->message);
    return FALSE;
  }
  g_autoptr (GstElement) label = gst_bin_get_by_name (GST_BIN (pipeline), "label");
  g_autoptr (GstPad) sink = gst_element_get_static_pad (label, "sink");
  g_autoptr (GstPad) src = gst_element_get_static_pad (label, "src");
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, on_label_in, c, NULL);
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, on_label_out, c, NULL);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  gst_bus_set_sync_handler (bus, on_sync_message, c, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  const gint64 t0 = g_get_monotonic_time ();
  gboolean ok = TRUE, warm = FALSE;
  for (;;) {
    g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (bus, 50 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    const double t = (g_get_monotonic_time () - t0) / 1e6;
    if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      fprintf (stderr, "pipeline error from %s: %s\n", GST_OBJECT_NAME (msg->src), err->message);
      ok = FALSE;
      break;
    }
    if (!warm && (seconds == 0 || t >= WARMUP_S)) {
      *start = read_counters (c);
      start->entered = g_get_monotonic_time ();
      warm = TRUE;
    }
    if (msg || (seconds > 0 && t >= WARMUP_S + seconds)) {
      *end = read_counters (c);
      end->entered = g_get_monotonic_time ();
      break;
    }
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  return ok;
}

int
main (int argc, char **argv)
{
  BenchArgs args = { .iters = 2, .threads = 2 };
  if (!bench_parse_args (argc, argv, 0, &args))
    return 2;
  if (args.device)
    g_setenv ("NCFM_DEVICE", args.device, TRUE);
  gst_init (&argc, &argv);
  /* the plugin of this build, whatever GST_PLUGIN_PATH says */
  gst_registry_scan_path (gst_registry_get (), NCFM_BENCH_PLUGIN_DIR);
  if (!g_file_test (FASHION, G_FILE_TEST_IS_DIR)) {
    fprintf (stderr, "bench-live: skipped, no Fashion-MNIST at " FASHION "\n");
    return 77;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) cpu = ncfm_device_new ("cpu", &error);
  g_autoptr (NcfmConvNet) net = cpu ? ncfm_convnet_new (cpu, 1, 28, 28, 10, 3,
      CLASSIFIER_WIDTH, NCFM_NORM_INSTANCE, 1, &error) : NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("bench-live-XXXXXX", NULL);
  g_autofree gchar *weights = g_build_filename (dir, "classifier.safetensors", NULL);
  g_autofree gchar *synset = g_build_filename (dir, "synset.safetensors", NULL);
  if (!net || !ncfm_model_save (NCFM_MODEL (net), weights, &error)) {
    fprintf (stderr, "bench-live: the classifier: %s\n", error->message);
    return 1;
  }
  const int seconds = 10 * args.iters;
  g_autofree gchar *live = g_strdup_printf (CAMERA "ncfmgather batch-size=128 capacity=256 "
      "min-new=16 ! ncfmaugment strategy=color_crop_cutout ! ncfmconvnet width=64 ! "
      "ncfmcf num-freqs=1024 sampler=gaussian ! ncfmdistill location=\"%s\" dataset=" FASHION
      " ipc=10 factor=1 init=real lr=0.01 save-every=0 preview-every=0 sync=false",
      "is-live=true", weights, synset);
  g_autofree gchar *frames = g_strdup_printf ("num-buffers=%d", LABEL_BATCHES * LABEL_BATCH);
  g_autofree gchar *label_only = g_strdup_printf (CAMERA "fakesink sync=false", frames, weights);
  Counters c = { 0 }, l = { 0 }, c0, c1, l0, l1;
  g_mutex_init (&c.lock);
  g_mutex_init (&l.lock);
  const gboolean ok = play (live, &c, seconds, &c0, &c1) && play (label_only, &l, 0, &l0, &l1);
  g_mutex_clear (&c.lock);
  g_mutex_clear (&l.lock);
  g_unlink (synset);
  g_unlink (weights);
  g_rmdir (dir);
  if (!ok)
    return 1;
  const double window = (c1.entered - c0.entered) / 1e6;
  fprintf (stderr, "# 640x480 %d fps live source, %.1f s after a %d s warm-up, %d threads: "
      "%" G_GUINT64_FORMAT " frames labelled, %" G_GUINT64_FORMAT " class steps; labeller "
      "ConvNet-3 w%d on 1x28x28, %d batches of %d\n", FPS, window, WARMUP_S, args.threads,
      c1.images - c0.images, c1.steps - c0.steps, CLASSIFIER_WIDTH, LABEL_BATCHES, LABEL_BATCH);
  bench_figure_alone ("live_frames_used", (c1.images - c0.images) / (FPS * window), "of frames");
  bench_figure_alone ("live_class_step_rate", (c1.steps - c0.steps) / window, "steps/s");
  const char *torch_args[] = { "--batch", G_STRINGIFY (LABEL_BATCH), "--iters", "50",
    "--threads", args.threads_str, "--channels", "1", "--size", "28",
    "--width", G_STRINGIFY (CLASSIFIER_WIDTH), NULL };
  JsonObject *torch = args.no_torch ? NULL : bench_run_torch ("convnet_torch.py", torch_args);
  bench_figure ("live_labeller", l1.images / (l1.busy_us / 1e6), torch, "forward", "images/s",
      TRUE);
  if (torch)
    json_object_unref (torch);
  return 0;
}
