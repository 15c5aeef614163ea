/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-labeller.c: NcfmLabeller against a direct ncfm_model_forward: the
 * arg-max of every image, its softmax probability, the confidence filter
 * and the class subset; a subset outside the model is refused. */
#include <math.h>

#include "libncfm-test.h"

#define N 24
#define K 5

static NcfmModel *
tiny_model (NcfmDevice *dev)
{
  g_autoptr (GError) error = NULL;
  NcfmConvNet *net = ncfm_convnet_new (dev, 1, 8, 8, K, 1, 8, NCFM_NORM_INSTANCE, 5, &error);
  g_assert_no_error (error);
  return NCFM_MODEL (net);
}

static NcfmTensor *
random_images (NcfmDevice *dev)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  gfloat host[N * 64];
  for (guint i = 0; i < G_N_ELEMENTS (host); i++)
    host[i] = (gfloat) g_rand_double_range (rand, -2, 2);
  const gint64 shape[4] = { N, 1, 8, 8 };
  NcfmTensor *t = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, shape, 4,
      (const guint8 *) host, sizeof host, &error);
  g_assert_no_error (error);
  return t;
}

static void
test_matches_forward (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmModel) model = tiny_model (dev);
  g_autoptr (NcfmTensor) images = random_images (dev);

  /* the reference: forward, arg-max and softmax written out here */
  g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
  ncfm_model_set_training (model, FALSE);
  g_assert_true (ncfm_model_forward (model, images, acts, &error));
  g_autofree gfloat *logits = ncfm_test_tensor_host (ncfm_activations_get_logits (acts));
  gint32 want[N];
  gdouble want_conf[N];
  for (guint i = 0; i < N; i++) {
    const gfloat *row = logits + i * K;
    want[i] = 0;
    for (guint j = 1; j < K; j++)
      if (row[j] > row[want[i]])
        want[i] = (gint32) j;
    gdouble z = 0;
    for (guint j = 0; j < K; j++)
      z += exp (row[j]);
    want_conf[i] = exp (row[want[i]]) / z;
  }

  g_autoptr (NcfmLabeller) labeller = ncfm_labeller_new (model);
  g_autofree gint32 *labels = NULL, *predicted = NULL;
  g_autofree gfloat *conf = NULL;
  guint n = 0;
  g_assert_true (ncfm_labeller_label (labeller, images, &labels, &predicted, &conf, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, N);
  guint classes_seen = 0;
  gdouble median = 0;
  for (guint i = 0; i < N; i++) {
    g_assert_cmpint (labels[i], ==, want[i]);
    g_assert_cmpint (predicted[i], ==, want[i]);
    g_assert_cmpfloat (fabs (conf[i] - want_conf[i]), <, 1e-6);
    classes_seen |= 1u << want[i];
    median += conf[i] / N;
  }
  g_assert_cmpuint (classes_seen & (classes_seen - 1), !=, 0);  /* more than one class */

  /* the filter: below the minimum, or outside the subset, is -1 */
  ncfm_labeller_set_min_confidence (labeller, median);
  const guint subset[2] = { (guint) want[0], (guint) want[1] };
  g_assert_true (ncfm_labeller_set_classes (labeller, subset, 2, &error));
  g_clear_pointer (&labels, g_free);
  g_assert_true (ncfm_labeller_label (labeller, images, &labels, NULL, NULL, &n, &error));
  guint kept = 0, dropped = 0;
  for (guint i = 0; i < N; i++) {
    const gboolean keep = want_conf[i] >= median && (want[i] == want[0] || want[i] == want[1]);
    g_assert_cmpint (labels[i], ==, keep ? want[i] : -1);
    keep ? kept++ : dropped++;
  }
  g_test_message ("kept %u, dropped %u", kept, dropped);
  g_assert_cmpuint (dropped, >, 0);

  /* a class the model does not have: refused, the subset unchanged */
  const guint bad[1] = { K };
  g_assert_false (ncfm_labeller_set_classes (labeller, bad, 1, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  guint outside = 0;
  while (outside == (guint) want[0] || outside == (guint) want[1])
    outside++;
  g_assert_false (ncfm_labeller_accepts (labeller, outside, 1.0));
  g_assert_true (ncfm_labeller_accepts (labeller, (guint) want[0], 1.0));
}

static void
test_wrong_images (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmDevice) other = ncfm_test_cpu_device ();
  g_autoptr (NcfmModel) model = tiny_model (dev);
  g_autoptr (NcfmLabeller) labeller = ncfm_labeller_new (model);
  g_autoptr (NcfmTensor) elsewhere = random_images (other);
  g_autofree gint32 *labels = NULL;
  guint n;
  g_assert_false (ncfm_labeller_label (labeller, elsewhere, &labels, NULL, NULL, &n, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE);
  g_clear_error (&error);
  const gint64 shape[4] = { 2, 3, 8, 8 };
  g_autoptr (NcfmTensor) rgb = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 4, &error);
  g_assert_false (ncfm_labeller_label (labeller, rgb, &labels, NULL, NULL, &n, &error));
  g_assert_nonnull (error);
  g_assert_null (labels);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/labeller/matches-forward", test_matches_forward);
  g_test_add_func ("/labeller/wrong-images", test_wrong_images);
  return g_test_run ();
}
