/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-roofline: where the time of the authors' class step goes
 * (pipeline_class_step_reference of bench-pipeline), part by part, at its
 * shapes, each part alone through libncfm on this machine, and the SGEMM
 * rate that bounds it:
 *   roofline_sgemm_cf      GFLOP/s of the real CF GEMM, X [1024, 2048] t^T
 *                          (t [4096, 2048]) over the OpenMP threads
 *   roofline_sgemm_wino    GFLOP/s of the Winograd GEMMs of the middle conv
 *                          layer ([128, 128] . [128, 256], one per thread)
 *   step_part_*            seconds per class step of each part:
 *     real_augment    the DSA (color_crop_cutout) of the 1024 real images
 *     real_extract    ConvNet-3 w128 instance norm features of the 1024 images
 *                     (chunks of 128, the extractor's default)
 *     gaussian_draw   t, 4096 x 2048 normals (ncfm_sampler_draw)
 *     real_cf_gemm    the phases X t^T alone (the backend's linear_forward)
 *     real_cf_sincos  cos/sin of the [1024, 4096] phases and their class sums
 *     real_cf_total   ncfm_cf_stats_accumulate (GEMM + sin/cos + sums)
 *     synthetic       ncfm_distiller_step_class without calibration: 40
 *                     decoded images, DSA, forward, NCFD, backward, AdamW
 *     calibration     what one calibration step through a trained member adds
 * `bench NAME: ours X UNIT, no pytorch counterpart` lines; a `#` line on
 * stderr gives each part's FLOPs and its time at the measured SGEMM rate.
 *   bench-roofline [--iters N] [--threads N] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "bench-util.h"
#include "ncfm.h"

#define N_REAL 1024
#define D 2048
#define M 4096
#define IPC 10
#define FACTOR 2
#define K 10
#define WIDTH 128

typedef struct {
  NcfmDevice *dev;
  NcfmModel *model, *trained;
  NcfmTensor *images, *augmented, *features, *labels, *t, *phase;
  NcfmAugment *augment;
  NcfmActivations *work, *acts;
  NcfmSampler *sampler;
  NcfmDistiller *distiller;
  float *wino_a, *wino_b, *wino_c, *sum_cos, *sum_sin;
} Ctx;

typedef void (*PartFn) (Ctx *c);

static void
check (gboolean ok, GError *error, const char *what)
{
  if (!ok) {
    fprintf (stderr, "bench-roofline: %s: %s\n", what, error ? error->message : "failed");
    exit (1);
  }
}

/* Mean seconds of one call over iters calls, after one warm-up call. */
static double
seconds (Ctx *c, PartFn fn, int iters)
{
  fn (c);
  ncfm_device_synchronize (c->dev);
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < iters; i++)
    fn (c);
  ncfm_device_synchronize (c->dev);
  return (g_get_monotonic_time () - t0) / 1e6 / iters;
}

static void
part_augment (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmAugmentParams) p = ncfm_augment_draw (c->augment, 7, N_REAL, 32, 32, &error);
  check (p && ncfm_augment_params_apply (p, c->images, c->augmented, c->work, &error), error,
      "augment");
}

static void
part_extract (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_clear_object (&c->features);
  c->features = ncfm_model_forward_features (c->model, c->augmented, 128, c->acts, &error);
  check (c->features != NULL, error, "extract");
}

static void
part_draw (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmFreqDraw) draw = ncfm_sampler_draw (c->sampler, NULL, TRUE, &error);
  check (draw != NULL, error, "draw");
  g_set_object (&c->t, ncfm_freq_draw_get_t (draw));
}

static void
part_cf_gemm (Ctx *c)
{
  NcfmBackend *be = ncfm_device_get_backend (c->dev);
  be->ops->linear_forward (be, N_REAL, D, M, ncfm_tensor_f32 (c->features),
      ncfm_tensor_f32 (c->t), NULL, ncfm_tensor_f32 (c->phase));
}

