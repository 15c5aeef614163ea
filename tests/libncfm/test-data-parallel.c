/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Data parallel without GStreamer.  In one process: the communicator is
 * refused naming the slices when the process was not launched as those
 * ranks; the set's checksum follows its pixels; the reduction over one rank
 * changes nothing.  Under mpirun (scenario "reduce"): each rank accumulates
 * its half of a batch, and the reduced statistics equal one process's
 * statistics of the whole batch (counts exactly, sums to float rounding). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "libncfm-test.h"

#define K 3
#define N 24          /* the whole batch; each of 2 ranks takes every other row */
#define D 8
#define M 16

static void
make_batch (NcfmDevice *dev, guint first, guint step, NcfmTensor **features,
    NcfmTensor **labels)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  gfloat all_x[N * D];
  for (guint i = 0; i < N * D; i++)
    all_x[i] = (gfloat) g_rand_double_range (rand, -1.0, 1.0);
  const guint n = (N - first + step - 1) / step;
  g_autofree gfloat *x = g_new (gfloat, n * D);
  g_autofree gint32 *y = g_new (gint32, n);
  for (guint j = 0, i = first; i < N; i += step, j++) {
    memcpy (x + j * D, all_x + i * D, D * sizeof (gfloat));
    y[j] = (gint32) (i % K);
  }
  const gint64 xs[2] = { n, D }, ys[1] = { n };
  *features = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, xs, 2, (const guint8 *) x,
      n * D * sizeof (gfloat), &error);
  *labels = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_I32, ys, 1, (const guint8 *) y,
      n * sizeof (gint32), &error);
  g_assert_no_error (error);
}

/* The statistics of rows first, first + step, ... of the batch at the seed-3 frequencies. */
static NcfmCFStats *
batch_stats (NcfmDevice *dev, guint first, guint step)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmSampler) sampler = ncfm_sampler_new_gaussian (dev, M, D, 1.0f, 3, &error);
  g_autoptr (NcfmTensor) t = ncfm_sampler_sample (sampler, &error);
  g_autoptr (NcfmTensor) x = NULL, y = NULL;
  make_batch (dev, first, step, &x, &y);
  NcfmCFStats *stats = ncfm_cf_stats_new (dev, K, M, D, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_cf_stats_accumulate (stats, x, y, t, &error));
  g_assert_no_error (error);
  return stats;
}

static void
assert_stats_match (NcfmCFStats *got, NcfmCFStats *want)
{
  for (guint c = 0; c < K; c++)
    g_assert_cmpint (ncfm_cf_stats_get_count (got, c), ==, ncfm_cf_stats_get_count (want, c));
  NcfmTensor *pairs[3][2] = {
    { ncfm_cf_stats_get_sum_cos (got), ncfm_cf_stats_get_sum_cos (want) },
    { ncfm_cf_stats_get_sum_sin (got), ncfm_cf_stats_get_sum_sin (want) },
    { ncfm_cf_stats_get_sum_features (got), ncfm_cf_stats_get_sum_features (want) },
  };
  for (guint i = 0; i < 3; i++) {
    g_autofree float *g = ncfm_test_tensor_host (pairs[i][0]);
    g_autofree float *w = ncfm_test_tensor_host (pairs[i][1]);
    /* sums of at most N terms of magnitude <= 1, added in another order */
    for (gint64 j = 0; j < ncfm_tensor_get_numel (pairs[i][0]); j++)
      g_assert_cmpfloat (fabsf (g[j] - w[j]), <=, 2 * FLT_EPSILON * N * (1.0f + fabsf (w[j])));
  }
}

static void
test_comm_not_launched (void)
{
  if (ncfm_comm_launched (NULL, NULL)) {
    g_test_skip ("the test itself runs under a launcher");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmComm) comm = ncfm_data_parallel_comm_new (1, 2, &error);
  g_assert_null (comm);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "Data parallel over 2 slices (slice 1)"));
  g_assert_nonnull (strstr (error->message, ncfm_comm_built_with_mpi ()
          ? "but it is rank 0 of 1 (not launched by mpirun or srun)"
          : "libncfm was built without it"));
}

