/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of what keeps ncfmdistill's synthetic set from being poisoned, with
 * the plugin loaded on the tiny IDX dataset: resuming from a poisoned file
 * (an error naming file and tensor, the file byte-identical), class steps
 * with a non-finite loss (skipped, counted, an error after
 * max-nonfinite-steps in a row), a save of a non-finite psi refused, and
 * resuming on another dataset (refused unless allow-dataset-change). */
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

#include "elements-test-util.h"
#include "synset-test-util.h"

#define MIDDLE "ncfmaugment ! ncfmconvnet width=8 depth=1 ! ncfmcf num-freqs=64"
#define LEARNED MIDDLE " sampler=learned"

typedef struct {
  gchar *error;
  guint n_progress;
  guint64 nonfinite_steps;   /* of the last ncfm-progress message */
  guint max_run;             /* the largest nonfinite-run seen */
} GuardRun;

static void
on_progress (GstMessage *msg, gpointer data)
{
  GuardRun *r = data;
  const GstStructure *s = gst_message_get_structure (msg);
  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT || !gst_structure_has_name (s,
          "ncfm-progress"))
    return;
  guint run = 0;
  fail_unless (gst_structure_get_uint64 (s, "nonfinite-steps", &r->nonfinite_steps));
  fail_unless (gst_structure_get_uint (s, "nonfinite-run", &run));
  r->max_run = MAX (r->max_run, run);
  r->n_progress++;
}

/* `ncfmdatasetsrc location=DATASET epochs=1 ! middle ! ncfmdistill dataset=DATASET props`
 * to EOS or an error. */
static void
run_guard (const gchar *dataset, const gchar *middle, const gchar *props, GuardRun *r)
{
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s batch-size=5 epochs=1 "
      "! %s ! ncfmdistill dataset=%s factor=1 ipc=2 %s", dataset, middle, dataset, props);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  memset (r, 0, sizeof *r);
  r->error = play_to_eos (pipeline, 120, on_progress, r);
  gst_object_unref (pipeline);
}

static gchar *guard_dir;

static gchar *
guard_path (const gchar *name)
{
  return g_build_filename (guard_dir, name, NULL);
}

static void
guard_setup (void)
{
  make_dataset ();
  guard_dir = g_build_filename (tmp_root, "guard", NULL);
  fail_unless (g_mkdir (guard_dir, 0755) == 0);
}

static void
guard_teardown (void)
{
  synset_test_rm_tree (guard_dir);
  g_clear_pointer (&guard_dir, g_free);
  remove_dataset ();
}

/* A good set of a normal run (with psi when middle has the learned sampler). */
static gchar *
good_set (const gchar *name, const gchar *middle)
{
  gchar *path = guard_path (name);
  g_autofree gchar *props = g_strdup_printf ("location=%s", path);
  GuardRun r;
  run_guard (idx_dir, middle, props, &r);
  fail_unless (r.error == NULL, "%s", r.error);
  fail_unless (ncfm_synset_file_validate (path, NULL));
  return path;
}

static void
assert_refused (const GuardRun *r, const gchar *path, const gchar *needle)
{
  fail_unless (r->error != NULL, "no error");
  fail_unless (strstr (r->error, path) != NULL, "%s", r->error);
  fail_unless (strstr (r->error, needle) != NULL, "'%s' lacks '%s'", r->error, needle);
}

/* every poisoned file: an error naming file and tensor, the file untouched */
GST_START_TEST (test_poisoned_resume)
{
  g_autofree gchar *good = good_set ("good.safetensors", LEARNED);
  gchar *bytes = NULL;
  gsize len = 0;
  fail_unless (g_file_get_contents (good, &bytes, &len, NULL));
  g_autofree gchar *path = guard_path ("poisoned.safetensors");
  g_autofree gchar *props = g_strdup_printf ("location=%s save-every=1", path);
  for (guint p = 0; p < SYNSET_N_POISONS; p++) {
    fail_unless (g_file_set_contents (path, bytes, len, NULL));
    synset_test_poison_file (path, p);
    g_autofree gchar *before = synset_test_file_hash (path);
    GuardRun r;
    run_guard (idx_dir, LEARNED, props, &r);
    GST_INFO ("poison %u: %s", p, r.error);
    assert_refused (&r, path, synset_poison_target (p));
    fail_unless (r.n_progress == 0);
    g_autofree gchar *after = synset_test_file_hash (path);
    fail_unless_equals_string (before, after);
    g_free (r.error);
  }
  g_free (bytes);
}
GST_END_TEST;

