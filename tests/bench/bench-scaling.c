/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-scaling: class-step throughput of a distillation over MPI ranks at
 * the reference CIFAR-10 shapes (a step: one class, 1024 real images, IPC 10
 * x factor 2 = 40 decoded synthetic images, M = 4096 Gaussian frequencies,
 * d = 2048 from ConvNet-3 width 128), 2 ranks x 1 thread against 1 rank x 1
 * thread:
 *   scaling_data_2ranks   data parallel: each rank takes 512 of a step's
 *                         1024 images, the ranks sum their statistics and
 *                         take every step together
 *   scaling_class_2ranks  class shards: each rank steps its own 5 classes
 * Printed as `bench NAME: ours X steps/s, pytorch Y steps/s, ratio R` where
 * the second slot holds the SINGLE-RANK figure, not PyTorch: R is the
 * speed-up (2 is perfect, the target 1.8).  Throughput is class steps per
 * second of the run: rank 0's for data parallel, the ranks' sum for class
 * shards.  It launches itself under mpirun (the worker reads
 * NCFM_BENCH_SCALING_MODE); each rank prints its steps/s.
 *   bench-scaling --root CIFAR10_TREE [--iters EPOCHS] [--threads N] [--batch N]
 *       [--device SPEC]
 * --iters: epochs of 10 class steps timed per rank (default 1; 2 warm-up
 * steps first).  Without --root it says so and exits 77 (skipped). */
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench-gst.h"
#include "bench-util.h"

#define WARMUP_STEPS 2
#define CIFAR_CLASSES 10

/* One rank's run: prints "steps_per_s X"; exit status 1 on failure. */
static int
worker (const char *mode, BenchArgs *args)
{
  guint rank = 0, size = 1;
  const char *r = g_getenv ("OMPI_COMM_WORLD_RANK"), *n = g_getenv ("OMPI_COMM_WORLD_SIZE");
  if (r && n) {
    rank = (guint) atoi (r);
    size = (guint) atoi (n);
  }
  const gboolean classes = !strcmp (mode, "class");
  /* every rank steps 10 x iters times (class shards: size times the epochs), and
   * the stream ends there: a data-parallel rank that stopped early would leave
   * the others waiting in the next buffer's reduction */
  const int epochs = args->iters * (classes ? (int) size : 1);
  const int batch = classes ? args->batch : args->batch / (int) size;
  const int steps = CIFAR_CLASSES * args->iters;
  g_autofree gchar *dir = g_dir_make_tmp ("bench-scaling-XXXXXX", NULL);
  /* a class shard writes its own file: %r is its index */
  g_autofree gchar *set = classes ? g_strdup_printf ("%s/set-%%r.safetensors", dir)
      : g_strdup_printf ("%s/set-%u.safetensors", dir, rank);
  g_autofree gchar *line = g_strdup_printf (
      "ncfmdatasetsrc location=\"%s\" mode=per-class batch-size=%d epochs=%d seed=1 "
      "shard-count=0 class-shard=%s ! "
      "ncfmaugment strategy=color_crop_cutout ! ncfmconvnet width=128 depth=3 ! "
      "ncfmcf num-freqs=4096 sampler=gaussian ! "
      "ncfmdistill location=\"%s\" dataset=\"%s\" ipc=10 factor=2 init=mix save-every=0 "
      "preview-every=0 check-every=0 ! fakesink sync=false",
      args->root, batch, epochs, classes ? "true" : "false", set, args->root);
  gst_init (NULL, NULL);
  if (!bench_gst_load_plugin ("bench-scaling"))
    return 1;
  const double secs = bench_gst_step_seconds (line, WARMUP_STEPS, steps - WARMUP_STEPS);
  g_autofree gchar *written = g_strdup_printf ("%s/set-%u.safetensors", dir, rank);
  g_unlink (written);
  g_rmdir (dir);
  if (secs <= 0)
    return 1;
  printf ("steps_per_s %.6f\n", 1.0 / secs);
  return 0;
}

/* Runs this program's worker on `ranks` ranks; the class steps per second of
 * the run (rank 0's, or the sum over ranks), < 0 on failure. */
static double
launch (const char *self, const char *mode, int ranks, BenchArgs *args)
{
  g_autofree gchar *np = g_strdup_printf ("%d", ranks);
  g_autofree gchar *iters = g_strdup_printf ("%d", args->iters);
  g_autofree gchar *batch = g_strdup_printf ("%d", args->batch);
  const gchar *argv[] = { "mpirun", "-np", np, "--oversubscribe", "--allow-run-as-root",
    "--bind-to", "none", "-x", "OMP_NUM_THREADS", "-x", "NCFM_BENCH_SCALING_MODE",
    self, "--root", args->root, "--iters", iters, "--threads", args->threads_str,
    "--batch", batch, args->device ? "--device" : NULL, args->device, NULL };
  g_setenv ("NCFM_BENCH_SCALING_MODE", mode, TRUE);
  g_autofree gchar *out = NULL;
  gint status = 0;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL,
          &status, &error) || !g_spawn_check_wait_status (status, &error)) {
    fprintf (stderr, "bench-scaling: %s on %d ranks failed: %s\n", mode, ranks,
        error ? error->message : "");
    return -1;
  }
  double total = 0.0, first = -1.0;
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    double v;
    if (sscanf (lines[i], "steps_per_s %lf", &v) == 1) {
      total += v;
      first = first < 0 ? v : first;
    }
  }
  /* data parallel: every rank takes the same steps (any rank's rate is the run's) */
  return strcmp (mode, "data") ? total : first;
}

int
main (int argc, char **argv)
{
  BenchArgs args = { .iters = 1, .threads = 1, .batch = 1024 };
  if (!bench_parse_args (argc, argv, BENCH_ACCEPTS_ROOT | BENCH_ACCEPTS_BATCH, &args))
    return 2;
  if (args.device)
    g_setenv ("NCFM_DEVICE", args.device, TRUE);
  const char *mode = g_getenv ("NCFM_BENCH_SCALING_MODE");
  if (mode && args.root)
    return worker (mode, &args);
  if (!args.root) {
    fprintf (stderr, "bench-scaling: skipped, no --root (the CIFAR-10 ImageFolder tree, e.g. "
        "tar -xzf ../shared/data/cifar10-jpg.tar.gz -C /tmp; --root /tmp/cifar10)\n");
    return 77;
  }
  if (args.batch % 2) {
    fprintf (stderr, "bench-scaling: --batch %d is not even (2 data-parallel ranks)\n",
        args.batch);
    return 2;
  }
  const double single = launch (argv[0], "data", 1, &args);
  const double data = launch (argv[0], "data", 2, &args);
  const double classes = launch (argv[0], "class", 2, &args);
  if (single < 0 || data < 0 || classes < 0)
    return 1;
  fprintf (stderr, "# class steps per second: real %d per step (CIFAR-10, one class), IPC 10 "
      "x factor 2, M = 4096 Gaussian, d = 2048; %d steps timed per rank after %d, %s "
      "thread(s) per rank; the pytorch slot is 1 rank (%.3f steps/s), ratio = speed-up\n",
      args.batch, CIFAR_CLASSES * args.iters - WARMUP_STEPS, WARMUP_STEPS, args.threads_str,
      single);
  JsonObject *one = json_object_new ();
  json_object_set_double_member (one, "single", single);
  bench_figure ("scaling_data_2ranks", data, one, "single", "steps/s", TRUE);
  bench_figure ("scaling_class_2ranks", classes, one, "single", "steps/s", TRUE);
  json_object_unref (one);
  return 0;
}
