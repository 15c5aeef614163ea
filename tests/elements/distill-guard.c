/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What keeps a synthetic set from being poisoned or lost, with the plugin
 * loaded on the tiny IDX dataset: a NaN in a pool member or in the weights
 * file of the extractor stops the run at start with an error naming the
 * property, the file and the tensor, and the set's bytes stay; a second
 * ncfmdistill on a location another one holds is refused (and allowed once
 * the first stops); a run removes the stale temporaries of interrupted
 * saves but not the temporary of a live writer. */
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

#include "elements-test-util.h"
#include "weights-test-util.h"

#define EXTRACTOR "ncfmconvnet width=8 depth=1"
#define POISONED_TENSOR "layers.conv.0.weight"

static GstElement *
distill_pipeline (const gchar *extractor_props, const gchar *location)
{
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s batch-size=5 epochs=1 "
      "! ncfmaugment strategy=none ! " EXTRACTOR " %s ! ncfmcf num-freqs=64 ! ncfmdistill name=d "
      "dataset=%s factor=1 ipc=1 location=%s", idx_dir, extractor_props, idx_dir, location);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL && err == NULL, "%s: %s", desc, err ? err->message : "");
  return pipeline;
}

/* The error of a run to EOS, NULL if it got there. */
static gchar *
run_distill (const gchar *extractor_props, const gchar *location)
{
  GstElement *pipeline = distill_pipeline (extractor_props, location);
  gchar *error = play_to_eos (pipeline, 120, NULL, NULL);
  gst_object_unref (pipeline);
  return error;
}

/* A ConvNet of the extractor's shape saved at @path, with a NaN at element
 * 3 of POISONED_TENSOR if @poison. */
static void
save_member (const gchar *path, guint64 seed, gboolean poison)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", NULL);
  g_autoptr (NcfmConvNet) m = ncfm_convnet_new (dev, 1, IMG_H, IMG_W, 10, 1, 8,
      NCFM_NORM_INSTANCE, seed, &error);
  fail_unless (m != NULL, "%s", error ? error->message : "");
  fail_unless (ncfm_convnet_save (m, path, &error), "%s", error ? error->message : "");
  if (poison)
    poison_weights_file (path, POISONED_TENSOR, 3);
}

static void
assert_error_names (const gchar *error, const gchar *const *needles)
{
  fail_unless (error != NULL, "no error");
  for (guint i = 0; needles[i]; i++)
    fail_unless (strstr (error, needles[i]) != NULL, "\"%s\" not in: %s", needles[i], error);
}

/* A set written by a clean run, then a run with @extractor_props refused
 * with an error naming @property, @file and the poisoned tensor; the set's
 * bytes are those of the clean run. */
static void
expect_refused_keeping_set (const gchar *extractor_props, const gchar *property,
    const gchar *file)
{
  g_autofree gchar *set = g_build_filename (tmp_root, "kept.safetensors", NULL);
  g_autofree gchar *clean = run_distill ("", set);
  fail_unless (clean == NULL, "%s", clean);
  g_autofree gchar *before = file_sha256 (set);
  g_autofree gchar *error = run_distill (extractor_props, set);
  assert_error_names (error, (const gchar *[]) { property, file,
      "tensor '" POISONED_TENSOR "' has a NaN at element 3", NULL });
  g_autofree gchar *after = file_sha256 (set);
  fail_unless_equals_string (before, after);
  g_unlink (set);
}

/* member 1 of 2 has a NaN (never drawn first: checked at start all the same) */
GST_START_TEST (test_nan_pool_member)
{
  g_autofree gchar *pool = g_build_filename (tmp_root, "nan-pool", NULL);
  g_mkdir_with_parents (pool, 0700);
  for (guint k = 0; k < 2; k++) {
    for (guint j = 0; j < 2; j++) {
      g_autofree gchar *name = g_strdup_printf ("premodel%u_%s.safetensors", k,
          j ? "init" : "trained");
      g_autofree gchar *path = g_build_filename (pool, name, NULL);
      save_member (path, 10 * k + j, k == 1 && j == 0);
    }
  }
  g_autofree gchar *bad = g_build_filename (pool, "premodel1_trained.safetensors", NULL);
  g_autofree gchar *props = g_strdup_printf ("pool=%s", pool);
  expect_refused_keeping_set (props, "property pool", bad);
}
GST_END_TEST;

