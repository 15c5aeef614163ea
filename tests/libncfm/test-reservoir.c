/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-reservoir.c: NcfmReservoir: inclusion is uniform over a long stream
 * (every position within 5 binomial standard deviations of capacity / n,
 * and a chi-square bound over all positions), memory stays within its
 * bound, a batch is a distinct subset of the stored images, the batch
 * emission policy, save/load bitwise round trips and a resumed run equal to
 * an uninterrupted one, and clean errors on bad files. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "libncfm-test.h"

/* a one-float image whose value is its stream position */
static NcfmReservoir *
feed (NcfmReservoir *r, guint class_id, guint from, guint to)
{
  for (guint i = from; i < to; i++) {
    const gfloat v = (gfloat) i;
    ncfm_reservoir_add (r, class_id, &v, 1);
  }
  return r;
}

static void
test_uniform_inclusion (void)
{
  /* R independent runs of a stream of N images into a class of capacity M:
   * image i is kept with probability p = M / N in each, so its count is
   * Binomial (R, p) */
  const guint N = 400, M = 20, R = 2000;
  g_autofree guint *kept = g_new0 (guint, N);
  g_autofree gfloat *batch = g_new (gfloat, M);
  for (guint run = 0; run < R; run++) {
    g_autoptr (NcfmReservoir) r = ncfm_reservoir_new (1, M, 1, 1, 1, run);
    feed (r, 0, 0, N);
    g_assert_cmpuint (ncfm_reservoir_get_n_stored (r, 0), ==, M);
    g_assert_cmpuint (ncfm_reservoir_draw_into (r, 0, M, batch), ==, M);
    for (guint j = 0; j < M; j++)
      kept[(guint) batch[j]]++;
  }
  const gdouble p = (gdouble) M / N, mean = R * p, sd = sqrt (R * p * (1 - p));
  gdouble chi2 = 0.0;
  guint total = 0;
  for (guint i = 0; i < N; i++) {
    total += kept[i];
    g_assert_cmpfloat (fabs (kept[i] - mean), <, 5 * sd);
    chi2 += (kept[i] - mean) * (kept[i] - mean) / mean;
  }
  g_assert_cmpuint (total, ==, R * M);
  /* N - 1 = 399 degrees of freedom: mean 399, sd sqrt (798) = 28; 5 sd above */
  g_test_message ("chi-square %.1f over %u positions", chi2, N);
  g_assert_cmpfloat (chi2, <, 399 + 5 * sqrt (798.0));
  /* and the early images are not favoured: the first and the last halves agree */
  guint first = 0;
  for (guint i = 0; i < N / 2; i++)
    first += kept[i];
  g_assert_cmpfloat (fabs (first - total / 2.0), <, 5 * sqrt (total / 4.0));
}

static void
test_memory_bound (void)
{
  const guint K = 3, M = 50, C = 3, H = 8, W = 8;
  g_autoptr (NcfmReservoir) r = ncfm_reservoir_new (K, M, C, H, W, 7);
  g_autofree gfloat *img = g_new0 (gfloat, C * H * W);
  const gsize bound = (gsize) K * M * C * H * W * sizeof (gfloat);
  g_assert_cmpuint (ncfm_reservoir_get_max_bytes (r), ==, bound);
  g_assert_cmpuint (ncfm_reservoir_get_bytes (r), ==, 0);
  guint counts[3] = { 0 };
  for (guint i = 0; i < 100 * M; i++) {
    /* class 2 sees only a few images: it takes only what it needs */
    const guint c = i % 2 ? 0 : (i % 200 == 0 ? 2 : 1);
    counts[ncfm_reservoir_add (r, c, img, C * H * W)]++;
    g_assert_cmpuint (ncfm_reservoir_get_bytes (r), <=, bound);
  }
  g_assert_cmpuint (counts[NCFM_RESERVOIR_STORED], ==, 2 * M + 100 * M / 200);
  g_assert_cmpuint (counts[NCFM_RESERVOIR_REPLACED] + counts[NCFM_RESERVOIR_DISCARDED], ==,
      100 * M - counts[NCFM_RESERVOIR_STORED]);
  g_assert_cmpuint (ncfm_reservoir_get_n_stored (r, 2), ==, 100 * M / 200);
  g_assert_cmpuint (ncfm_reservoir_get_bytes (r), <, bound);
  g_assert_cmpuint (ncfm_reservoir_get_n_seen (r, 0), ==, 50 * M);
}

