/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of ncfmevaluate with the plugin loaded, on the separable blobs
 * dataset (blobs.h): its accuracies equal a direct count with libncfm (a
 * BatchNorm model, so evaluation mode matters), and its errors. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

#include "blobs.h"
#include "train-test-util.h"
#include "weights-test-util.h"

#define K 10
#define N_TRAIN 200
#define N_TEST 100

static gchar *tmp_dir, *data_dir, *weights;

static gchar *
tmp_path (const gchar *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

/* The blobs (in the parent process: no OpenMP before check forks the tests,
 * libgomp does not survive a fork). */
static void
setup_data (void)
{
  g_autoptr (GError) error = NULL;
  tmp_dir = g_dir_make_tmp ("ncfm-evaluate-XXXXXX", NULL);
  fail_unless (tmp_dir != NULL);
  data_dir = g_build_filename (tmp_dir, "blobs", NULL);
  fail_unless (blobs_write (data_dir, K, N_TRAIN, N_TEST, 2, &error), "%s",
      error ? error->message : "");
  weights = tmp_path ("trained.safetensors");
}

/* A BatchNorm ConvNet trained on the blobs only briefly (so that some test
 * images are misclassified), in `weights`. */
static void
train_model (void)
{
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s mode=mixed "
      "batch-size=50 epochs=1 ! ncfmtrain depth=2 width=8 norm=batchnorm lr=0.05 location=%s",
      data_dir, weights);
  RunResult r;
  run_pipeline (desc, &r);
  fail_unless (r.eos, "%s", r.error);
  run_result_clear (&r);
}

static void
remove_tree (const gchar *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    const gchar *name;
    while (dir && (name = g_dir_read_name (dir))) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);
      remove_tree (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

static void
teardown_data (void)
{
  remove_tree (tmp_dir);
  g_clear_pointer (&tmp_dir, g_free);
  g_clear_pointer (&data_dir, g_free);
  g_clear_pointer (&weights, g_free);
}

/* Runs `ncfmdatasetsrc location=<dir> split=test ... ! ncfmevaluate <props>`. */
static void
run_evaluate (const gchar *dir, const gchar *props, RunResult *r)
{
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s split=test mode=mixed "
      "batch-size=30 ! ncfmevaluate silent=true %s", dir, props);
  run_pipeline (desc, r);
}

typedef struct {
  guint64 count, top1, top5;
  guint64 class_correct[K], class_count[K];
} Counts;

/* The test split through the model in evaluation mode, counted by hand. */
static void
direct_counts (Counts *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", NULL);
  g_autoptr (NcfmDataset) ds = ncfm_dataset_load (data_dir, NCFM_DATASET_FORMAT_AUTO, "test", 0,
      NCFM_DATASET_FLAGS_NONE, NULL, &error);
  fail_unless (ds != NULL, "%s", error ? error->message : "");
  g_autoptr (NcfmLoader) loader = ncfm_loader_new (ds, dev, N_TEST, NCFM_LOADER_MODE_MIXED, 0, 1,
      FALSE, NULL, 0, &error);
  g_autoptr (NcfmTensor) images = NULL, labels = NULL;
  fail_unless (loader && ncfm_loader_next (loader, &images, &labels, &error));
  g_autoptr (NcfmModel) model = ncfm_model_new_from_file (dev, weights, &error);
  fail_unless (model != NULL, "%s", error ? error->message : "");
  ncfm_model_set_training (model, FALSE);
  g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
  fail_unless (ncfm_model_forward (model, images, acts, &error));
  gfloat logits[N_TEST * K];
  gint32 y[N_TEST];
  ncfm_tensor_download (ncfm_activations_get_logits (acts), logits, sizeof logits);
  ncfm_tensor_download (labels, y, sizeof y);
  memset (c, 0, sizeof (*c));
  for (guint i = 0; i < N_TEST; i++) {
    const gfloat *row = logits + i * K;
    guint better = 0;
    for (guint j = 0; j < K; j++)
      better += row[j] > row[y[i]];
    c->count++;
    c->top1 += better == 0;
    c->top5 += better < 5;
    c->class_correct[y[i]] += better == 0;
    c->class_count[y[i]]++;
  }
}

