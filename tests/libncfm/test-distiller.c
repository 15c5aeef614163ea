/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NcfmSynset and NcfmDistiller without GStreamer: a run saved half-way and
 * resumed (set and psi from the file) ends bitwise where the uninterrupted
 * run ends; a non-finite batch changes nothing and is counted; a learned
 * sampler shared by threads that draw and take gradients back stays
 * consistent (run it under the ASan build); a class shard saves the shard
 * of the whole set, resumes from it only; psi's ascent every N class steps
 * is one step on the sum of their gradients. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include "libncfm-test.h"

#define K 4
#define N_REAL 16
#define SIDE 8
#define IPC 2
#define FACTOR 2
#define M 32

typedef struct {
  NcfmDevice *dev;
  NcfmDataset *ds;
  NcfmModel *model;
  guint dim;
} Fixture;

static void
fixture_init (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  f->dev = ncfm_test_cpu_device ();
  g_autofree guint8 *px = g_new (guint8, N_REAL * SIDE * SIDE);
  g_autofree gint32 *labels = g_new (gint32, N_REAL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  for (guint i = 0; i < N_REAL * SIDE * SIDE; i++)
    px[i] = (guint8) g_rand_int_range (rand, 0, 256);
  for (guint i = 0; i < N_REAL; i++)
    labels[i] = (gint32) (i % K);
  g_autoptr (GBytes) img = g_bytes_new (px, N_REAL * SIDE * SIDE);
  g_autoptr (GBytes) lab = g_bytes_new (labels, N_REAL * sizeof (gint32));
  f->ds = ncfm_dataset_new_from_data ("toy", NCFM_DTYPE_U8, N_REAL, 1, SIDE, SIDE, img, lab,
      NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  f->model = NCFM_MODEL (ncfm_convnet_new (f->dev, 1, SIDE, SIDE, K, 1, 4,
      NCFM_NORM_INSTANCE, 5, &error));
  g_assert_no_error (error);
  f->dim = ncfm_model_get_feature_dim (f->model);
}

static void
fixture_clear (Fixture *f)
{
  g_clear_object (&f->model);
  g_clear_object (&f->ds);
  g_clear_object (&f->dev);
}

static NcfmDistiller *
new_distiller (Fixture *f, NcfmSynset *set)
{
  g_autoptr (GError) error = NULL;
  NcfmDistiller *d = ncfm_distiller_new (set, NCFM_METRIC_NCFD, 0.5f, 0.5f, &error);
  g_assert_no_error (error);
  ncfm_distiller_set_optimizer (d, 0.05f, 5e-4f);
  (void) f;
  return d;
}

/* The real batch of @step: features [N_REAL, dim] drawn from the step
 * index (NaN at one element when @poison), labels i % K. */
static void
real_batch (Fixture *f, guint step, gboolean poison, NcfmTensor **features, NcfmTensor **labels)
{
  g_autoptr (GError) error = NULL;
  const gint64 fshape[2] = { N_REAL, f->dim }, n = N_REAL;
  g_autofree gfloat *x = g_new (gfloat, N_REAL * f->dim);
  g_autofree gint32 *l = g_new (gint32, N_REAL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (100 + step);
  for (guint i = 0; i < N_REAL * f->dim; i++)
    x[i] = (gfloat) g_rand_double_range (rand, -1.0, 1.0);
  if (poison)
    x[7] = NAN;
  for (guint i = 0; i < N_REAL; i++)
    l[i] = (gint32) (i % K);
  *features = ncfm_tensor_new_from_data (f->dev, NCFM_DTYPE_F32, fshape, 2, (const guint8 *) x,
      N_REAL * f->dim * sizeof (gfloat), &error);
  g_assert_no_error (error);
  *labels = ncfm_tensor_new_from_data (f->dev, NCFM_DTYPE_I32, &n, 1, (const guint8 *) l,
      N_REAL * sizeof (gint32), &error);
  g_assert_no_error (error);
}

/* One batch: t from psi, the real statistics at t, a step on classes
 * c0 .. c0 + n_c - 1; returns how many class steps were skipped. */
static guint
step_batch (Fixture *f, NcfmDistiller *d, NcfmSampler *psi, guint step, gboolean poison,
    guint c0, guint n_c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) features = NULL, labels = NULL;
  real_batch (f, step, poison, &features, &labels);
  g_autoptr (NcfmFreqDraw) draw = ncfm_sampler_draw (psi, NULL, TRUE, &error);
  g_assert_no_error (error);
  NcfmTensor *t = ncfm_freq_draw_get_t (draw);
  g_autoptr (NcfmCFStats) stats = ncfm_cf_stats_new (f->dev, K,
      (guint) ncfm_tensor_get_dim (t, 0), f->dim, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_cf_stats_accumulate (stats, features, labels, t, &error));
  guint skipped_n = 0;
  for (guint c = c0; c < c0 + n_c; c++) {
    gdouble loss = 0.0;
    gboolean skipped = FALSE;
    if (!ncfm_synset_holds_class (ncfm_distiller_get_synset (d), c))
      continue;   /* a class shard steps its own classes */
    ncfm_distiller_step_class (d, c, stats, draw, features, labels, f->model, NULL, NULL, &loss,
        &skipped, &error);
    g_assert_no_error (error);
    g_assert_true (skipped || isfinite (loss));
    skipped_n += skipped;
  }
  ncfm_distiller_end_step (d);
  return skipped_n;
}

/* A batch of every class. */
static guint
distill_step (Fixture *f, NcfmDistiller *d, NcfmSampler *psi, guint step, gboolean poison)
{
  return step_batch (f, d, psi, step, poison, 0, K);
}

static NcfmSynset *
new_set (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  NcfmSynset *set = ncfm_synset_new (f->ds, IPC, FACTOR, f->dev, &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_synset_init_images (set, f->ds, NCFM_SYNSET_INIT_MIX, 7, &error));
  return set;
}

static gchar *
images_sha256 (NcfmSynset *set, NcfmSampler *psi)
{
  g_autoptr (NcfmSafetensors) st = ncfm_synset_to_safetensors (set, psi);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  const gchar *names[] = { "images", "adamw.m", "adamw.v", "adamw.step", "psi.net.0.weight" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    NcfmDType dt;
    gsize n = 0;
    const guint8 *data = ncfm_safetensors_peek (st, names[i], &dt, &n, NULL);
    g_assert_nonnull (data);
    g_checksum_update (sum, data, n);
  }
  return g_strdup (g_checksum_get_string (sum));
}

static NcfmSampler *
new_psi (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  NcfmSampler *psi = ncfm_sampler_new_learned (f->dev, M, f->dim, 9, &error);
  g_assert_no_error (error);
  return psi;
}

/* 4 steps straight, and 2 + save + load + 2: the same bytes. */
static void
test_resume_bitwise (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  fixture_init (&f);
  g_autoptr (NcfmSynset) a = new_set (&f);
  g_autoptr (NcfmSampler) psi_a = new_psi (&f);
  g_autoptr (NcfmDistiller) da = new_distiller (&f, a);
  for (guint s = 0; s < 4; s++)
    g_assert_cmpuint (distill_step (&f, da, psi_a, s, FALSE), ==, 0);
  g_assert_cmpuint (ncfm_synset_get_step (a), ==, 4);
  g_autofree gchar *straight = images_sha256 (a, psi_a);

  g_autofree gchar *dir = g_dir_make_tmp ("ncfm-distiller-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "set.safetensors", NULL);
  {
    g_autoptr (NcfmSynset) b = new_set (&f);
    g_autoptr (NcfmSampler) psi_b = new_psi (&f);
    g_autoptr (NcfmDistiller) db = new_distiller (&f, b);
    for (guint s = 0; s < 2; s++)
      distill_step (&f, db, psi_b, s, FALSE);
    g_assert_true (ncfm_synset_save (b, path, psi_b, &error));
    g_assert_no_error (error);
  }
  g_assert_true (ncfm_synset_file_validate (path, &error));
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ncfm_safetensors_get_metadata (st, "ncfm.step"), ==, "2");
  g_assert_cmpstr (ncfm_safetensors_get_metadata (st, "ncfm.lr"), ==, "0.05");
  g_assert_cmpstr (ncfm_safetensors_get_metadata (st, "ncfm.init"), ==, "mix");
  g_autoptr (NcfmSynset) c = ncfm_synset_new (f.ds, IPC, FACTOR, f.dev, &error);
  g_assert_true (ncfm_synset_load_state (c, st, &error));
  g_assert_no_error (error);
  g_autoptr (NcfmSampler) psi_c = ncfm_sampler_new_from_safetensors (f.dev, st, "psi.", &error);
  g_assert_no_error (error);
  g_autoptr (NcfmDistiller) dc = new_distiller (&f, c);
  for (guint s = 2; s < 4; s++)
    distill_step (&f, dc, psi_c, s, FALSE);
  g_autofree gchar *resumed = images_sha256 (c, psi_c);
  g_assert_cmpstr (resumed, ==, straight);

  /* a file of another shape is refused and leaves the set as it was */
  g_autoptr (NcfmSynset) other = ncfm_synset_new (f.ds, IPC + 1, FACTOR, f.dev, &error);
  g_assert_no_error (error);
  g_autoptr (NcfmSafetensors) other_st = ncfm_synset_to_safetensors (other, NULL);
  g_autofree gchar *before = images_sha256 (c, psi_c);
  g_assert_false (ncfm_synset_load_state (other, st, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "images"));
  g_clear_error (&error);
  g_assert_false (ncfm_synset_load_state (c, other_st, &error));
  g_clear_error (&error);
  g_autofree gchar *after = images_sha256 (c, psi_c);
  g_assert_cmpstr (before, ==, after);
  ncfm_test_remove_tree (dir);
  fixture_clear (&f);
}

/* A NaN in the real features: every class step is skipped and counted, the
 * set is unchanged; the next clean batch steps again and resets the run. */
static void
test_nonfinite_skip (void)
{
  Fixture f = { 0 };
  fixture_init (&f);
  g_autoptr (NcfmSynset) set = new_set (&f);
  g_autoptr (NcfmSampler) psi = new_psi (&f);
  g_autoptr (NcfmDistiller) d = new_distiller (&f, set);
  g_autofree gchar *before = images_sha256 (set, psi);
  g_assert_cmpuint (distill_step (&f, d, psi, 0, TRUE), ==, K);
  g_autofree gchar *after = images_sha256 (set, psi);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (ncfm_distiller_get_nonfinite_steps (d), ==, K);
  g_assert_cmpuint (ncfm_distiller_get_nonfinite_run (d), ==, K);
  g_assert_cmpuint (ncfm_sampler_get_step (psi), ==, 0);
  g_assert_cmpuint (distill_step (&f, d, psi, 1, FALSE), ==, 0);
  g_assert_cmpuint (ncfm_distiller_get_nonfinite_run (d), ==, 0);
  g_assert_cmpuint (ncfm_sampler_get_step (psi), ==, 1);
  g_autofree gchar *stepped = images_sha256 (set, psi);
  g_assert_cmpstr (before, !=, stepped);
  fixture_clear (&f);
}

/* ---- a learned sampler shared between threads ---- */

#define N_DRAWERS 2
#define N_TAKERS 2
#define DRAWS_EACH 12

typedef struct {
  NcfmSampler *psi;
  NcfmDevice *dev;
  GAsyncQueue *draws;     /* NcfmFreqDraws from the drawers to the takers */
  gint taken, ascents;
} Shared;

/* Draws DRAWS_EACH t (the device lock first, then the sampler's inside). */
static gpointer
drawer (gpointer data)
{
  Shared *sh = data;
  for (guint i = 0; i < DRAWS_EACH; i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (sh->dev);
    NcfmFreqDraw *draw = ncfm_sampler_draw (sh->psi, NULL, TRUE, &error);
    g_assert_no_error (error);
    g_async_queue_push (sh->draws, draw);
  }
  return NULL;
}

/* Takes draws back with dL/dt = 0.01 and steps psi every third one; the
 * draw is freed in this thread. */
static gpointer
taker (gpointer data)
{
  Shared *sh = data;
  for (guint i = 0; i < DRAWS_EACH; i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (NcfmFreqDraw) draw = g_async_queue_pop (sh->draws);
    NcfmTensor *t = ncfm_freq_draw_get_t (draw);
    g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (sh->dev);
    guint nd = 0;
    const gint64 *shape = ncfm_tensor_get_shape (t, &nd);
    g_autoptr (NcfmTensor) grad = ncfm_tensor_new (sh->dev, NCFM_DTYPE_F32, shape, nd, &error);
    g_assert_no_error (error);
    g_assert_true (ncfm_tensor_fill (grad, 0.01f, &error));
    g_assert_true (ncfm_sampler_backward (sh->psi, draw, grad, &error));
    g_assert_no_error (error);
    g_atomic_int_inc (&sh->taken);
    if (i % 3 == 2) {
      ncfm_sampler_ascent_step (sh->psi);
      g_atomic_int_inc (&sh->ascents);
    }
  }
  return NULL;
}

static void
test_sampler_threads (void)
{
  g_autoptr (GError) error = NULL;
  Shared sh = { 0 };
  sh.dev = ncfm_test_cpu_device ();
  sh.psi = ncfm_sampler_new_learned (sh.dev, M, 8, 4, &error);
  g_assert_no_error (error);
  sh.draws = g_async_queue_new ();
  GThread *threads[N_DRAWERS + N_TAKERS];
  for (guint i = 0; i < N_DRAWERS + N_TAKERS; i++)
    threads[i] = g_thread_new ("psi", i < N_DRAWERS ? drawer : taker, &sh);
  for (guint i = 0; i < N_DRAWERS + N_TAKERS; i++)
    g_thread_join (threads[i]);
  g_assert_cmpint (sh.taken, ==, N_DRAWERS * DRAWS_EACH);
  g_assert_cmpuint (ncfm_sampler_get_step (sh.psi), ==, (guint64) sh.ascents);
  g_assert_cmpuint (ncfm_sampler_get_offset (sh.psi), ==,
      (guint64) N_DRAWERS * DRAWS_EACH * (M / 16) * 8);
  /* psi's weights moved and stayed finite */
  g_assert_true (ncfm_tensor_check_finite (ncfm_sampler_get_parameter (sh.psi, "net.0.weight"),
          "test", "net.0.weight", &error));
  g_async_queue_unref (sh.draws);
  g_clear_object (&sh.psi);
  g_clear_object (&sh.dev);
}

static GBytes *
set_bytes (NcfmSynset *set)
{
  g_autoptr (NcfmSafetensors) st = ncfm_synset_to_safetensors (set, NULL);
  return ncfm_safetensors_serialize (st);
}

/* Class shard 1 of 2 stepped on its classes saves, byte for byte, the
 * shard that ncfm_synset_shard_split() cuts from the whole set stepped the
 * same way; it resumes from that file and refuses another shard's, and a
 * whole set refuses it. */
static void
test_class_shard (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  fixture_init (&f);
  g_autoptr (NcfmSynset) whole = new_set (&f);
  g_autoptr (NcfmSynset) shard = ncfm_synset_new_class_shard (f.ds, IPC, FACTOR, 1, 2, f.dev,
      &error);
  g_assert_no_error (error);
  g_assert_true (ncfm_synset_init_images (shard, f.ds, NCFM_SYNSET_INIT_MIX, 7, &error));
  g_assert_true (ncfm_synset_holds_class (shard, 3) && !ncfm_synset_holds_class (shard, 2));
  g_assert_null (ncfm_synset_get_images (shard, 0));
  NcfmSynset *sets[2] = { whole, shard };
  for (guint i = 0; i < 2; i++) {
    g_autoptr (NcfmSampler) gauss = ncfm_sampler_new_gaussian (f.dev, M, f.dim, 1.0f, 9, &error);
    g_autoptr (NcfmDistiller) d = new_distiller (&f, sets[i]);
    for (guint s = 0; s < 2; s++)
      g_assert_cmpuint (distill_step (&f, d, gauss, s, FALSE), ==, 0);
  }
  g_autoptr (NcfmSafetensors) whole_st = ncfm_synset_to_safetensors (whole, NULL);
  g_autoptr (NcfmSafetensors) split = ncfm_synset_shard_split (whole_st, "whole", 1, 2, &error);
  g_assert_no_error (error);
  g_autoptr (GBytes) want = ncfm_safetensors_serialize (split);
  g_autoptr (GBytes) got = set_bytes (shard);
  g_assert_true (g_bytes_equal (want, got));

  g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load_from_bytes (got, "shard", &error);
  g_assert_no_error (error);
  g_autoptr (NcfmSynset) back = ncfm_synset_new_class_shard (f.ds, IPC, FACTOR, 1, 2, f.dev,
      &error);
  g_assert_true (ncfm_synset_load_state (back, file, &error));
  g_assert_no_error (error);
  /* the state (the hyperparameters' metadata are the caller's to set) */
  g_autoptr (NcfmSafetensors) back_st = ncfm_synset_to_safetensors (back, NULL);
  const gchar *state[] = { "images", "labels", "adamw.m", "adamw.v", "adamw.step" };
  for (guint i = 0; i < G_N_ELEMENTS (state); i++) {
    gsize na = 0, nb = 0;
    const guint8 *a = ncfm_safetensors_peek (back_st, state[i], NULL, &na, NULL);
    const guint8 *b = ncfm_safetensors_peek (file, state[i], NULL, &nb, NULL);
    g_assert_cmpmem (a, na, b, nb);
  }
  g_assert_cmpstr (ncfm_safetensors_get_metadata (back_st, "ncfm.class_shard"), ==, "1/2");

  g_autoptr (NcfmSynset) other = ncfm_synset_new_class_shard (f.ds, IPC, FACTOR, 0, 2, f.dev,
      &error);
  g_assert_false (ncfm_synset_load_state (other, file, &error));
  g_assert_nonnull (strstr (error->message, "is class shard 1/2 of a run, not class shard 0/2"));
  g_clear_error (&error);
  g_assert_false (ncfm_synset_load_state (whole, file, &error));
  g_assert_nonnull (strstr (error->message, "merge the shards"));
  g_clear_error (&error);
  g_assert_false (ncfm_synset_load_state (back, whole_st, &error));
  g_assert_nonnull (strstr (error->message, "is a whole set, not class shard 1/2"));
  g_clear_error (&error);
  g_autoptr (NcfmTensor) grad = ncfm_tensor_new (f.dev, NCFM_DTYPE_F32,
      (gint64[]) { IPC, 1, SIDE, SIDE }, 4, &error);
  g_assert_false (ncfm_synset_adamw_step (back, 0, grad, 0.1f, 0.0f, &error));
  g_assert_nonnull (strstr (error->message, "class 0 is not in class shard 1 of 2"));
  g_clear_error (&error);
  g_assert_null (ncfm_synset_new_class_shard (f.ds, IPC, FACTOR, K, K + 1, f.dev, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  fixture_clear (&f);
}

/* ---- psi's ascent every N class steps ---- */

#define EVERY 3

/* Adds psi's accumulated gradients to the host sums @acc (one per
 * parameter, NULL for running statistics), then zeroes them. */
static void
add_gradients (NcfmSampler *psi, GPtrArray *acc)
{
  for (guint i = 0; i < ncfm_sampler_get_n_parameters (psi); i++) {
    NcfmTensor *g = ncfm_sampler_get_gradient (psi, ncfm_sampler_get_parameter_name (psi, i));
    if (acc->len <= i)
      g_ptr_array_add (acc, g ? g_new0 (gfloat, ncfm_tensor_get_numel (g)) : NULL);
    if (!g)
      continue;
    g_autofree float *host = ncfm_test_tensor_host (g);
    gfloat *sum = g_ptr_array_index (acc, i);
    for (gint64 j = 0; j < ncfm_tensor_get_numel (g); j++)
      sum[j] += host[j];
  }
  ncfm_sampler_zero_grad (psi);
}

/* max |a - b| over the parameters of two samplers of the same shape: every
 * one, or the @trained ones only (a draw moves BatchNorm's running
 * statistics, an ascent the others). */
static gdouble
psi_max_difference (NcfmSampler *a, NcfmSampler *b, gboolean trained)
{
  gdouble worst = 0.0;
  for (guint i = 0; i < ncfm_sampler_get_n_parameters (a); i++) {
    const gchar *name = ncfm_sampler_get_parameter_name (a, i);
    if (trained && !ncfm_sampler_get_gradient (a, name))
      continue;
    NcfmTensor *pa = ncfm_sampler_get_parameter (a, name);
    g_autofree float *ha = ncfm_test_tensor_host (pa);
    g_autofree float *hb = ncfm_test_tensor_host (ncfm_sampler_get_parameter (b, name));
    for (gint64 j = 0; j < ncfm_tensor_get_numel (pa); j++)
      worst = MAX (worst, fabs ((gdouble) ha[j] - hb[j]));
  }
  return worst;
}

static NcfmDistiller *
new_distiller_every (Fixture *f, NcfmSynset *set, guint every)
{
  g_autoptr (GError) error = NULL;
  NcfmDistiller *d = new_distiller (f, set);
  g_assert_true (ncfm_distiller_set_sampler_step_every (d, every, &error));
  g_assert_no_error (error);
  return d;
}

/* EVERY per-class batches with sampler-step-every EVERY: psi still at its
 * start until the last, then exactly where one ascent on the sum of the
 * EVERY gradients (taken one by one, no ascent between) puts it. */
static void
test_psi_every_sums (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  fixture_init (&f);
  g_autoptr (NcfmSynset) a = new_set (&f), b = new_set (&f);
  g_autoptr (NcfmSampler) psi_a = new_psi (&f), psi_b = new_psi (&f), start = new_psi (&f);
  g_autoptr (NcfmDistiller) da = new_distiller_every (&f, a, EVERY);
  g_autoptr (NcfmDistiller) db = new_distiller_every (&f, b,
      NCFM_DISTILLER_MAX_SAMPLER_STEP_EVERY);
  g_assert_cmpuint (ncfm_distiller_get_sampler_step_every (da), ==, EVERY);
  g_autoptr (GPtrArray) acc = g_ptr_array_new_with_free_func (g_free);
  for (guint s = 0; s < EVERY; s++) {
    g_assert_cmpfloat (psi_max_difference (psi_a, start, TRUE), ==, 0.0);
    step_batch (&f, da, psi_a, s, FALSE, s % K, 1);
    step_batch (&f, db, psi_b, s, FALSE, s % K, 1);
    add_gradients (psi_b, acc);
    g_assert_cmpuint (ncfm_sampler_get_step (psi_a), ==, s + 1 == EVERY ? 1 : 0);
  }
  g_assert_cmpuint (ncfm_sampler_get_step (psi_b), ==, 0);
  for (guint i = 0; i < acc->len; i++) {
    NcfmTensor *g = ncfm_sampler_get_gradient (psi_b, ncfm_sampler_get_parameter_name (psi_b, i));
    if (g)
      g_assert_true (ncfm_tensor_set_data (g, g_ptr_array_index (acc, i),
          ncfm_tensor_get_n_bytes (g), &error));
  }
  ncfm_sampler_ascent_step (psi_b);
  g_assert_cmpfloat (psi_max_difference (psi_a, start, TRUE), >, 0.0);
  g_assert_cmpfloat (psi_max_difference (psi_a, psi_b, FALSE), ==, 0.0);
  g_autofree gchar *sa = images_sha256 (a, psi_a), *sb = images_sha256 (b, psi_b);
  g_assert_cmpstr (sa, ==, sb);
  fixture_clear (&f);
}

/* The default is 1, an ascent after every batch that sent a gradient (what
 * end_step always did); 0 and too many are refused, nothing changed; a
 * gradient from another sampler ends the first one's window. */
static void
test_psi_every_default (void)
{
  Fixture f = { 0 };
  g_autoptr (GError) error = NULL;
  fixture_init (&f);
  g_autoptr (NcfmSynset) a = new_set (&f), b = new_set (&f);
  g_autoptr (NcfmSampler) psi_a = new_psi (&f), psi_b = new_psi (&f);
  g_autoptr (NcfmDistiller) da = new_distiller (&f, a);
  g_autoptr (NcfmDistiller) db = new_distiller_every (&f, b,
      NCFM_DISTILLER_MAX_SAMPLER_STEP_EVERY);
  g_assert_cmpuint (ncfm_distiller_get_sampler_step_every (da), ==, 1);
  for (guint s = 0; s < 3; s++) {
    distill_step (&f, da, psi_a, s, FALSE);
    distill_step (&f, db, psi_b, s, FALSE);
    ncfm_sampler_ascent_step (psi_b);
  }
  g_assert_cmpuint (ncfm_sampler_get_step (psi_a), ==, 3);
  g_autofree gchar *sa = images_sha256 (a, psi_a), *sb = images_sha256 (b, psi_b);
  g_assert_cmpstr (sa, ==, sb);

  g_assert_false (ncfm_distiller_set_sampler_step_every (da, 0, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "sampler step every 0");
  g_assert_false (ncfm_distiller_set_sampler_step_every (da,
      NCFM_DISTILLER_MAX_SAMPLER_STEP_EVERY + 1, &error));
  ncfm_test_assert_error (&error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "1 .. 1048576");
  g_assert_cmpuint (ncfm_distiller_get_sampler_step_every (da), ==, 1);

  g_autoptr (NcfmSampler) other = new_psi (&f);
  g_assert_true (ncfm_distiller_set_sampler_step_every (da, 10, &error));
  step_batch (&f, da, psi_a, 3, FALSE, 0, 1);
  g_assert_cmpuint (ncfm_sampler_get_step (psi_a), ==, 3);
  step_batch (&f, da, other, 4, FALSE, 1, 1);
  g_assert_cmpuint (ncfm_sampler_get_step (psi_a), ==, 4);
  g_assert_cmpuint (ncfm_sampler_get_step (other), ==, 0);
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/distiller/resume-bitwise", test_resume_bitwise);
  g_test_add_func ("/distiller/nonfinite-skip", test_nonfinite_skip);
  g_test_add_func ("/distiller/sampler-threads", test_sampler_threads);
  g_test_add_func ("/distiller/class-shard", test_class_shard);
  g_test_add_func ("/distiller/psi-every-sums", test_psi_every_sums);
  g_test_add_func ("/distiller/psi-every-default", test_psi_every_default);
  return g_test_run ();
}