static void
test_draw (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmReservoir) r = ncfm_reservoir_new (2, 10, 1, 1, 1, 3);
  feed (r, 1, 100, 106);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) none = ncfm_reservoir_draw (r, dev, 0, 4, &error);
  g_assert_null (none);
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_clear_error (&error);
  /* a draw: distinct stored images; fewer stored than asked: all of them */
  for (guint want = 4; want <= 8; want += 4) {
    g_autoptr (NcfmTensor) t = ncfm_reservoir_draw (r, dev, 1, want, &error);
    g_assert_no_error (error);
    const guint n = MIN (want, 6u);
    g_assert_cmpint (ncfm_tensor_get_dim (t, 0), ==, n);
    g_autofree gfloat *v = ncfm_test_tensor_host (t);
    guint seen = 0;
    for (guint i = 0; i < n; i++) {
      g_assert_cmpfloat (v[i], >=, 100);
      g_assert_cmpfloat (v[i], <, 106);
      g_assert_false (seen & (1u << ((guint) v[i] - 100)));
      seen |= 1u << ((guint) v[i] - 100);
    }
  }
  g_assert_cmpuint (ncfm_reservoir_get_n_draws (r, 1), ==, 2);
  g_assert_cmpuint (ncfm_reservoir_get_n_new (r, 1), ==, 0);
}

static void
test_emission_policy (void)
{
  /* batches of 4, min-new 3, three classes */
  g_autoptr (NcfmReservoir) r = ncfm_reservoir_new (3, 8, 1, 1, 1, 0);
  gfloat buf[4];
  feed (r, 1, 0, 3);
  g_assert_cmpint (ncfm_reservoir_next_ready (r, 4, 3, 0), ==, -1);  /* 3 stored < 4 */
  feed (r, 1, 3, 4);
  g_assert_cmpint (ncfm_reservoir_next_ready (r, 4, 3, 0), ==, 1);
  g_assert_cmpuint (ncfm_reservoir_draw_into (r, 1, 4, buf), ==, 4);
  g_assert_cmpint (ncfm_reservoir_next_ready (r, 4, 3, 0), ==, -1);  /* no new images */
  feed (r, 1, 4, 6);
  g_assert_cmpint (ncfm_reservoir_next_ready (r, 4, 3, 0), ==, -1);  /* 2 new < 3 */
  feed (r, 1, 6, 7);
  g_assert_cmpint (ncfm_reservoir_next_ready (r, 4, 3, 0), ==, 1);
  /* two ready classes: round robin from `start` */
  feed (r, 2, 0, 5);
  g_assert_cmpint (ncfm_reservoir_next_ready (r, 4, 3, 0), ==, 1);
  g_assert_cmpint (ncfm_reservoir_next_ready (r, 4, 3, 2), ==, 2);
  g_assert_cmpint (ncfm_reservoir_next_ready (r, 4, 3, 3 % 3), ==, 1);
  /* the end of a stream: any class with something new, in a smaller batch */
  feed (r, 0, 0, 2);
  g_assert_cmpint (ncfm_reservoir_next_ready (r, 1, 1, 0), ==, 0);
  g_assert_cmpuint (ncfm_reservoir_draw_into (r, 0, 4, buf), ==, 2);
}

static gchar *
read_file (const gchar *path, gsize *len)
{
  gchar *data = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &data, len, &error));
  return data;
}

static void
assert_same_file (const gchar *a, const gchar *b)
{
  gsize la, lb;
  g_autofree gchar *da = read_file (a, &la), *db = read_file (b, &lb);
  g_assert_cmpmem (da, la, db, lb);
}

