/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-pipeline: one NCFM class step through the GStreamer pipeline at the
 * reference CIFAR-10 shapes (real batch 1024 of one class, IPC 10 x factor 2
 * = 40 decoded synthetic images, M = 4096 learned frequencies, d = 2048 from
 * ConvNet-3 width 128), against the same step in PyTorch in the same run:
 *   pipeline_class_step          with a queue between every two elements
 *   pipeline_class_step_noqueue  the same line without queues (one thread)
 *   pipeline_class_step_reference the authors' configuration (method card
 *                                section 9), the headline: queues, M = 4096
 *                                Gaussian frequencies, factor 2, init mix, lr 0.01
 *                                and one calibration step through a pool member
 *                                (a pool of two random ConvNet-3 written here:
 *                                their weights do not change the work)
 *   pipeline_class_step_gaussian the line with queues and M = 4096 Gaussian
 *                                frequencies instead of psi (all distinct: psi's
 *                                4096 are 256 tiled 16 times, which ncfmcf
 *                                matches once each), no calibration
 *   pipeline_class_step_structured the reference line with sampler=structured:
 *                                SORF frequencies, whose phases and feature
 *                                gradients take fast Hadamard transforms; its
 *                                pytorch slot is the reference step (Gaussian)
 *   pipeline_peak_rss            peak resident memory of this process after the
 *                                first CIFAR-10 IPC 10 distillation (no queues)
 *   pipeline_peak_rss_both       the same after the second one too (with queues;
 *                                the first one's heap is partly still there)
 * The step time is the steady-state interval between ncfm-progress messages
 * (ncfmdistill posts one per class step), after a warm-up.
 *   bench-pipeline --root CIFAR10_TREE [--iters N] [--threads N] [--device SPEC] [--no-torch]
 *       [--reference-only]
 * --reference-only runs the headline line alone (for profiling it: perf record
 * sees no other pipeline; PyTorch still runs unless --no-torch).
 * Without --root it says so and exits 77 (skipped). */
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ncfm.h>
#include "bench-gst.h"
#include "bench-util.h"

#define WARMUP_STEPS 3

/* Seconds per class step over steps WARMUP_STEPS+1 .. WARMUP_STEPS+timed;
 * < 0 on a pipeline error (printed). */
/* pool: the model-pool directory of the calibration, or NULL for none */
static double
run (const char *root, const char *synset, gboolean queues, const char *sampler,
    const char *pool, int timed)
{
  const char *q = queues ? "queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 ! " : "";
  g_autofree gchar *pool_prop = pool ? g_strdup_printf ("pool=\"%s\"", pool) : g_strdup ("");
  g_autofree gchar *line = g_strdup_printf (
      "ncfmdatasetsrc location=\"%s\" mode=per-class batch-size=1024 epochs=1000 seed=1 ! %s"
      "ncfmaugment strategy=color_crop_cutout ! %s"
      "ncfmconvnet width=128 depth=3 %s ! %s"
      "ncfmcf num-freqs=4096 sampler=%s ! %s"
      "ncfmdistill location=\"%s\" dataset=\"%s\" ipc=10 factor=2 init=mix save-every=0 "
      "preview-every=0 %s ! fakesink sync=false",
      root, q, q, pool_prop, q, sampler, q, synset, root, pool ? "lr=0.01 calib=1" : "");
  return bench_gst_step_seconds (line, WARMUP_STEPS, timed);
}

/* premodel{0,1}_{init,trained}.safetensors: random ConvNet-3 w128 for 3x32x32, 10
 * classes (the reference's pool shape); FALSE with a message on failure. */
static gboolean
write_pool (const char *dir)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", &error);
  for (guint k = 0; dev && k < 2; k++)
    for (guint j = 0; j < 2; j++) {
      g_autofree gchar *name = g_strdup_printf ("premodel%u_%s.safetensors", k,
          j ? "init" : "trained");
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      g_autoptr (NcfmConvNet) m = ncfm_convnet_new (dev, 3, 32, 32, 10, 3, 128,
          NCFM_NORM_INSTANCE, 10 * k + j, &error);
      if (!m || !ncfm_convnet_save (m, path, &error))
        break;
    }
  if (error)
    fprintf (stderr, "bench-pipeline: cannot write the pool: %s\n", error->message);
  return error == NULL;
}

int
main (int argc, char **argv)
{
  BenchArgs args = { .iters = 5, .threads = 2 };
  /* this bench's own flag, taken out before the shared parser sees the line */
  gboolean reference_only = FALSE;
  for (int i = 1; i < argc; i++)
    if (!strcmp (argv[i], "--reference-only")) {
      reference_only = TRUE;
      memmove (argv + i, argv + i + 1, (size_t) (argc - i) * sizeof *argv);
      argc--;
      break;
    }
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
  g_autofree gchar *pool = g_build_filename (dir, "pool", NULL);
  if (g_mkdir (pool, 0700) != 0 || !write_pool (pool))
    return 1;
  double plain = 0, queued = 0, gaussian = 0, rss_plain = 0, rss = 0;
  if (!reference_only) {
    plain = run (args.root, synset, FALSE, "learned", NULL, args.iters);
    rss_plain = bench_peak_rss_mb ();
    g_unlink (synset);
    queued = run (args.root, synset, TRUE, "learned", NULL, args.iters);
    rss = bench_peak_rss_mb ();
    g_unlink (synset);
    gaussian = run (args.root, synset, TRUE, "gaussian", NULL, args.iters);
    g_unlink (synset);
  }
  const double reference = run (args.root, synset, TRUE, "gaussian", pool, args.iters);
  g_unlink (synset);
  double structured = 0;
  if (!reference_only) {
    structured = run (args.root, synset, TRUE, "structured", pool, args.iters);
    g_unlink (synset);
  }
  for (guint k = 0; k < 2; k++)
    for (guint j = 0; j < 2; j++) {
      g_autofree gchar *name = g_strdup_printf ("premodel%u_%s.safetensors", k,
          j ? "init" : "trained");
      g_autofree gchar *path = g_build_filename (pool, name, NULL);
      g_unlink (path);
    }
  g_rmdir (pool);
  g_rmdir (dir);
  if (plain < 0 || queued < 0 || gaussian < 0 || reference < 0 || structured < 0)
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
  bench_figure ("pipeline_class_step_reference", reference, torch, "step_reference_s", "s",
      FALSE);
  if (reference_only) {
    if (torch)
      json_object_unref (torch);
    return 0;
  }
  bench_figure ("pipeline_class_step_structured", structured, torch, "step_reference_s", "s",
      FALSE);
  bench_figure ("pipeline_class_step", queued, torch, "step_s", "s", FALSE);
  bench_figure ("pipeline_class_step_noqueue", plain, torch, "step_s", "s", FALSE);
  bench_figure ("pipeline_class_step_gaussian", gaussian, torch, "step_gaussian_s", "s", FALSE);
  bench_figure ("pipeline_peak_rss", rss_plain, torch, "peak_rss_mb", "MB", FALSE);
  bench_figure ("pipeline_peak_rss_both", rss, torch, "peak_rss_mb", "MB", FALSE);
  if (torch)
    json_object_unref (torch);
  return 0;
}
