/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of ncfmtrain with the plugin loaded, on the separable blobs dataset
 * (blobs.h): it learns, its saved weights are the trained model exactly, the
 * schedules, the first step's loss against a direct computation (labels,
 * teacher soft labels, CutMix), and its errors. */
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

static gchar *tmp_dir, *data_dir;

static void
setup_data (void)
{
  g_autoptr (GError) error = NULL;
  tmp_dir = g_dir_make_tmp ("ncfm-train-XXXXXX", NULL);
  fail_unless (tmp_dir != NULL);
  data_dir = g_build_filename (tmp_dir, "blobs", NULL);
  fail_unless (blobs_write (data_dir, K, N_TRAIN, N_TEST, 1, &error), "%s",
      error ? error->message : "");
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
}

static gchar *
tmp_path (const gchar *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static gdouble
field_double (const GstStructure *s, const gchar *name)
{
  gdouble v = NAN;
  fail_unless (gst_structure_get_double (s, name, &v), "no field %s", name);
  return v;
}

static guint64
field_uint64 (const GstStructure *s, const gchar *name)
{
  guint64 v = 0;
  fail_unless (gst_structure_get_uint64 (s, name, &v), "no field %s", name);
  return v;
}

/* Runs `ncfmdatasetsrc location=<blobs> <src> ! ncfmtrain <train>`. */
static void
run_train (const gchar *src, const gchar *train, RunResult *r, gboolean keep)
{
  g_autofree gchar *desc = g_strdup_printf ("ncfmdatasetsrc location=%s mode=mixed %s ! "
      "ncfmtrain name=t progress-every=1 %s", data_dir, src, train);
  (keep ? run_pipeline_keep : run_pipeline) (desc, r);
}

GST_START_TEST (test_learns)
{
  RunResult r;
  /* batches of 32: 6 full ones and one of 8 per epoch */
  const guint per_epoch = (N_TRAIN + 31) / 32, n = per_epoch * 8;
  run_train ("batch-size=32 epochs=8", "depth=2 width=16 optimizer=adamw lr=0.01 "
      "schedule=constant", &r, FALSE);
  fail_unless (r.eos, "%s", r.error);
  g_autoptr (GPtrArray) m = run_result_messages (&r, "ncfm-train");
  fail_unless_equals_int (m->len, n);
  const gdouble first = field_double (g_ptr_array_index (m, 0), "loss");
  gdouble last = 0, last_acc = 0;
  for (guint i = 0; i < n; i++) {
    const GstStructure *s = g_ptr_array_index (m, i);
    fail_unless_equals_uint64 (field_uint64 (s, "step"), i + 1);
    fail_unless_equals_uint64 (field_uint64 (s, "steps"), n);
    fail_unless_equals_uint64 (field_uint64 (s, "epoch"), i / per_epoch);
    fail_unless (field_double (s, "images-per-second") > 0);
    if (i >= n - 10) {
      last += field_double (s, "loss") / 10;
      last_acc += field_double (s, "accuracy") / 10;
    }
  }
  GST_INFO ("loss %.3f -> %.3f, final accuracy %.1f %%", first, last, last_acc);
  fail_unless (first > 2.0, "first loss %g (chance is ln 10 = 2.30)", first);
  fail_unless (last < 0.5 * first, "loss %g -> %g", first, last);
  fail_unless (last_acc > 60.0, "training accuracy %.1f %% (chance 10 %%)", last_acc);
  run_result_clear (&r);
}
GST_END_TEST;

/* The first batch of a split (mixed, dataset order) as the source gives it,
 * on @dev (a model takes images of its own device object only). */
static void
first_batch (NcfmDevice *dev, const gchar *split, guint batch, NcfmTensor **images,
    gint32 **labels)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDataset) ds = ncfm_dataset_load (data_dir, NCFM_DATASET_FORMAT_AUTO, split, 0,
      NCFM_DATASET_FLAGS_NONE, NULL, &error);
  fail_unless (ds != NULL, "%s", error ? error->message : "");
  g_autoptr (NcfmLoader) loader = ncfm_loader_new (ds, dev, batch, NCFM_LOADER_MODE_MIXED, 0, 1,
      FALSE, NULL, 0, &error);
  fail_unless (loader != NULL, "%s", error ? error->message : "");
  g_autoptr (NcfmTensor) y = NULL;
  fail_unless (ncfm_loader_next (loader, images, &y, &error), "%s", error ? error->message : "");
  *labels = g_new (gint32, batch);
  ncfm_tensor_download (y, *labels, batch * sizeof (gint32));
}

