/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NcfmTrainer (ncfm-trainer.c): it learns a tiny separable problem, a step
 * is a pure function of the weights and the seed (with DSA, CutMix and a
 * teacher), and bad batches or teachers are errors that leave the weights
 * alone; the label checks and ranks the evaluation shares. */
#include <math.h>
#include <string.h>
#include "libncfm-test.h"

#define K 2
#define B 8
#define S 8

/* B images [1, S, S]: class 0 bright on the left half, class 1 on the right. */
static void
make_batch (NcfmDevice *dev, NcfmTensor **images, NcfmTensor **labels)
{
  g_autoptr (GError) error = NULL;
  gfloat x[B * S * S];
  gint32 y[B];
  for (guint i = 0; i < B; i++) {
    y[i] = i % K;
    for (guint r = 0; r < S; r++)
      for (guint c = 0; c < S; c++)
        x[(i * S + r) * S + c] = ((c < S / 2) == (y[i] == 0) ? 1.0f : -1.0f) + 0.05f * i;
  }
  const gint64 shape[4] = { B, 1, S, S }, n = B;
  *images = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, shape, 4, (const guint8 *) x,
      sizeof x, &error);
  g_assert_no_error (error);
  *labels = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_I32, &n, 1, (const guint8 *) y, sizeof y,
      &error);
  g_assert_no_error (error);
}

static NcfmModel *
new_net (NcfmDevice *dev, guint k, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  NcfmConvNet *net = ncfm_convnet_new (dev, 1, S, S, k, 1, 4, NCFM_NORM_INSTANCE, seed, &error);
  g_assert_no_error (error);
  ncfm_model_set_training (NCFM_MODEL (net), TRUE);
  return NCFM_MODEL (net);
}

static NcfmTrainer *
new_trainer (NcfmModel *model, NcfmModel *teacher, NcfmAugment *augment, gfloat cutmix)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmOptimizer) opt = ncfm_optimizer_new_for_model (model, NCFM_OPTIMIZER_SGD, 0.9f,
      0.0f, &error);
  g_assert_no_error (error);
  NcfmTrainer *trainer = ncfm_trainer_new (model, opt, teacher, augment, cutmix, &error);
  g_assert_no_error (error);
  return trainer;
}

/* A CPU device, one batch (x, y) and a 2-class ConvNet seeded with 3. */
typedef struct {
  NcfmDevice *dev;
  NcfmTensor *x, *y;
  NcfmModel *model;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  (void) data;
  f->dev = ncfm_test_cpu_device ();
  make_batch (f->dev, &f->x, &f->y);
  f->model = new_net (f->dev, K, 3);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  g_clear_object (&f->model);
  g_clear_object (&f->x);
  g_clear_object (&f->y);
  g_clear_object (&f->dev);
}

static void
test_learns (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (GError) error = NULL;
  NcfmTensor *x = f->x, *y = f->y;
  NcfmModel *model = f->model;
  g_autoptr (NcfmTrainer) trainer = new_trainer (model, NULL, NULL, 0.0f);
  g_assert_true (ncfm_trainer_get_model (trainer) == model);
  gdouble first = 0, loss = 0;
  guint correct = 0;
  for (guint s = 0; s < 30; s++) {
    g_assert_true (ncfm_trainer_step (trainer, x, y, ncfm_trainer_step_seed (0, s), 0.05f, &loss,
            &correct, &error));
    g_assert_no_error (error);
    if (s == 0)
      first = loss;
  }
  g_test_message ("loss %.4f -> %.4f, %u/%d correct", first, loss, correct, B);
  g_assert_cmpfloat (first, >, 0.5);   /* about log 2 at the start */
  g_assert_cmpfloat (loss, <, 0.25 * first);
  g_assert_cmpuint (correct, ==, B);
}

/* Two trainers from the same weights and seeds give the same bits; another seed does not. */
static void
assert_deterministic (NcfmAugment *augment, gboolean with_teacher, gfloat cutmix)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) x = NULL;
  g_autoptr (NcfmTensor) y = NULL;
  make_batch (dev, &x, &y);
  g_autoptr (NcfmModel) teacher = with_teacher ? new_net (dev, K, 9) : NULL;
  gdouble losses[3][3];
  gfloat *weights[3] = { NULL };
  for (guint run = 0; run < 3; run++) {
    g_autoptr (NcfmModel) model = new_net (dev, K, 3);
    g_autoptr (NcfmTrainer) trainer = new_trainer (model, teacher, augment, cutmix);
    for (guint s = 0; s < 3; s++)
      g_assert_true (ncfm_trainer_step (trainer, x, y, ncfm_trainer_step_seed (run == 2, s),
              0.05f, &losses[run][s], NULL, &error));
    weights[run] = ncfm_test_tensor_host (ncfm_model_get_parameter (model, "layers.conv.0.weight"));
  }
  g_assert_cmpmem (losses[0], sizeof losses[0], losses[1], sizeof losses[1]);
  g_assert_cmpmem (weights[0], 9 * sizeof (gfloat), weights[1], 9 * sizeof (gfloat));
  g_assert_true (memcmp (losses[0], losses[2], sizeof losses[0]) != 0);
  for (guint run = 0; run < 3; run++)
    g_free (weights[run]);
}