/* A ConvNet whose weights are finite but 1e25 times too large: without
 * normalisation the MMD of its features overflows to infinity. */
static gchar *
huge_weights (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", NULL);
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (dev, 1, IMG_H, IMG_W, 10, 1, 8,
      NCFM_NORM_NONE, 1, NULL);
  fail_unless (net != NULL);
  gchar *path = guard_path ("huge-weights.safetensors");
  fail_unless (ncfm_convnet_save (net, path, NULL));
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, NULL);
  g_auto (GStrv) names = ncfm_safetensors_list_names (st);
  for (guint i = 0; names[i]; i++) {
    gint64 shape[NCFM_MAX_DIMS];
    guint nd = 0;
    gsize n = 0;
    ncfm_safetensors_get_info (st, names[i], NULL, &nd, shape, NULL);
    g_autofree gfloat *x = ncfm_safetensors_dup_f32 (st, names[i], &n, NULL);
    /* a positive bias keeps every feature away from ReLU's zeros */
    const gboolean bias = g_str_has_suffix (names[i], "bias");
    for (gsize j = 0; j < n; j++)
      x[j] = bias ? 1e30f : x[j] * 1e25f;
    ncfm_safetensors_set (st, names[i], NCFM_DTYPE_F32, shape, nd, x, n * sizeof (gfloat));
  }
  fail_unless (ncfm_safetensors_save (st, path, NULL));
  return path;
}

#define HUGE_MIDDLE "ncfmaugment strategy=none ! ncfmconvnet width=8 depth=1 norm=none " \
  "weights=%s ! ncfmcf num-freqs=64 normalize=false"

GST_START_TEST (test_nonfinite_steps)
{
  g_autofree gchar *weights = huge_weights ();
  g_autofree gchar *middle = g_strdup_printf (HUGE_MIDDLE, weights);

  /* never an error: every class step is skipped and counted, and the saved
   * set is the initial one (no AdamW step on any class) */
  g_autofree gchar *fresh = guard_path ("skipped.safetensors");
  g_autofree gchar *props = g_strdup_printf ("location=%s metric=mmd init=noise "
      "max-nonfinite-steps=0 save-every=1", fresh);
  GuardRun r;
  run_guard (idx_dir, middle, props, &r);
  fail_unless (r.error == NULL, "%s", r.error);
  fail_unless (r.n_progress >= 2 && r.nonfinite_steps >= r.n_progress, "%u buffers, %"
      G_GUINT64_FORMAT " skipped", r.n_progress, r.nonfinite_steps);
  fail_unless (r.max_run >= r.n_progress);
  g_autoptr (GError) error = NULL;
  fail_unless (ncfm_synset_file_validate (fresh, &error), "%s", error ? error->message : "");
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (fresh, NULL);
  gsize n = 0, nb = 0;
  g_autofree gfloat *m = ncfm_safetensors_dup_f32 (st, "adamw.m", &n, NULL);
  for (gsize i = 0; i < n; i++)
    fail_unless (m[i] == 0.0f, "adamw.m[%" G_GSIZE_FORMAT "] = %g", i, m[i]);
  const gint64 *steps = ncfm_safetensors_peek (st, "adamw.step", NULL, &nb, NULL);
  for (gsize i = 0; i < nb / sizeof (gint64); i++)
    fail_unless (steps[i] == 0);

  /* resuming a good set: 3 skipped class steps in a row are an error naming
   * the property, and the file stays byte-identical */
  g_autofree gchar *good = good_set ("good2.safetensors", MIDDLE);
  g_autofree gchar *before = synset_test_file_hash (good);
  g_autofree gchar *props2 = g_strdup_printf ("location=%s metric=mmd max-nonfinite-steps=3 "
      "save-every=0", good);
  run_guard (idx_dir, middle, props2, &r);
  assert_refused (&r, good, "max-nonfinite-steps");
  fail_unless (strstr (r.error, "class") && strstr (r.error, "Step"), "%s", r.error);
  fail_unless (r.max_run <= 2, "%u in a row before the error", r.max_run);
  g_autofree gchar *after = synset_test_file_hash (good);
  fail_unless_equals_string (before, after);
  g_free (r.error);
}
GST_END_TEST;

/* psi's momentum near FLT_MAX (finite, so the file resumes) and sampler-lr
 * 1000: psi's first ascent overflows, and the save after it is refused
 * naming the step and the psi tensor, the file untouched */
