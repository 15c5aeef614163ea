/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-cf-structured: the characteristic function of one real batch at the
 * reference shapes (M = 4096 frequencies, d = 2048, n = 1024): phases x t^T
 * and the cos/sin sums, for a structured draw by fast Hadamard transforms
 * (ncfm_freq_draw_phases -> sorf_forward, O(n M log d)) against a Gaussian
 * draw by one GEMM (O(n M d)).  This bench compares two of ours: the
 * `pytorch` slot of the figure line holds our Gaussian GEMM path.
 *   cf_structured        seconds per CF, structured fast path vs Gaussian GEMM
 *   cf_structured_draw   seconds per structured draw (t built on the host)
 *   cf_gaussian_draw     seconds per Gaussian draw
 *   bench-cf-structured [--iters N] [--threads N] [--device SPEC] */
#include <math.h>
#include <stdio.h>
#include "bench-util.h"
#include "ncfm.h"

#define M 4096
#define D 2048
#define N 1024

typedef struct {
  NcfmTensor *x, *labels, *phase, *sum_cos, *sum_sin;
} Batch;

static void
cf (Batch *b, NcfmFreqDraw *draw)
{
  g_autoptr (GError) error = NULL;
  if (!ncfm_freq_draw_phases (draw, b->x, b->phase, &error))
    g_error ("%s", error->message);
  NcfmBackend *be = ncfm_device_get_backend (ncfm_tensor_get_device (b->x));
  be->ops->cf_accumulate (be, N, M, 1, ncfm_tensor_f32 (b->phase),
      (const int32_t *) ncfm_tensor_get_data (b->labels), ncfm_tensor_f32 (b->sum_cos),
      ncfm_tensor_f32 (b->sum_sin));
}

static double
seconds_per_cf (Batch *b, NcfmFreqDraw *draw, int iters, NcfmDevice *dev)
{
  cf (b, draw);
  ncfm_device_synchronize (dev);
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < iters; i++)
    cf (b, draw);
  ncfm_device_synchronize (dev);
  return (g_get_monotonic_time () - t0) / 1e6 / iters;
}

static NcfmFreqDraw *
timed_draw (NcfmSampler *s, double *seconds, NcfmDevice *dev)
{
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  NcfmFreqDraw *draw = ncfm_sampler_draw (s, NULL, TRUE, &error);
  ncfm_device_synchronize (dev);
  *seconds = (g_get_monotonic_time () - t0) / 1e6;
  if (!draw)
    g_error ("%s", error->message);
  return draw;
}

static NcfmTensor *
matrix (NcfmDevice *dev, NcfmDType dtype, gint64 rows, gint64 cols)
{
  g_autoptr (GError) error = NULL;
  gint64 shape[2] = { rows, cols };
  NcfmTensor *t = ncfm_tensor_new (dev, dtype, shape, cols ? 2 : 1, &error);
  if (!t)
    g_error ("%s", error->message);
  return t;
}

int
main (int argc, char **argv)
{
  BenchArgs args = { .iters = 3, .threads = 2 };
  if (!bench_parse_args (argc, argv, 0, &args))
    return 2;
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new (args.device, &error);
  if (!dev) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  NcfmBackend *be = ncfm_device_get_backend (dev);
  g_autoptr (NcfmTensor) raw = matrix (dev, NCFM_DTYPE_F32, N, D), norms = matrix (dev,
      NCFM_DTYPE_F32, N, 0);
  Batch b = { .x = matrix (dev, NCFM_DTYPE_F32, N, D), .labels = matrix (dev, NCFM_DTYPE_I32, N, 0),
    .phase = matrix (dev, NCFM_DTYPE_F32, N, M), .sum_cos = matrix (dev, NCFM_DTYPE_F32, 1, M),
    .sum_sin = matrix (dev, NCFM_DTYPE_F32, 1, M) };
  /* L2-normalised features, as the CF statistics use them; all class 0 */
  be->ops->fill_normal (be, (size_t) N * D, 1, 0, 1.0f, ncfm_tensor_f32 (raw));
  be->ops->l2norm_rows_forward (be, N, D, 1e-12f, ncfm_tensor_f32 (raw), ncfm_tensor_f32 (b.x),
      ncfm_tensor_f32 (norms));

  g_autoptr (NcfmSampler) gauss = ncfm_sampler_new_gaussian (dev, M, D, 1.0f, 2, &error);
  g_autoptr (NcfmSampler) sorf = ncfm_sampler_new_structured (dev, M, D, 1.0f, 2, &error);
  g_assert_no_error (error);
  double gauss_draw_s, sorf_draw_s;
  g_autoptr (NcfmFreqDraw) gd = timed_draw (gauss, &gauss_draw_s, dev);
  g_autoptr (NcfmFreqDraw) sd = timed_draw (sorf, &sorf_draw_s, dev);
  if (!ncfm_freq_draw_get_structure (sd, NULL, NULL))
    g_error ("the structured draw has no fast path");

  /* the fast path against a GEMM on the same structured t */
  g_autoptr (NcfmTensor) slow = matrix (dev, NCFM_DTYPE_F32, N, M);
  g_autoptr (NcfmTensor) fast = matrix (dev, NCFM_DTYPE_F32, N, M);
  be->ops->linear_forward (be, N, D, M, ncfm_tensor_f32 (b.x),
      ncfm_tensor_f32 (ncfm_freq_draw_get_t (sd)), NULL, ncfm_tensor_f32 (slow));
  if (!ncfm_freq_draw_phases (sd, b.x, fast, &error))
    g_error ("%s", error->message);
  g_autofree float *hs = g_new (float, (gsize) N * M), *hf = g_new (float, (gsize) N * M);
  be->ops->download (be, hs, ncfm_tensor_f32 (slow), sizeof (float) * N * M);
  be->ops->download (be, hf, ncfm_tensor_f32 (fast), sizeof (float) * N * M);
  double worst = 0;
  for (gsize i = 0; i < (gsize) N * M; i++)
    worst = fmax (worst, fabs (hs[i] - hf[i]));

  double sorf_s = seconds_per_cf (&b, sd, args.iters, dev);
  double gauss_s = seconds_per_cf (&b, gd, args.iters, dev);
  fprintf (stderr, "# CF of one batch: M=%d d=%d n=%d, %d iters, device %s; phases of the "
      "structured draw, fast path vs GEMM on its t: max |difference| %.2e\n", M, D, N, args.iters,
      ncfm_device_get_name (dev), worst);
  fprintf (stderr, "# cf_structured compares two of ours: 'ours' is the structured fast path, "
      "the 'pytorch' slot our Gaussian GEMM path\n");
  g_autoptr (JsonObject) ours_gemm = json_object_new ();
  json_object_set_double_member (ours_gemm, "gaussian_s", gauss_s);
  bench_figure ("cf_structured", sorf_s, ours_gemm, "gaussian_s", "s", FALSE);
  bench_figure_alone ("cf_structured_draw", sorf_draw_s, "s");
  bench_figure_alone ("cf_gaussian_draw", gauss_draw_s, "s");
  g_object_unref (b.x);
  g_object_unref (b.labels);
  g_object_unref (b.phase);
  g_object_unref (b.sum_cos);
  g_object_unref (b.sum_sin);
  return worst < 1e-3 ? 0 : 1;
}
