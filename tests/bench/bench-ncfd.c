/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-ncfd: the NCFD loss forward + backward at the reference shapes
 * (M = 4096 frequencies, d = 2048, N_real = 1024, N_syn = 40, one class),
 * ours and PyTorch's side by side in one run:
 *   ncfd_syn     real CF + loss + dL/dsynthetic features
 *   ncfd_syn_t   the same + dL/dt from both sides
 *   ncfd_peak_extra_memory   growth of the peak RSS over the inputs
 * Prints `bench NAME: ours X UNIT, pytorch Y UNIT, ratio R` (R > 1: ours better).
 *   bench-ncfd [--iters N] [--threads N] [--device SPEC] [--no-torch] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench-util.h"
#include "ncfm.h"

#define M 4096
#define D 2048
#define NR 1024
#define NS 40

typedef struct {
  NcfmCFStats *stats;
  NcfmNcfd *loss;
  NcfmTensor *real, *lr, *syn, *ls, *t;
} Job;

static void
step (Job *j, gboolean grad_t)
{
  g_autoptr (GError) error = NULL;
  ncfm_cf_stats_reset (j->stats);
  if (!ncfm_cf_stats_accumulate (j->stats, j->real, j->lr, j->t, &error)
      || !ncfm_ncfd_synthetic (j->loss, j->stats, j->syn, j->ls, j->t, grad_t, &error)
      || (grad_t && !ncfm_ncfd_real_backward (j->loss, j->real, j->lr, FALSE, &error)))
    g_error ("%s", error->message);
}

static double
ms_per_step (Job *j, gboolean grad_t, int iters, NcfmDevice *dev)
{
  step (j, grad_t);
  ncfm_device_synchronize (dev);
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < iters; i++)
    step (j, grad_t);
  ncfm_device_synchronize (dev);
  return (g_get_monotonic_time () - t0) / 1e3 / iters;
}

static NcfmTensor *
normal (NcfmDevice *dev, gint64 rows, gint64 cols, guint64 seed)
{
  gint64 shape[2] = { rows, cols };
  NcfmTensor *x = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 2, NULL);
  NcfmBackend *be = ncfm_device_get_backend (dev);
  be->ops->fill_normal (be, (size_t) rows * cols, seed, 0, 1.0f, ncfm_tensor_f32 (x));
  return x;
}

int
main (int argc, char **argv)
{
  BenchArgs args = { .iters = 3, .threads = 2 };
  if (!bench_parse_args (argc, argv, 0, &args))
    return 2;
  const int iters = args.iters;
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new (args.device, &error);
  if (!dev) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  Job j = { 0 };
  j.real = normal (dev, NR, D, 1);
  j.syn = normal (dev, NS, D, 2);
  j.t = normal (dev, M, D, 3);
  gint64 nr[1] = { NR }, ns[1] = { NS };
  j.lr = ncfm_tensor_new (dev, NCFM_DTYPE_I32, nr, 1, &error);
  j.ls = ncfm_tensor_new (dev, NCFM_DTYPE_I32, ns, 1, &error);   /* all class 0 */
  j.stats = ncfm_cf_stats_new (dev, 1, M, D, TRUE, &error);
  j.loss = ncfm_ncfd_new (dev, NCFM_METRIC_NCFD, 0.5f, 0.5f, NULL);
  g_assert_no_error (error);
  double base = bench_peak_rss_mb ();
  guint64 inputs = ncfm_device_get_bytes_in_use (dev);
  ncfm_device_reset_peak_bytes (dev);
  double syn_ms = ms_per_step (&j, FALSE, iters, dev);
  double syn_peak = (ncfm_device_get_peak_bytes (dev) - inputs) / 1048576.0;
  ncfm_device_reset_peak_bytes (dev);
  double syn_t_ms = ms_per_step (&j, TRUE, iters, dev);
  double syn_t_peak = (ncfm_device_get_peak_bytes (dev) - inputs) / 1048576.0;
  double extra = bench_peak_rss_mb () - base;

  fprintf (stderr, "# NCFD M=%d d=%d N_real=%d N_syn=%d, %d iters, device %s; one M x N_real "
      "float32 block = %.0f MB\n", M, D, NR, NS, iters, ncfm_device_get_name (dev),
      (double) M * NR * 4 / (1 << 20));
  /* device memory above the inputs, counted by the backend; the dL/dt output
   * alone is M x d floats (32 MB) */
  fprintf (stderr, "# tensor memory above the inputs: %.1f MB (ncfd_syn), %.1f MB (ncfd_syn_t, "
      "incl. the %.0f MB dL/dt)\n", syn_peak, syn_t_peak, (double) M * D * 4 / (1 << 20));
  g_autofree gchar *it = g_strdup_printf ("%d", iters);
  const char *torch_args[] = { "--iters", it, "--threads", args.threads_str, "--device",
    ncfm_device_is_cuda (dev) ? "cuda" : "cpu", NULL };
  JsonObject *torch = args.no_torch ? NULL : bench_run_torch ("ncfd_torch.py", torch_args);
  bench_figure ("ncfd_syn", syn_ms, torch, "syn_ms", "ms", FALSE);
  bench_figure ("ncfd_syn_t", syn_t_ms, torch, "syn_t_ms", "ms", FALSE);
  if (!ncfm_device_is_cuda (dev))
    bench_figure ("ncfd_peak_extra_memory", extra, torch, "peak_extra_mb", "MB", FALSE);
  if (torch)
    json_object_unref (torch);
  g_object_unref (j.real);
  g_object_unref (j.syn);
  g_object_unref (j.t);
  g_object_unref (j.lr);
  g_object_unref (j.ls);
  g_object_unref (j.stats);
  g_object_unref (j.loss);
  return 0;
}