GST_START_TEST (test_nonfinite_save)
{
  g_autofree gchar *path = good_set ("psi.safetensors", LEARNED);
  {
    g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, NULL);
    g_auto (GStrv) names = ncfm_safetensors_list_names (st);
    guint n_moments = 0;
    for (guint i = 0; names[i]; i++) {
      if (!g_str_has_prefix (names[i], "psi.momentum."))
        continue;
      gint64 shape[NCFM_MAX_DIMS];
      guint nd = 0;
      gsize n = 0;
      ncfm_safetensors_get_info (st, names[i], NULL, &nd, shape, NULL);
      g_autofree gfloat *x = ncfm_safetensors_dup_f32 (st, names[i], &n, NULL);
      for (gsize j = 0; j < n; j++)
        x[j] = 3e38f;
      ncfm_safetensors_set (st, names[i], NCFM_DTYPE_F32, shape, nd, x, n * sizeof (gfloat));
      n_moments++;
    }
    fail_unless (n_moments > 0);
    fail_unless (ncfm_safetensors_save (st, path, NULL));
  }
  fail_unless (ncfm_synset_file_validate (path, NULL));
  g_autofree gchar *before = synset_test_file_hash (path);
  g_autofree gchar *props = g_strdup_printf ("location=%s save-every=0", path);
  GuardRun r;
  run_guard (idx_dir, LEARNED " sampler-lr=1000", props, &r);
  assert_refused (&r, path, "not saving");
  fail_unless (strstr (r.error, "psi.") && strstr (r.error, "Step"), "%s", r.error);
  g_autofree gchar *after = synset_test_file_hash (path);
  fail_unless_equals_string (before, after);
  g_free (r.error);
}
GST_END_TEST;

/* A copy of the tiny dataset at dir/name. */
static gchar *
copy_dataset (const gchar *dir, const gchar *name)
{
  g_autofree gchar *parent = guard_path (dir);
  g_mkdir_with_parents (parent, 0755);
  gchar *dst = g_build_filename (parent, name, NULL);
  fail_unless (g_mkdir (dst, 0755) == 0);
  const gchar *files[] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree gchar *a = g_build_filename (idx_dir, files[i], NULL);
    g_autofree gchar *b = g_build_filename (dst, files[i], NULL);
    gchar *data = NULL;
    gsize len = 0;
    fail_unless (g_file_get_contents (a, &data, &len, NULL));
    fail_unless (g_file_set_contents (b, data, len, NULL));
    g_free (data);
  }
  return dst;
}

GST_START_TEST (test_dataset_change)
{
  g_autofree gchar *path = good_set ("ds.safetensors", MIDDLE);
  g_autofree gchar *base = g_path_get_basename (idx_dir);
  /* another name, and the same name elsewhere: both refused */
  g_autofree gchar *other = copy_dataset ("a", "other");
  g_autofree gchar *moved = copy_dataset ("b", base);
  const gchar *datasets[2] = { other, moved };
  g_autofree gchar *props = g_strdup_printf ("location=%s", path);
  g_autofree gchar *before = synset_test_file_hash (path);
  for (guint i = 0; i < 2; i++) {
    GuardRun r;
    run_guard (datasets[i], MIDDLE, props, &r);
    assert_refused (&r, path, "allow-dataset-change");
    fail_unless (strstr (r.error, datasets[i]) && strstr (r.error, idx_dir), "%s", r.error);
    fail_unless (r.n_progress == 0);
    g_autofree gchar *after = synset_test_file_hash (path);
    fail_unless_equals_string (before, after);
    g_free (r.error);
  }
  /* allowed: the run goes on and the file records the new dataset */
  g_autofree gchar *allow = g_strdup_printf ("location=%s allow-dataset-change=true", path);
  GuardRun r;
  run_guard (other, MIDDLE, allow, &r);
  fail_unless (r.error == NULL, "%s", r.error);
  fail_unless (r.n_progress > 0);
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, NULL);
  fail_unless_equals_string (ncfm_safetensors_get_metadata (st, "ncfm.dataset"), "other");
  fail_unless_equals_string (ncfm_safetensors_get_metadata (st, "ncfm.dataset_path"), other);
}
GST_END_TEST;

static Suite *
distill_poison_suite (void)
{
  Suite *s = suite_create ("ncfmdistill-poison");
  TCase *tc = tcase_create ("guard");
  tcase_add_checked_fixture (tc, guard_setup, guard_teardown);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_poisoned_resume);
  tcase_add_test (tc, test_nonfinite_steps);
  tcase_add_test (tc, test_nonfinite_save);
  tcase_add_test (tc, test_dataset_change);
  return s;
}

GST_CHECK_MAIN (distill_poison);