GST_START_TEST (test_nan_weights)
{
  g_autofree gchar *weights = g_build_filename (tmp_root, "nan-weights.safetensors", NULL);
  save_member (weights, 5, TRUE);
  g_autofree gchar *props = g_strdup_printf ("weights=%s", weights);
  expect_refused_keeping_set (props, "property weights", weights);
}
GST_END_TEST;

/* The first distiller started (PAUSED) holds the location; the second is
 * refused with the location and this process's pid, and runs once the
 * first is stopped. */
GST_START_TEST (test_second_writer)
{
  g_autofree gchar *set = g_build_filename (tmp_root, "shared.safetensors", NULL);
  GstElement *first = distill_pipeline ("", set);
  fail_unless (gst_element_set_state (first, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_get_state (first, NULL, NULL, 60 * GST_SECOND)
      == GST_STATE_CHANGE_SUCCESS);
  g_autofree gchar *pid = g_strdup_printf ("process %ld ", (long) getpid ());
  g_autofree gchar *error = run_distill ("", set);
  assert_error_names (error, (const gchar *[]) { "property location", set, pid, NULL });
  gst_element_set_state (first, GST_STATE_NULL);
  gst_object_unref (first);
  g_autofree gchar *again = run_distill ("", set);
  fail_unless (again == NULL, "%s", again);
  fail_unless (g_file_test (set, G_FILE_TEST_IS_REGULAR));

  /* a distiller whose start fails after taking the lock (no dataset) lets it go */
  GstElement *failed = distill_pipeline ("", set);
  GstElement *d = gst_bin_get_by_name (GST_BIN (failed), "d");
  fail_unless (d != NULL);
  g_object_set (d, "dataset", "/nonexistent-ncfm-dataset", NULL);
  gst_object_unref (d);
  fail_unless (gst_element_set_state (failed, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE);
  g_autofree gchar *after_failure = run_distill ("", set);
  fail_unless (after_failure == NULL, "%s", after_failure);
  gst_element_set_state (failed, GST_STATE_NULL);
  gst_object_unref (failed);
}
GST_END_TEST;

static gchar *
make_temporary (const gchar *name)
{
  gchar *path = g_build_filename (tmp_root, name, NULL);
  fail_unless (g_file_set_contents (path, "partial", -1, NULL));
  return path;
}

/* kill -9 mid-save leaves `.NAME.XXXXXX`: the next run removes it, but not
 * one whose lock a writer (here an fd of the test) holds. */
GST_START_TEST (test_stale_temporaries)
{
  g_autofree gchar *set = g_build_filename (tmp_root, "temps.safetensors", NULL);
  g_autofree gchar *stale = make_temporary (".temps.safetensors.Ab3dE9");
  g_autofree gchar *live = make_temporary (".temps.safetensors.Zz9yY8");
  const int fd = open (live, O_RDONLY);
  fail_unless (fd >= 0 && flock (fd, LOCK_EX) == 0);
  g_autofree gchar *error = run_distill ("", set);
  fail_unless (error == NULL, "%s", error);
  fail_if (g_file_test (stale, G_FILE_TEST_EXISTS), "the stale temporary is still there");
  fail_unless (g_file_test (live, G_FILE_TEST_EXISTS), "the live temporary was removed");
  close (fd);
  g_unlink (live);
}
GST_END_TEST;

static Suite *
distill_guard_suite (void)
{
  Suite *s = suite_create ("ncfmdistill-guard");
  TCase *tc = tcase_create ("pipeline");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_nan_pool_member);
  tcase_add_test (tc, test_nan_weights);
  tcase_add_test (tc, test_second_writer);
  tcase_add_test (tc, test_stale_temporaries);
  return s;
}

GST_CHECK_MAIN (distill_guard);
