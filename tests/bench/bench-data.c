/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-data.c: the ImageFolder reader on the CIFAR-10 JPEG tree
 * (../shared/data/cifar10-jpg.tar.gz unpacked outside the repository):
 * cold decode of both splits (an empty cache folder), warm load from the
 * decoded cache, and the resident memory the loaded train split adds;
 * against data_torch.py (PIL decode in worker processes, torch.load). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "ncfm.h"
#include "bench-util.h"

static double
rss_mb (void)
{
  g_autofree gchar *statm = NULL;
  long pages = 0, resident = 0;
  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%ld %ld", &pages, &resident);
  return resident * (double) sysconf (_SC_PAGESIZE) / (1 << 20);
}

static NcfmDataset *
load (const gchar *root, const gchar *split, const gchar *cache, double *seconds)
{
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  NcfmDataset *ds = ncfm_dataset_load (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, split, 0, 0, cache,
      &error);
  *seconds += (g_get_monotonic_time () - t0) / 1e6;
  if (!ds)
    g_error ("%s", error->message);
  return ds;
}

int
main (int argc, char **argv)
{
  BenchArgs args = { .iters = 1, .threads = (int) g_get_num_processors (),
    .root = g_getenv ("NCFM_BENCH_CIFAR10_JPG") };
  if (!bench_parse_args (argc, argv, BENCH_ACCEPTS_ROOT, &args))
    return 2;
  const gchar *root = args.root;
  double cold = 0, warm = 0, rss = 0;

  if (!root)
    root = "/tmp/cifar10";
  g_autofree gchar *train = g_build_filename (root, "train", NULL);
  if (!g_file_test (train, G_FILE_TEST_IS_DIR)) {
    printf ("bench data: skipped: no %s (tar -xzf ../shared/data/cifar10-jpg.tar.gz -C /tmp)\n",
        train);
    return 77;
  }
  g_autofree gchar *cache = g_dir_make_tmp ("ncfm-bench-cache-XXXXXX", NULL);
  for (guint s = 0; s < 2; s++) {
    const gchar *split = s ? "test" : "train";
    g_object_unref (load (root, split, cache, &cold));
    double base = rss_mb ();
    NcfmDataset *ds = load (root, split, cache, &warm);
    if (!ncfm_dataset_get_from_cache (ds))
      g_error ("the second load of %s did not come from the cache", split);
    /* what a consumer touches: every pixel once (mapped pages become resident) */
    g_autoptr (GBytes) px = ncfm_dataset_get_images (ds);
    gsize n;
    const guint8 *p = g_bytes_get_data (px, &n);
    guint64 sum = 0;
    for (gsize i = 0; i < n; i += 4096)
      sum += p[i];
    if (s == 0)
      rss = rss_mb () - base;
    g_printerr ("%s: %u images, %s (checksum %" G_GUINT64_FORMAT ")\n", split,
        ncfm_dataset_get_n_images (ds), ncfm_dataset_get_name (ds), sum);
    g_object_unref (ds);
  }
  const char *torch_args[] = { "--root", root, "--threads", args.threads_str, NULL };
  JsonObject *torch = args.no_torch ? NULL : bench_run_torch ("data_torch.py", torch_args);
  bench_figure ("data_cifar10_jpg_cold_decode", cold, torch, "cold_s", "s", FALSE);
  bench_figure ("data_cifar10_cache_warm_load", warm * 1000, torch, "warm_ms", "ms", FALSE);
  bench_figure ("data_cifar10_train_resident", rss, torch, "train_rss_mb", "MB", FALSE);
  /* the cache files are ours: remove them and the folder */
  g_autoptr (GDir) d = g_dir_open (cache, 0, NULL);
  const gchar *e;
  while (d && (e = g_dir_read_name (d))) {
    g_autofree gchar *f = g_build_filename (cache, e, NULL);
    g_unlink (f);
  }
  g_rmdir (cache);
  if (torch)
    json_object_unref (torch);
  return 0;
}