static void
part_cf_sincos (Ctx *c)
{
  NcfmBackend *be = ncfm_device_get_backend (c->dev);
  be->ops->cf_accumulate (be, N_REAL, M, K, ncfm_tensor_f32 (c->phase),
      ncfm_tensor_get_data (c->labels), c->sum_cos, c->sum_sin);
}

static void
part_cf_total (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmCFStats) stats = ncfm_cf_stats_new (c->dev, K, M, D, FALSE, &error);
  check (stats && ncfm_cf_stats_accumulate (stats, c->features, c->labels, c->t, &error), error,
      "cf stats");
}

static double
step_seconds (Ctx *c, gboolean calibrate, int iters)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmCFStats) stats = ncfm_cf_stats_new (c->dev, K, M, D, FALSE, &error);
  g_autoptr (NcfmFreqDraw) draw = ncfm_sampler_draw (c->sampler, NULL, TRUE, &error);
  check (stats && draw && ncfm_cf_stats_accumulate (stats, c->features, c->labels,
          ncfm_freq_draw_get_t (draw), &error), error, "step stats");
  g_autoptr (NcfmAugmentParams) p = ncfm_augment_draw (c->augment, 3, IPC * FACTOR * FACTOR,
      32, 32, &error);
  check (p != NULL, error, "step augment");
  ncfm_distiller_set_calibration (c->distiller, calibrate ? 1.0f : 0.0f);
  gint64 t0 = 0;
  for (int i = -1; i < iters; i++) {   /* one warm-up */
    if (i == 0)
      t0 = g_get_monotonic_time ();
    gdouble loss;
    gboolean skipped;
    check (ncfm_distiller_step_class (c->distiller, 0, stats, draw, c->features, c->labels,
            c->model, calibrate ? c->trained : NULL, p, &loss, &skipped, &error), error, "step");
    ncfm_distiller_end_step (c->distiller);
  }
  ncfm_device_synchronize (c->dev);
  return (g_get_monotonic_time () - t0) / 1e6 / iters;
}

/* GFLOP/s of the Winograd layer's GEMM shape, one single-threaded SGEMM per thread. */
static double
wino_gflops (Ctx *c, int iters)
{
  const int n = 256, per = 16 * 4;   /* 16 GEMMs a group, 4 groups */
  gint64 t0 = g_get_monotonic_time ();
#pragma omp parallel
  {
    const size_t off = (size_t) omp_get_thread_num () * WIDTH * n;
    for (int i = 0; i < iters * per; i++)
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, WIDTH, n, WIDTH, 1.0f, c->wino_a,
          WIDTH, c->wino_b + off, n, 0.0f, c->wino_c + off, n);
  }
  const double secs = (g_get_monotonic_time () - t0) / 1e6;
  return 2.0 * WIDTH * WIDTH * n * per * iters * omp_get_max_threads () / secs / 1e9;
}

static NcfmSynset *
make_synset (NcfmDevice *dev)
{
  g_autoptr (GError) error = NULL;
  const guint n = K * IPC * FACTOR * FACTOR;
  g_autofree guint8 *pix = g_malloc ((gsize) n * 3 * 32 * 32);
  g_autofree gint32 *lab = g_new (gint32, n);
  for (gsize i = 0; i < (gsize) n * 3 * 32 * 32; i++)
    pix[i] = (guint8) (i * 2654435761u >> 24);
  for (guint i = 0; i < n; i++)
    lab[i] = (gint32) (i % K);
  g_autoptr (GBytes) images = g_bytes_new (pix, (gsize) n * 3 * 32 * 32);
  g_autoptr (GBytes) labels = g_bytes_new (lab, n * sizeof (gint32));
  g_autoptr (NcfmDataset) ds = ncfm_dataset_new_from_data ("bench", NCFM_DTYPE_U8, n, 3, 32, 32,
      images, labels, NULL, NULL, NULL, &error);
  check (ds != NULL, error, "dataset");
  NcfmSynset *set = ncfm_synset_new (ds, IPC, FACTOR, dev, &error);
  check (set && ncfm_synset_init_images (set, ds, NCFM_SYNSET_INIT_MIX, 1, &error), error,
      "synthetic set");
  return set;
}

