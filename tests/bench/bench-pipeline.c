/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-pipeline: one NCFM class step through the GStreamer pipeline at the
 * reference CIFAR-10 shapes (real batch 1024 of one class, IPC 10 x factor 2
 * = 40 decoded synthetic images, M = 4096 learned frequencies, d = 2048 from
 * ConvNet-3 width 128), against the same step in PyTorch in the same run:
 *   pipeline_class_step          with a queue between every two elements
 *   pipeline_class_step_noqueue  the same line without queues (one thread)
 *   pipeline_class_step_gaussian the line with queues and M = 4096 Gaussian
 *                                frequencies instead of psi (all distinct: psi's
 *                                4096 are 256 tiled 16 times, which ncfmcf
 *                                matches once each)
 *   pipeline_peak_rss            peak resident memory of this process after the
 *                                first CIFAR-10 IPC 10 distillation (no queues)
 *   pipeline_peak_rss_both       the same after the second one too (with queues;
 *                                the first one's heap is partly still there)
 * The step time is the steady-state interval between ncfm-progress messages
 * (ncfmdistill posts one per class step), after a warm-up.
 *   bench-pipeline --root CIFAR10_TREE [--iters N] [--threads N] [--device SPEC] [--no-torch]
 * Without --root it says so and exits 77 (skipped). */
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include "bench-gst.h"
#include "bench-util.h"

#define WARMUP_STEPS 3

/* Seconds per class step over steps WARMUP_STEPS+1 .. WARMUP_STEPS+timed;
 * < 0 on a pipeline error (printed). */
static double
run (const char *root, const char *synset, gboolean queues, const char *sampler, int timed)
{
  const char *q = queues ? "queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 ! " : "";
  g_autofree gchar *line = g_strdup_printf (
      "ncfmdatasetsrc location=\"%s\" mode=per-class batch-size=1024 epochs=1000 seed=1 ! %s"
      "ncfmaugment strategy=color_crop_cutout ! %s"
      "ncfmconvnet width=128 depth=3 ! %s"
      "ncfmcf num-freqs=4096 sampler=%s ! %s"
      "ncfmdistill location=\"%s\" dataset=\"%s\" ipc=10 factor=2 init=mix save-every=0 "
      "preview-every=0 ! fakesink sync=false",
      root, q, q, q, sampler, q, synset, root);
  return bench_gst_step_seconds (line, WARMUP_STEPS, timed);
}

int
main (int argc, char **argv)
{
  BenchArgs args = { .iters = 5, .threads = 2 };
  if (!bench_parse_args (argc, argv, BENCH_ACCEPTS_ROOT, &args))
    return 2;
  if (!args.root) {
    fprintf (stderr, "bench-pipeline: skipped, no --root (the CIFAR-10 ImageFolder tree, e.g. "
        "tar -xzf ../shared/data/cifar10-jpg.tar.gz -C /tmp; --root /tmp/cifar10)\n");
    return 77;
  }
  if (args.device)
    g_setenv ("NCFM_DEVICE", args.device, TRUE);
  gst_init (&argc, &argv);
  if (!bench_gst_load_plugin ("bench-pipeline"))
    return 1;
  g_autofree gchar *dir = g_dir_make_tmp ("bench-pipeline-XXXXXX", NULL);
  g_autofree gchar *synset = g_build_filename (dir, "synset.safetensors", NULL);
  const double rss_before = bench_peak_rss_mb ();
  const double plain = run (args.root, synset, FALSE, "learned", args.iters);
  const double rss_plain = bench_peak_rss_mb ();
  g_unlink (synset);
  const double queued = run (args.root, synset, TRUE, "learned", args.iters);
  const double rss = bench_peak_rss_mb ();
  g_unlink (synset);
  const double gaussian = run (args.root, synset, TRUE, "gaussian", args.iters);
  g_unlink (synset);
  g_rmdir (dir);
  if (plain < 0 || queued < 0 || gaussian < 0)
    return 1;
  fprintf (stderr, "# one class step: real 1024 (CIFAR-10 train, one class), IPC 10 x factor 2 "
      "= 40 decoded synthetic, M = 4096 learned, d = 2048 (ConvNet-3 w128 instance norm); "
      "%d steps timed after %d, %d threads; peak RSS %.0f MB after the line without queues, "
      "%.0f MB after both (%.0f MB before)\n", args.iters, WARMUP_STEPS, args.threads, rss_plain,
      rss, rss_before);
  g_autofree gchar *it = g_strdup_printf ("%d", args.iters);
  const char *torch_args[] = { "--root", args.root, "--iters", it, "--threads",
    args.threads_str, "--device", args.device && g_str_has_prefix (args.device, "cuda")
        ? "cuda" : "cpu", NULL };
  JsonObject *torch = args.no_torch ? NULL : bench_run_torch ("pipeline_torch.py", torch_args);
  bench_figure ("pipeline_class_step", queued, torch, "step_s", "s", FALSE);
  bench_figure ("pipeline_class_step_noqueue", plain, torch, "step_s", "s", FALSE);
  bench_figure ("pipeline_class_step_gaussian", gaussian, torch, "step_gaussian_s", "s", FALSE);
  bench_figure ("pipeline_peak_rss", rss_plain, torch, "peak_rss_mb", "MB", FALSE);
  bench_figure ("pipeline_peak_rss_both", rss, torch, "peak_rss_mb", "MB", FALSE);
  if (torch)
    json_object_unref (torch);
  return 0;
}