static void
test_save_load (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("ncfm-reservoir-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree gchar *a = g_build_filename (dir, "a.safetensors", NULL);
  g_autofree gchar *b = g_build_filename (dir, "b.safetensors", NULL);
  g_autofree gchar *c = g_build_filename (dir, "c.safetensors", NULL);
  gfloat buf[6];

  /* an uninterrupted run: 3 classes, 500 images, two draws in between */
  g_autoptr (NcfmReservoir) whole = ncfm_reservoir_new (3, 6, 1, 1, 1, 11);
  feed (whole, 0, 0, 200);
  feed (whole, 2, 0, 50);
  ncfm_reservoir_draw_into (whole, 0, 4, buf);
  feed (whole, 0, 200, 400);
  ncfm_reservoir_draw_into (whole, 0, 4, buf);
  g_assert_true (ncfm_reservoir_save (whole, c, &error));

  /* the same, saved and loaded half way */
  g_autoptr (NcfmReservoir) first = ncfm_reservoir_new (3, 6, 1, 1, 1, 11);
  feed (first, 0, 0, 200);
  feed (first, 2, 0, 50);
  ncfm_reservoir_draw_into (first, 0, 4, buf);
  g_assert_true (ncfm_reservoir_save (first, a, &error));
  g_assert_no_error (error);
  g_autoptr (NcfmReservoir) again = ncfm_reservoir_new_from_file (a, &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_reservoir_save (again, b, &error));
  assert_same_file (a, b);   /* a bitwise round trip */
  g_assert_cmpuint (ncfm_reservoir_get_n_stored (again, 1), ==, 0);
  g_assert_cmpuint (ncfm_reservoir_get_n_new (again, 2), ==, 50);
  g_assert_cmpuint (ncfm_reservoir_get_seed (again), ==, 11);
  feed (again, 0, 200, 400);
  ncfm_reservoir_draw_into (again, 0, 4, buf);
  g_assert_true (ncfm_reservoir_save (again, b, &error));
  assert_same_file (b, c);   /* resumed = uninterrupted */

  /* bad files: not a reservoir, inconsistent counts, missing images */
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (a, &error);
  g_assert_no_error (error);
  ncfm_safetensors_set_metadata (st, "ncfm.kind", "synset");
  g_assert_true (ncfm_safetensors_save (st, b, &error));
  g_assert_null (ncfm_reservoir_new_from_file (b, &error));
  g_assert_error (error, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_HEADER);
  g_assert_nonnull (strstr (error->message, b));
  g_clear_error (&error);
  ncfm_safetensors_set_metadata (st, "ncfm.kind", "reservoir");
  ncfm_safetensors_remove (st, "class.2");
  g_assert_true (ncfm_safetensors_save (st, b, &error));
  g_assert_null (ncfm_reservoir_new_from_file (b, &error));
  g_assert_error (error, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_MISSING);
  g_assert_nonnull (strstr (error->message, "class.2"));
  g_clear_error (&error);
  ncfm_safetensors_set_metadata (st, "ncfm.reservoir.capacity", "0");
  g_assert_true (ncfm_safetensors_save (st, b, &error));
  g_assert_null (ncfm_reservoir_new_from_file (b, &error));
  g_assert_nonnull (strstr (error->message, "ncfm.reservoir.capacity"));
  g_clear_error (&error);
  g_assert_null (ncfm_reservoir_new_from_file (dir, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_unlink (a);
  g_unlink (b);
  g_unlink (c);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reservoir/uniform-inclusion", test_uniform_inclusion);
  g_test_add_func ("/reservoir/memory-bound", test_memory_bound);
  g_test_add_func ("/reservoir/draw", test_draw);
  g_test_add_func ("/reservoir/emission-policy", test_emission_policy);
  g_test_add_func ("/reservoir/save-load", test_save_load);
  return g_test_run ();
}