static GBytes *
logits_of (NcfmModel *model, NcfmTensor *images)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
  fail_unless (ncfm_model_forward (model, images, acts, &error), "%s", error ? error->message : "");
  return ncfm_tensor_to_bytes (ncfm_activations_get_logits (acts));
}

static gboolean
same_parameters (NcfmModel *a, NcfmModel *b)
{
  fail_unless_equals_int (ncfm_model_get_n_parameters (a), ncfm_model_get_n_parameters (b));
  for (guint i = 0; i < ncfm_model_get_n_parameters (a); i++) {
    const gchar *name = ncfm_model_get_parameter_name (a, i);
    g_autoptr (GBytes) x = ncfm_tensor_to_bytes (ncfm_model_get_parameter (a, name));
    g_autoptr (GBytes) y = ncfm_tensor_to_bytes (ncfm_model_get_parameter (b, name));
    if (!g_bytes_equal (x, y))
      return FALSE;
  }
  return TRUE;
}

/* location holds the trained model exactly (BatchNorm running statistics
 * too), init-location the model before the first step */
GST_START_TEST (test_saved_weights)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *init = tmp_path ("init.safetensors");
  g_autofree gchar *trained = tmp_path ("trained.safetensors");
  g_autofree gchar *props = g_strdup_printf ("depth=2 width=8 norm=batchnorm seed=7 "
      "init-location=%s location=%s", init, trained);
  RunResult r;
  run_train ("batch-size=30 epochs=2", props, &r, TRUE);
  fail_unless (r.eos, "%s", r.error);
  GstElement *t = gst_bin_get_by_name (GST_BIN (r.pipeline), "t");
  NcfmModel *live = NULL;
  g_object_get (t, "model", &live, NULL);
  gst_object_unref (t);
  fail_unless (NCFM_IS_MODEL (live));
  run_result_clear (&r);

  NcfmDevice *dev = ncfm_model_get_device (live);   /* the pipeline's, kept by the model */
  g_autoptr (NcfmModel) loaded = ncfm_model_new_from_file (dev, trained, &error);
  fail_unless (loaded != NULL, "%s", error ? error->message : "");
  fail_unless (same_parameters (live, loaded));
  g_autoptr (NcfmTensor) images = NULL;
  g_autofree gint32 *labels = NULL;
  first_batch (ncfm_model_get_device (loaded), "test", N_TEST, &images, &labels);
  for (gint training = 0; training < 2; training++) {
    ncfm_model_set_training (live, training);
    ncfm_model_set_training (loaded, training);
    g_autoptr (GBytes) a = logits_of (live, images);
    g_autoptr (GBytes) b = logits_of (loaded, images);
    fail_unless (g_bytes_equal (a, b), "logits differ (training mode %d)", training);
  }

  /* the initial weights: a fresh ConvNet of the same seed, not the trained one */
  g_autoptr (NcfmModel) init_loaded = ncfm_model_new_from_file (dev, init, &error);
  fail_unless (init_loaded != NULL, "%s", error ? error->message : "");
  g_autoptr (NcfmConvNet) fresh = ncfm_convnet_new (dev, 1, BLOBS_SIZE, BLOBS_SIZE, K, 2, 8,
      NCFM_NORM_BATCH, 7, &error);
  fail_unless (same_parameters (init_loaded, NCFM_MODEL (fresh)));
  fail_if (same_parameters (init_loaded, loaded), "training changed nothing");
  g_object_unref (live);
}
GST_END_TEST;

static gdouble
lr_of_step (GPtrArray *m, guint step)
{
  const GstStructure *s = g_ptr_array_index (m, step - 1);
  fail_unless_equals_uint64 (field_uint64 (s, "step"), step);
  return field_double (s, "lr");
}