static void
test_deterministic (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmAugment) dsa = ncfm_augment_new ("color_crop_flip_scale_rotate",
      NCFM_AUGMENT_PER_SAMPLE, &error);
  g_assert_no_error (error);
  assert_deterministic (NULL, FALSE, 1.0f);   /* CutMix: mixed soft targets */
  assert_deterministic (NULL, TRUE, 0.5f);    /* teacher soft labels */
  assert_deterministic (dsa, FALSE, 0.5f);
}

static void
test_bad_input (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (GError) error = NULL;
  NcfmDevice *dev = f->dev;
  NcfmTensor *x = f->x, *y = f->y;
  NcfmModel *model = f->model;
  g_autoptr (NcfmModel) three = new_net (dev, 3, 3);
  g_assert_null (ncfm_trainer_new (model, NULL, three, NULL, 0.0f, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "has 3 classes, the model [1,8,8] on"));
  g_clear_error (&error);
  g_assert_null (ncfm_trainer_new (model, NULL, NULL, NULL, 1.5f, &error));
  g_assert_nonnull (strstr (error->message, "CutMix probability 1.5 is outside [0, 1]"));
  g_clear_error (&error);

  g_autoptr (NcfmTrainer) trainer = new_trainer (model, NULL, NULL, 0.5f);
  NcfmTensor *w = ncfm_model_get_parameter (model, "layers.conv.0.weight");
  g_autofree gfloat *before = ncfm_test_tensor_host (w);
  const gint32 bad[B] = { 0, 1, 0, 7, 0, 1, 0, 1 };
  const gint64 n = B, s3[4] = { B, 1, S, S - 1 };
  g_autoptr (NcfmTensor) bad_y = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_I32, &n, 1,
      (const guint8 *) bad, sizeof bad, &error);
  g_assert_false (ncfm_trainer_step (trainer, x, bad_y, 1, 0.05f, NULL, NULL, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_cmpstr (error->message, ==,
      "label 7 of image 3 of the batch is not one of the model's 2 classes");
  g_clear_error (&error);
  g_autoptr (NcfmTensor) narrow = ncfm_tensor_new (dev, NCFM_DTYPE_F32, s3, 4, &error);
  g_assert_false (ncfm_trainer_step (trainer, narrow, y, 1, 0.05f, NULL, NULL, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "images must be F32 [N, 1, 8, 8]"));
  g_clear_error (&error);
  g_assert_false (ncfm_trainer_step (trainer, x, x, 1, 0.05f, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "labels must be I32 [8]"));
  g_clear_error (&error);
  g_assert_false (ncfm_trainer_step (trainer, x, y, 1, -1.0f, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "learning rate -1"));
  g_clear_error (&error);
  g_autofree gfloat *after = ncfm_test_tensor_host (w);
  g_assert_cmpmem (before, 9 * sizeof (gfloat), after, 9 * sizeof (gfloat));
}

static void
test_label_rank (void)
{
  const gfloat logits[4] = { 1.0f, 3.0f, 3.0f, -1.0f };
  g_assert_cmpuint (ncfm_classifier_label_rank (logits, 4, 1), ==, 0);
  g_assert_cmpuint (ncfm_classifier_label_rank (logits, 4, 2), ==, 1);   /* tie: first wins */
  g_assert_cmpuint (ncfm_classifier_label_rank (logits, 4, 3), ==, 3);
  const gfloat with_nan[3] = { NAN, 0.0f, 1.0f };
  g_assert_cmpuint (ncfm_classifier_label_rank (with_nan, 3, 2), ==, 1);
  g_assert_cmpuint (ncfm_classifier_label_rank (with_nan, 3, 0), ==, 3);
  g_autoptr (GError) error = NULL;
  const gint32 labels[3] = { 0, 2, -1 };
  g_assert_true (ncfm_classifier_check_labels (labels, 2, 3, &error));
  g_assert_false (ncfm_classifier_check_labels (labels, 3, 3, &error));
  g_assert_cmpstr (error->message, ==,
      "label -1 of image 2 of the batch is not one of the model's 3 classes");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/trainer/learns", Fixture, NULL, fixture_setup, test_learns, fixture_teardown);
  g_test_add_func ("/trainer/deterministic", test_deterministic);
  g_test_add ("/trainer/bad-input", Fixture, NULL, fixture_setup, test_bad_input,
      fixture_teardown);
  g_test_add_func ("/trainer/label-rank", test_label_rank);
  return g_test_run ();
}
