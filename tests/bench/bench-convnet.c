/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-convnet: ConvNet-3 (width 128, instance norm, 3x32x32, batch 256)
 * forward and forward+backward images/s and peak memory, ours and PyTorch's
 * side by side in one run.  Prints `bench NAME: ours X UNIT, pytorch Y UNIT,
 * ratio R` lines (R > 1: we are better).
 *   bench-convnet [--batch N] [--iters N] [--threads N] [--device SPEC] [--no-torch] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench-util.h"
#include "ncfm.h"

typedef struct {
  NcfmConvNet *net;
  NcfmTensor *x, *grad_logits;
  NcfmActivations *act;
  gboolean backward;
} Job;

static void
run_once (Job *j)
{
  g_autoptr (GError) error = NULL;
  if (!ncfm_convnet_forward (j->net, j->x, j->act, &error))
    g_error ("forward: %s", error->message);
  if (j->backward && !ncfm_convnet_backward (j->net, j->act, NULL, j->grad_logits, TRUE, &error))
    g_error ("backward: %s", error->message);
}

static double
images_per_second (Job *j, int batch, int iters)
{
  NcfmDevice *dev = ncfm_convnet_get_device (j->net);
  run_once (j);   /* warm-up: allocations, caches */
  ncfm_device_synchronize (dev);
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < iters; i++)
    run_once (j);
  ncfm_device_synchronize (dev);
  return (double) batch * iters / ((g_get_monotonic_time () - t0) / 1e6);
}

int
main (int argc, char **argv)
{
  BenchArgs args = { .batch = 256, .iters = 3, .threads = 2 };
  if (!bench_parse_args (argc, argv, BENCH_ACCEPTS_BATCH, &args))
    return 2;
  const int batch = args.batch, iters = args.iters;

  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new (args.device, &error);
  if (!dev) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (dev, 3, 32, 32, 10, 3, 128, NCFM_NORM_INSTANCE,
      0, &error);
  g_assert_no_error (error);
  gint64 xs[4] = { batch, 3, 32, 32 }, ls[2] = { batch, 10 };
  g_autoptr (NcfmTensor) x = ncfm_tensor_new (dev, NCFM_DTYPE_F32, xs, 4, &error);
  g_autoptr (NcfmTensor) gl = ncfm_tensor_new (dev, NCFM_DTYPE_F32, ls, 2, &error);
  g_assert_no_error (error);
  {
    g_autoptr (GRand) rand = g_rand_new_with_seed (1);
    gsize n = (gsize) batch * 3 * 32 * 32;
    g_autofree float *h = g_new (float, n);
    for (gsize i = 0; i < n; i++)
      h[i] = (float) g_rand_double_range (rand, -2, 2);
    ncfm_tensor_set_data (x, (const guint8 *) h, n * 4, NULL);
    ncfm_tensor_fill (gl, 1.0f / batch, NULL);
  }
  g_autoptr (NcfmActivations) act = ncfm_activations_new ();
  Job fwd = { net, x, gl, act, FALSE }, fb = { net, x, gl, act, TRUE };
  double ours_fwd = images_per_second (&fwd, batch, iters);
  double ours_fb = images_per_second (&fb, batch, iters);
  double ours_mb = bench_peak_rss_mb ();

  fprintf (stderr, "# ConvNet-3 width 128 instancenorm 3x32x32 batch %d, %d iters, device %s\n",
      batch, iters, ncfm_device_get_name (dev));
  g_autofree gchar *b = g_strdup_printf ("%d", batch), *it = g_strdup_printf ("%d", iters);
  const char *torch_args[] = { "--batch", b, "--iters", it, "--threads", args.threads_str, "--device",
    ncfm_device_is_cuda (dev) ? "cuda" : "cpu", NULL };
  JsonObject *torch = args.no_torch ? NULL : bench_run_torch ("convnet_torch.py", torch_args);
  if (torch)
    fprintf (stderr, "# pytorch %s, %d threads\n", json_object_get_string_member (torch, "torch"),
        (int) json_object_get_int_member (torch, "threads"));
  bench_figure ("convnet3_forward", ours_fwd, torch, "forward", "images/s", TRUE);
  bench_figure ("convnet3_forward_backward", ours_fb, torch, "forward_backward", "images/s", TRUE);
  if (!ncfm_device_is_cuda (dev))
    bench_figure ("convnet3_peak_memory", ours_mb, torch, "peak_mb", "MB", FALSE);
  if (torch)
    json_object_unref (torch);
  return 0;
}