static void
check_lr (GPtrArray *m, guint step, gdouble want)
{
  const gdouble got = lr_of_step (m, step);
  fail_unless (fabs (got - want) <= 1e-6 * want, "step %u: lr %g, expected %g", step, got, want);
}

GST_START_TEST (test_schedules)
{
  RunResult r;
  /* SGD, pool schedule over an explicit 12 steps (the run has 20): x0.2 at 8 and 10 */
  run_train ("batch-size=20 epochs=2", "depth=1 width=4 lr=0.1 steps=12", &r, FALSE);
  fail_unless (r.eos, "%s", r.error);
  g_autoptr (GPtrArray) m = run_result_messages (&r, "ncfm-train");
  fail_unless_equals_int (m->len, 20);
  for (guint step = 1; step <= 20; step++)
    check_lr (m, step, step <= 8 ? 0.1 : step <= 10 ? 0.02 : 0.004);
  fail_unless_equals_uint64 (field_uint64 (g_ptr_array_index (m, 0), "steps"), 12);
  run_result_clear (&r);

  /* AdamW's default lr, halved at 20/40/60/80 % of the upstream duration (20 batches) */
  run_train ("batch-size=20 epochs=2", "depth=1 width=4 optimizer=adamw schedule=evaluation",
      &r, FALSE);
  fail_unless (r.eos, "%s", r.error);
  g_autoptr (GPtrArray) m2 = run_result_messages (&r, "ncfm-train");
  fail_unless_equals_int (m2->len, 20);
  for (guint step = 1; step <= 20; step++)
    check_lr (m2, step, 0.001 * pow (0.5, (step - 1) / 4));
  run_result_clear (&r);

  /* constant */
  run_train ("batch-size=50 epochs=1", "depth=1 width=4 schedule=constant", &r, FALSE);
  fail_unless (r.eos, "%s", r.error);
  g_autoptr (GPtrArray) m3 = run_result_messages (&r, "ncfm-train");
  for (guint step = 1; step <= m3->len; step++)
    check_lr (m3, step, 0.01);
  run_result_clear (&r);
}
GST_END_TEST;

/* The loss the element reports for its first batch, with init-weights = @model's file. */
static gdouble
first_loss (const gchar *model_path, const gchar *extra)
{
  g_autofree gchar *props = g_strdup_printf ("init-weights=%s %s", model_path, extra);
  RunResult r;
  run_train ("batch-size=50 epochs=1 shuffle=false", props, &r, FALSE);
  fail_unless (r.eos, "%s", r.error);
  g_autoptr (GPtrArray) m = run_result_messages (&r, "ncfm-train");
  fail_unless (m->len >= 1);
  const gdouble loss = field_double (g_ptr_array_index (m, 0), "loss");
  run_result_clear (&r);
  return loss;
}

/* Cross-entropy against the labels, and against the model's own softmax
 * (the entropy: the soft loss when the teacher is the student), in double. */
static void
direct_losses (NcfmModel *model, gdouble *hard, gdouble *soft)
{
  g_autoptr (NcfmTensor) images = NULL;
  g_autofree gint32 *labels = NULL;
  first_batch (ncfm_model_get_device (model), "train", 50, &images, &labels);
  g_autoptr (GBytes) lb = logits_of (model, images);
  const gfloat *l = g_bytes_get_data (lb, NULL);
  *hard = *soft = 0;
  for (guint i = 0; i < 50; i++) {
    const gfloat *row = l + i * K;
    gdouble mx = row[0], z = 0;
    for (guint j = 1; j < K; j++)
      mx = MAX (mx, row[j]);
    for (guint j = 0; j < K; j++)
      z += exp (row[j] - mx);
    const gdouble lse = mx + log (z);
    *hard += (lse - row[labels[i]]) / 50;
    for (guint j = 0; j < K; j++) {
      const gdouble p = exp (row[j] - lse);
      *soft += -p * (row[j] - lse) / 50;
    }
  }
}