static NcfmTensor *
random_tensor (NcfmDevice *dev, const gint64 *shape, guint nd, float lo, float hi)
{
  g_autoptr (GError) error = NULL;
  gsize count = 1;
  for (guint i = 0; i < nd; i++)
    count *= (gsize) shape[i];
  g_autofree float *x = g_new (float, count);
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  for (gsize i = 0; i < count; i++)
    x[i] = (float) g_rand_double_range (rand, lo, hi);
  NcfmTensor *t = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, shape, nd, (guint8 *) x,
      count * sizeof (float), &error);
  check (t != NULL, error, "tensor");
  return t;
}

int
main (int argc, char **argv)
{
  BenchArgs args = { .iters = 3, .threads = 2 };
  if (!bench_parse_args (argc, argv, 0, &args))
    return 2;
  const int it = args.iters;
  g_autoptr (GError) error = NULL;
  Ctx c = { 0 };
  c.dev = ncfm_device_new ("cpu", &error);
  check (c.dev != NULL, error, "device");
  c.model = NCFM_MODEL (ncfm_convnet_new (c.dev, 3, 32, 32, K, 3, WIDTH, NCFM_NORM_INSTANCE, 1,
          &error));
  c.trained = NCFM_MODEL (ncfm_convnet_new (c.dev, 3, 32, 32, K, 3, WIDTH, NCFM_NORM_INSTANCE,
          2, &error));
  check (c.model && c.trained, error, "models");
  ncfm_model_set_frozen (c.model, TRUE);
  ncfm_model_set_frozen (c.trained, TRUE);
  const gint64 img[4] = { N_REAL, 3, 32, 32 }, nm[2] = { N_REAL, M }, nl = N_REAL;
  c.images = random_tensor (c.dev, img, 4, -2.0f, 2.0f);
  c.augmented = random_tensor (c.dev, img, 4, 0.0f, 0.0f);
  c.phase = random_tensor (c.dev, nm, 2, 0.0f, 0.0f);
  g_autofree gint32 *zeros = g_new0 (gint32, N_REAL);
  c.labels = ncfm_tensor_new_from_data (c.dev, NCFM_DTYPE_I32, &nl, 1, (guint8 *) zeros,
      N_REAL * sizeof (gint32), &error);
  c.augment = ncfm_augment_new ("color_crop_cutout", NCFM_AUGMENT_SHARED, &error);
  check (c.labels && c.augment, error, "labels, augment");
  c.work = ncfm_activations_new ();
  c.acts = ncfm_activations_new ();
  c.sampler = ncfm_sampler_new_gaussian (c.dev, M, D, 1.0f, 1, &error);
  check (c.sampler != NULL, error, "sampler");
  g_autoptr (NcfmSynset) set = make_synset (c.dev);
  c.distiller = ncfm_distiller_new (set, NCFM_METRIC_NCFD, 0.5f, 0.5f, &error);
  check (c.distiller != NULL, error, "distiller");
  ncfm_distiller_set_optimizer (c.distiller, 0.01f, 0.0f);
  c.wino_a = g_new0 (float, WIDTH * WIDTH);
  c.wino_b = g_new0 (float, (gsize) WIDTH * 256 * args.threads);
  c.wino_c = g_new0 (float, (gsize) WIDTH * 256 * args.threads);
  c.sum_cos = g_new0 (float, K * M);
  c.sum_sin = g_new0 (float, K * M);

  /* FLOPs: the CF GEMM 2 n d m; the ConvNet as run (Winograd F(2x2,3x3) on
   * the two wide layers: 16/36 of the direct multiply-adds; the first layer
   * direct), forward only for the real side */
  const double conv_direct = 2.0 * 9 * (3.0 * WIDTH * 32 * 32 + (double) WIDTH * WIDTH * 16 * 16
      + (double) WIDTH * WIDTH * 8 * 8);
  const double conv_run = 2.0 * 9 * 3.0 * WIDTH * 32 * 32
      + 16.0 / 36 * 2.0 * 9 * ((double) WIDTH * WIDTH * 16 * 16 + (double) WIDTH * WIDTH * 8 * 8);
  const double cf_flop = 2.0 * N_REAL * D * M;
  const int n_syn = IPC * FACTOR * FACTOR;
  /* synthetic: forward + input backward (2 GEMM passes; frozen weights) and
   * its CF: phases, dL/dX (2 GEMMs of 2 n d m) */
  const double syn_flop = 3.0 * n_syn * conv_run + 2.0 * 2.0 * n_syn * D * M;
  const double calib_flop = 3.0 * n_syn * conv_run;

  part_augment (&c);
  part_extract (&c);
  part_draw (&c);
  part_cf_gemm (&c);
  const double s_sgemm_cf = seconds (&c, part_cf_gemm, it);
  const double wino = wino_gflops (&c, it * 20);
  const double cf_rate = cf_flop / s_sgemm_cf / 1e9;
  const double t_aug = seconds (&c, part_augment, it);
  const double t_ext = seconds (&c, part_extract, it);
  const double t_draw = seconds (&c, part_draw, it);
  const double t_sincos = seconds (&c, part_cf_sincos, it);
  const double t_cf = seconds (&c, part_cf_total, it);
  const double t_syn = step_seconds (&c, FALSE, it);
  const double t_cal = step_seconds (&c, TRUE, it) - t_syn;
  const double total = t_aug + t_ext + t_draw + t_cf + t_syn + t_cal;
  const double roof = (N_REAL * conv_run + syn_flop + calib_flop) / (wino * 1e9)
      + cf_flop / (cf_rate * 1e9);
  fprintf (stderr, "# %d threads, %d iterations; ConvNet-3 w%d: %.1f MFLOP/image direct, %.1f "
      "as run\n# FLOP and time at the measured SGEMM rate (CF %.0f, Winograd %.0f GFLOP/s): "
      "extract %.1f GFLOP %.3f s; CF GEMM %.1f GFLOP %.3f s; synthetic %.1f GFLOP %.3f s; "
      "calibration %.1f GFLOP %.3f s; roofline %.3f s; parts here sum to %.3f s\n", args.threads,
      it, WIDTH, conv_direct / 1e6, conv_run / 1e6, cf_rate, wino, N_REAL * conv_run / 1e9,
      N_REAL * conv_run / (wino * 1e9), cf_flop / 1e9, cf_flop / (cf_rate * 1e9), syn_flop / 1e9,
      syn_flop / (wino * 1e9), calib_flop / 1e9, calib_flop / (wino * 1e9), roof, total);
  const struct { const char *name; double value; const char *unit; } figures[] = {
    { "roofline_sgemm_cf", cf_rate, "GFLOP/s" }, { "roofline_sgemm_wino", wino, "GFLOP/s" },
    { "step_part_real_augment", t_aug, "s" }, { "step_part_real_extract", t_ext, "s" },
    { "step_part_gaussian_draw", t_draw, "s" }, { "step_part_real_cf_gemm", s_sgemm_cf, "s" },
    { "step_part_real_cf_sincos", t_sincos, "s" }, { "step_part_real_cf_total", t_cf, "s" },
    { "step_part_synthetic", t_syn, "s" }, { "step_part_calibration", t_cal, "s" },
    { "step_parts_sum", total, "s" }, { "step_roofline", roof, "s" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (figures); i++)
    bench_figure_alone (figures[i].name, figures[i].value, figures[i].unit);

  g_free (c.wino_a);
  g_free (c.wino_b);
  g_free (c.wino_c);
  g_free (c.sum_cos);
  g_free (c.sum_sin);
  g_clear_object (&c.features);
  g_clear_object (&c.t);
  g_object_unref (c.distiller);
  g_object_unref (c.sampler);
  g_object_unref (c.acts);
  g_object_unref (c.work);
  g_object_unref (c.augment);
  g_object_unref (c.labels);
  g_object_unref (c.phase);
  g_object_unref (c.augmented);
  g_object_unref (c.images);
  g_object_unref (c.trained);
  g_object_unref (c.model);
  g_object_unref (c.dev);
  return 0;
}