GST_START_TEST (test_matches_direct_count)
{
  Counts want;
  train_model ();
  direct_counts (&want);
  GST_INFO ("direct: top-1 %" G_GUINT64_FORMAT ", top-5 %" G_GUINT64_FORMAT " of %"
      G_GUINT64_FORMAT, want.top1, want.top5, want.count);
  /* a model that is neither useless nor perfect, so the counts say something */
  fail_unless (want.top1 > 2 * N_TEST / K && want.top1 < N_TEST, "top-1 %" G_GUINT64_FORMAT,
      want.top1);

  g_autofree gchar *props = g_strdup_printf ("weights=%s label=\"blobs repeat 1\"", weights);
  RunResult r;
  run_evaluate (data_dir, props, &r);
  fail_unless (r.eos, "%s", r.error);
  g_autoptr (GPtrArray) m = run_result_messages (&r, "ncfm-accuracy");
  fail_unless_equals_int (m->len, 1);
  const GstStructure *s = g_ptr_array_index (m, 0);
  fail_unless_equals_string (gst_structure_get_string (s, "label"), "blobs repeat 1");
  fail_unless_equals_string (gst_structure_get_string (s, "weights"), weights);
  guint64 count = 0;
  guint k = 0;
  gdouble top1 = -1, top5 = -1;
  fail_unless (gst_structure_get (s, "count", G_TYPE_UINT64, &count, "num-classes", G_TYPE_UINT,
          &k, "top1", G_TYPE_DOUBLE, &top1, "top5", G_TYPE_DOUBLE, &top5, NULL));
  fail_unless_equals_uint64 (count, want.count);
  fail_unless_equals_int (k, K);
  fail_unless (fabs (top1 - 100.0 * want.top1 / want.count) < 1e-9, "top-1 %g", top1);
  fail_unless (fabs (top5 - 100.0 * want.top5 / want.count) < 1e-9, "top-5 %g", top5);
  const GValue *pc = gst_structure_get_value (s, "per-class");
  const GValue *pn = gst_structure_get_value (s, "per-class-count");
  fail_unless (pc && pn && gst_value_array_get_size (pc) == K
      && gst_value_array_get_size (pn) == K);
  for (guint c = 0; c < K; c++) {
    const gdouble acc = g_value_get_double (gst_value_array_get_value (pc, c));
    fail_unless_equals_uint64 (g_value_get_uint64 (gst_value_array_get_value (pn, c)),
        want.class_count[c]);
    fail_unless (fabs (acc - 100.0 * want.class_correct[c] / want.class_count[c]) < 1e-9,
        "class %u: %g", c, acc);
  }
  run_result_clear (&r);
}
GST_END_TEST;

static void
expect_error (const gchar *dir, const gchar *props, const gchar *const *needles)
{
  RunResult r;
  run_evaluate (dir, props, &r);
  fail_unless (!r.eos && r.error != NULL, "no error for %s", props);
  for (guint i = 0; needles[i]; i++)
    fail_unless (strstr (r.error, needles[i]) != NULL, "\"%s\" not in: %s", needles[i], r.error);
  run_result_clear (&r);
}

static gchar *
save_convnet (const gchar *name, guint channels, guint classes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", NULL);
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (dev, channels, BLOBS_SIZE, BLOBS_SIZE, classes,
      1, 4, NCFM_NORM_INSTANCE, 0, &error);
  gchar *path = tmp_path (name);
  fail_unless (ncfm_model_save (NCFM_MODEL (net), path, &error));
  return path;
}