GST_START_TEST (test_first_loss)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", NULL);
  g_autoptr (NcfmConvNet) net = ncfm_convnet_new (dev, 1, BLOBS_SIZE, BLOBS_SIZE, K, 2, 8,
      NCFM_NORM_INSTANCE, 3, &error);
  g_autofree gchar *path = tmp_path ("teacher.safetensors");
  fail_unless (ncfm_model_save (NCFM_MODEL (net), path, &error), "%s", error ? error->message : "");
  gdouble hard, soft;
  direct_losses (NCFM_MODEL (net), &hard, &soft);
  GST_INFO ("direct: cross-entropy %.6f, entropy %.6f", hard, soft);
  fail_unless (fabs (hard - soft) > 1e-3);

  const gdouble got_hard = first_loss (path, "");
  fail_unless (fabs (got_hard - hard) < 1e-5 * MAX (1.0, hard), "%.7f vs %.7f", got_hard, hard);
  g_autofree gchar *teacher = g_strdup_printf ("teacher=%s", path);
  const gdouble got_soft = first_loss (path, teacher);
  fail_unless (fabs (got_soft - soft) < 1e-5 * MAX (1.0, soft), "%.7f vs %.7f", got_soft, soft);
  /* CutMix at probability 1 changes the first batch and its targets */
  const gdouble got_mix = first_loss (path, "cutmix=1");
  fail_unless (isfinite (got_mix) && fabs (got_mix - hard) > 1e-4, "%.7f vs %.7f", got_mix,
      hard);
}
GST_END_TEST;

/* Trains on the blobs with CutMix on every batch: still well above chance. */
GST_START_TEST (test_cutmix_learns)
{
  RunResult r;
  run_train ("batch-size=20 epochs=10", "depth=2 width=16 optimizer=adamw lr=0.01 "
      "schedule=constant cutmix=1", &r, FALSE);
  fail_unless (r.eos, "%s", r.error);
  g_autoptr (GPtrArray) m = run_result_messages (&r, "ncfm-train");
  gdouble acc = 0;
  for (guint i = m->len - 10; i < m->len; i++)
    acc += field_double (g_ptr_array_index (m, i), "accuracy") / 10;
  fail_unless (acc > 40.0, "training accuracy %.1f %% with CutMix", acc);
  run_result_clear (&r);
}
GST_END_TEST;

/* arch=resnet-ap with its default depth (10): it trains and saves a ResNet-AP */
GST_START_TEST (test_resnet)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *path = tmp_path ("resnet.safetensors");
  g_autofree gchar *props = g_strdup_printf ("arch=resnet-ap width=4 optimizer=adamw lr=0.01 "
      "schedule=constant location=%s", path);
  RunResult r;
  run_train ("batch-size=20 epochs=3", props, &r, FALSE);
  fail_unless (r.eos, "%s", r.error);
  g_autoptr (GPtrArray) m = run_result_messages (&r, "ncfm-train");
  fail_unless_equals_int (m->len, 30);
  const gdouble first = field_double (g_ptr_array_index (m, 0), "loss");
  const gdouble last = field_double (g_ptr_array_index (m, 29), "loss");
  fail_unless (last < first, "loss %g -> %g", first, last);
  run_result_clear (&r);
  g_autoptr (NcfmDevice) dev = ncfm_device_new ("cpu", NULL);
  g_autoptr (NcfmModel) model = ncfm_model_new_from_file (dev, path, &error);
  fail_unless (model != NULL, "%s", error ? error->message : "");
  fail_unless_equals_string (ncfm_model_get_architecture (model), "resnet-ap");
  fail_unless_equals_int (ncfm_resnet_get_depth (NCFM_RESNET (model)), 10);
  fail_unless_equals_int (ncfm_model_get_num_classes (model), K);
}
GST_END_TEST;

