/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-augment: DSA throughput, strategy color_crop_cutout_flip_scale_rotate
 * with one shared parameter set per batch (what matching uses), on a 1024 x
 * 3x32x32 batch: forward, and forward + backward to the images, images/s,
 * ours and PyTorch's in one run.
 *   bench-augment [--batch N] [--iters N] [--threads N] [--device SPEC] [--no-torch] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-util.h"
#include "ncfm.h"

#define STRATEGY "color_crop_cutout_flip_scale_rotate"

int
main (int argc, char **argv)
{
  BenchArgs args = { .batch = 1024, .iters = 10, .threads = 2 };
  if (!bench_parse_args (argc, argv, BENCH_ACCEPTS_BATCH, &args))
    return 2;
  const int batch = args.batch, iters = args.iters;
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new (args.device, &error);
  if (!dev) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  gint64 shape[4] = { batch, 3, 32, 32 };
  g_autoptr (NcfmTensor) x = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 4, &error);
  g_autoptr (NcfmTensor) y = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 4, &error);
  g_autoptr (NcfmTensor) dx = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 4, &error);
  g_autoptr (NcfmAugment) aug = ncfm_augment_new (STRATEGY, NCFM_AUGMENT_SHARED, &error);
  g_autoptr (NcfmActivations) work = ncfm_activations_new ();
  g_assert_no_error (error);
  NcfmBackend *be = ncfm_device_get_backend (dev);
  be->ops->fill_normal (be, (size_t) batch * 3 * 32 * 32, 1, 0, 1.0f, ncfm_tensor_f32 (x));

  double rate[2];
  for (int backward = 0; backward < 2; backward++) {
    gint64 t0 = 0;
    for (int i = -1; i < iters; i++) {      /* i = -1: warm-up */
      if (i == 0) {
        ncfm_device_synchronize (dev);
        t0 = g_get_monotonic_time ();
      }
      /* a fresh draw per batch, as matching does */
      g_autoptr (NcfmAugmentParams) p = ncfm_augment_draw (aug, (guint64) i + 7, batch, 32, 32,
          &error);
      if (!p || !ncfm_augment_params_apply (p, x, y, work, &error)
          || (backward && !ncfm_augment_params_backward (p, y, dx, work, &error)))
        g_error ("%s", error->message);
    }
    ncfm_device_synchronize (dev);
    rate[backward] = (double) batch * iters / ((g_get_monotonic_time () - t0) / 1e6);
  }
  fprintf (stderr, "# DSA %s, shared parameters, %d x 3x32x32, %d iters, device %s\n", STRATEGY,
      batch, iters, ncfm_device_get_name (dev));
  g_autofree gchar *b = g_strdup_printf ("%d", batch), *it = g_strdup_printf ("%d", iters);
  const char *torch_args[] = { "--batch", b, "--iters", it, "--threads", args.threads_str, NULL };
  /* the PyTorch side runs on the CPU only */
  JsonObject *torch = args.no_torch || ncfm_device_is_cuda (dev) ? NULL
      : bench_run_torch ("augment_torch.py", torch_args);
  bench_figure ("dsa_forward", rate[0], torch, "forward", "images/s", TRUE);
  bench_figure ("dsa_forward_backward", rate[1], torch, "forward_backward", "images/s", TRUE);
  if (torch)
    json_object_unref (torch);
  return 0;
}