/* ncfmdatasetsrc max-images: a subset of that size, the same for every seed */
GST_START_TEST (test_max_images)
{
  g_autofree gchar *model = save_convnet ("any.safetensors", 1, K);
  g_autofree gchar *first = NULL;
  for (guint seed = 1; seed <= 2; seed++) {
    g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s split=test "
        "max-images=37 seed=%u batch-size=10 ! ncfmevaluate silent=true weights=%s", data_dir,
        seed, model);
    RunResult r;
    run_pipeline (desc, &r);
    fail_unless (r.eos, "%s", r.error);
    g_autoptr (GPtrArray) m = run_result_messages (&r, "ncfm-accuracy");
    const GstStructure *s = g_ptr_array_index (m, 0);
    guint64 count = 0;
    fail_unless (gst_structure_get_uint64 (s, "count", &count));
    fail_unless_equals_uint64 (count, 37);
    g_autofree gchar *per = gst_value_serialize (gst_structure_get_value (s, "per-class-count"));
    if (first) {
      fail_unless_equals_string (per, first);
    } else {
      first = g_steal_pointer (&per);
    }
    run_result_clear (&r);
  }
}
GST_END_TEST;

GST_START_TEST (test_errors)
{
  g_autofree gchar *missing = tmp_path ("no-such-weights.safetensors");
  g_autofree gchar *p1 = g_strdup_printf ("weights=%s", missing);
  expect_error (data_dir, p1, (const gchar *[]) { missing, NULL });
  expect_error (data_dir, "", (const gchar *[]) { "weights", NULL });

  /* a safetensors file that is no model */
  g_autofree gchar *junk = tmp_path ("junk.safetensors");
  {
    g_autoptr (NcfmSafetensors) st = ncfm_safetensors_new ();
    const gint64 shape[1] = { 2 };
    const gfloat v[2] = { 1, 2 };
    ncfm_safetensors_set (st, "x", NCFM_DTYPE_F32, shape, 1, v, sizeof v);
    fail_unless (ncfm_safetensors_save (st, junk, NULL));
  }
  g_autofree gchar *p2 = g_strdup_printf ("weights=%s", junk);
  expect_error (data_dir, p2, (const gchar *[]) { junk, "ncfm.arch", NULL });

  g_autofree gchar *five = save_convnet ("five.safetensors", 1, 5);
  g_autofree gchar *p3 = g_strdup_printf ("weights=%s", five);
  expect_error (data_dir, p3, (const gchar *[]) { five, "5 classes", "10", NULL });

  /* one NaN: refused at start, naming the property, file and tensor (it would score) */
  g_autofree gchar *nan = save_convnet ("nan.safetensors", 1, K);
  poison_weights_file (nan, "classifier.weight", 17);
  g_autofree gchar *p6 = g_strdup_printf ("weights=%s", nan);
  expect_error (data_dir, p6, (const gchar *[]) { "property weights", nan,
      "tensor 'classifier.weight' has a NaN at element 17", NULL });

  g_autofree gchar *rgb = save_convnet ("rgb.safetensors", 3, K);
  g_autofree gchar *p4 = g_strdup_printf ("weights=%s", rgb);
  expect_error (data_dir, p4, (const gchar *[]) { rgb, "[3,16,16]", "[1,16,16]", NULL });

  /* a dataset without its test split: the source says so, naming the location */
  g_autoptr (GError) error = NULL;
  g_autofree gchar *train_only = tmp_path ("train-only");
  fail_unless (blobs_write (train_only, K, 20, 0, 3, &error));
  g_autofree gchar *p5 = g_strdup_printf ("weights=%s", rgb);
  expect_error (train_only, p5, (const gchar *[]) { train_only, NULL });
}
GST_END_TEST;

static Suite *
evaluate_suite (void)
{
  Suite *s = suite_create ("ncfmevaluate");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, setup_data, teardown_data);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_matches_direct_count);
  tcase_add_test (tc, test_max_images);
  tcase_add_test (tc, test_errors);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (evaluate);