static void
expect_error (const gchar *src, const gchar *train, const gchar *const *needles)
{
  RunResult r;
  run_train (src, train, &r, FALSE);
  fail_unless (!r.eos && r.error != NULL, "no error for %s", train);
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

GST_START_TEST (test_errors)
{
  const gchar *src = "batch-size=50 epochs=1";
  g_autofree gchar *missing = tmp_path ("no-such-weights.safetensors");
  g_autofree gchar *p1 = g_strdup_printf ("init-weights=%s", missing);
  expect_error (src, p1, (const gchar *[]) { missing, "init-weights", NULL });

  g_autofree gchar *five = save_convnet ("five.safetensors", 1, 5);
  g_autofree gchar *p2 = g_strdup_printf ("init-weights=%s", five);
  expect_error (src, p2, (const gchar *[]) { five, "5 classes", "10", NULL });

  expect_error (src, "num-classes=4 depth=1", (const gchar *[]) { "num-classes", "4", "10",
      NULL });

  g_autofree gchar *rgb = save_convnet ("rgb.safetensors", 3, K);
  g_autofree gchar *p3 = g_strdup_printf ("depth=1 teacher=%s", rgb);
  expect_error (src, p3, (const gchar *[]) { "teacher", "[3,16,16]", "[1,16,16]", NULL });

  expect_error ("num-buffers=0", "depth=1", (const gchar *[]) { "No training batch", NULL });

  g_autofree gchar *nodir = tmp_path ("no-such-dir/trained.safetensors");
  g_autofree gchar *p4 = g_strdup_printf ("depth=1 location=%s", nodir);
  expect_error (src, p4, (const gchar *[]) { nodir, "location", NULL });
}
GST_END_TEST;

/* A teacher with one NaN is refused at start: no step, no file written. */
GST_START_TEST (test_nan_teacher)
{
  g_autofree gchar *teacher = save_convnet ("nan-teacher.safetensors", 1, K);
  poison_weights_file (teacher, "classifier.weight", 17);
  g_autofree gchar *out = tmp_path ("student.safetensors");
  g_autofree gchar *props = g_strdup_printf ("depth=1 teacher=%s location=%s", teacher, out);
  expect_error ("batch-size=50 epochs=1", props, (const gchar *[]) { "property teacher",
      teacher, "tensor 'classifier.weight' has a NaN at element 17", NULL });
  fail_if (g_file_test (out, G_FILE_TEST_EXISTS), "%s was written", out);
}
GST_END_TEST;

/* lr=10 without normalisation diverges within a few steps: an error at the
 * first non-finite loss naming the step and lr, and location keeps the
 * bytes of the previous run's weights. */
GST_START_TEST (test_diverging_lr)
{
  g_autofree gchar *out = save_convnet ("previous.safetensors", 1, K);
  g_autofree gchar *before = file_sha256 (out);
  g_autofree gchar *props = g_strdup_printf ("depth=2 width=8 norm=none lr=10 location=%s", out);
  RunResult r;
  run_train ("batch-size=50 epochs=10", props, &r, FALSE);
  fail_unless (!r.eos && r.error != NULL, "no error");
  for (const gchar *const *n = (const gchar *[]) { "Training diverged at step ", "is NaN",
          "lower learning rate (property lr, 10)", out, NULL }; *n; n++)
    fail_unless (strstr (r.error, *n) != NULL, "\"%s\" not in: %s", *n, r.error);
  /* it stopped at the first bad loss: every step before it had a finite one */
  g_autoptr (GPtrArray) m = run_result_messages (&r, "ncfm-train");
  fail_unless (m->len >= 1 && m->len < 40, "%u progress messages", m->len);
  for (guint i = 0; i < m->len; i++)
    fail_unless (isfinite (field_double (g_ptr_array_index (m, i), "loss")));
  g_autofree gchar *step = g_strdup_printf ("step %u ", m->len + 1);
  fail_unless (strstr (r.error, step) != NULL, "\"%s\" not in: %s", step, r.error);
  run_result_clear (&r);
  g_autofree gchar *after = file_sha256 (out);
  fail_unless_equals_string (before, after);
}
GST_END_TEST;

static Suite *
train_suite (void)
{
  Suite *s = suite_create ("ncfmtrain");
  TCase *tc = tcase_create ("general");
  tcase_add_unchecked_fixture (tc, setup_data, teardown_data);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_learns);
  tcase_add_test (tc, test_saved_weights);
  tcase_add_test (tc, test_schedules);
  tcase_add_test (tc, test_first_loss);
  tcase_add_test (tc, test_cutmix_learns);
  tcase_add_test (tc, test_resnet);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_nan_teacher);
  tcase_add_test (tc, test_diverging_lr);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (train);