static void
test_checksum (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autofree guint8 *px = g_new0 (guint8, 6 * 8 * 8);
  gint32 lab[6] = { 0, 1, 2, 0, 1, 2 };
  for (guint i = 0; i < 6 * 8 * 8; i++)
    px[i] = (guint8) (i * 7);
  g_autoptr (GBytes) img = g_bytes_new (px, 6 * 8 * 8);
  g_autoptr (GBytes) labels = g_bytes_new (lab, sizeof lab);
  g_autoptr (NcfmDataset) ds = ncfm_dataset_new_from_data ("toy", NCFM_DTYPE_U8, 6, 1, 8, 8, img,
      labels, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  NcfmSynset *sets[2];
  for (guint i = 0; i < 2; i++) {
    sets[i] = ncfm_synset_new (ds, 1, 1, dev, &error);
    g_assert_no_error (error);
    g_assert_true (ncfm_synset_init_images (sets[i], ds, NCFM_SYNSET_INIT_NOISE, 4, &error));
  }
  g_assert_cmpuint (ncfm_synset_checksum (sets[0]), ==, ncfm_synset_checksum (sets[1]));
  /* one pixel of class 2 changed: another checksum */
  NcfmTensor *images = ncfm_synset_get_images (sets[1], 2);
  g_autofree float *h = ncfm_test_tensor_host (images);
  h[5] += 0.125f;
  g_assert_true (ncfm_tensor_set_data (images, (const guint8 *) h,
          ncfm_tensor_get_n_bytes (images), &error));
  g_assert_cmpuint (ncfm_synset_checksum (sets[0]), !=, ncfm_synset_checksum (sets[1]));
  /* one rank agrees with itself */
  g_autoptr (NcfmComm) single = ncfm_comm_new_single ();
  g_assert_true (ncfm_data_parallel_check_set (single, sets[1], 3, &error));
  g_assert_no_error (error);
  g_object_unref (sets[0]);
  g_object_unref (sets[1]);
}

static void
test_allreduce_single (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmCFStats) stats = batch_stats (dev, 0, 1);
  g_autoptr (NcfmCFStats) same = batch_stats (dev, 0, 1);
  g_autoptr (NcfmComm) single = ncfm_comm_new_single ();
  g_assert_true (ncfm_cf_stats_allreduce (stats, single, &error));
  g_assert_no_error (error);
  assert_stats_match (stats, same);
}

/* Under mpirun -np 2: rank r holds rows r, r + 2, ... of the batch. */
static int
scenario_reduce (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  guint rank = 0, size = 1;
  ncfm_comm_launched (&rank, &size);
  g_autoptr (NcfmComm) comm = ncfm_data_parallel_comm_new (rank, size, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (size, ==, 2);
  g_autoptr (NcfmCFStats) mine = batch_stats (dev, rank, 2);
  g_autoptr (NcfmCFStats) whole = batch_stats (dev, 0, 1);
  g_assert_true (ncfm_cf_stats_allreduce (mine, comm, &error));
  g_assert_no_error (error);
  assert_stats_match (mine, whole);

  /* the shared Gaussian draw (each rank fills its share of the rows, then an
   * allgather) is bit for bit the unshared one, at an odd row count (uneven
   * shares) and after a seek, and the stream goes on from the same place */
  for (guint seek = 0; seek < 2; seek++) {
    g_autoptr (NcfmSampler) shared = ncfm_sampler_new_gaussian (dev, 37, 5, 0.5f, 11, &error);
    g_autoptr (NcfmSampler) alone = ncfm_sampler_new_gaussian (dev, 37, 5, 0.5f, 11, &error);
    g_assert_no_error (error);
    ncfm_sampler_seek_draw (shared, 3 * seek);
    ncfm_sampler_seek_draw (alone, 3 * seek);
    for (guint k = 0; k < 2; k++) {
      g_autoptr (NcfmFreqDraw) a = ncfm_sampler_draw_shared (shared, comm, &error);
      g_assert_no_error (error);
      g_autoptr (NcfmFreqDraw) b = ncfm_sampler_draw (alone, NULL, TRUE, &error);
      g_assert_no_error (error);
      g_autoptr (GBytes) ta = ncfm_tensor_to_bytes (ncfm_freq_draw_get_t (a));
      g_autoptr (GBytes) tb = ncfm_tensor_to_bytes (ncfm_freq_draw_get_t (b));
      g_assert_true (g_bytes_equal (ta, tb));
      g_assert_cmpuint (ncfm_freq_draw_get_index (a), ==, ncfm_freq_draw_get_index (b));
    }
    g_assert_cmpuint (ncfm_sampler_get_offset (shared), ==, ncfm_sampler_get_offset (alone));
  }
  g_printerr ("rank %u: ok\n", rank);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc == 2 && !strcmp (argv[1], "reduce"))
    return scenario_reduce ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/data-parallel/comm-not-launched", test_comm_not_launched);
  g_test_add_func ("/data-parallel/checksum", test_checksum);
  g_test_add_func ("/data-parallel/allreduce-single", test_allreduce_single);
  return g_test_run ();
}
