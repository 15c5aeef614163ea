/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The NcfmModel base class and the architecture registry, for every
 * registered architecture without naming it: the registry lists the
 * built-in ones and explains an unknown name; weights go through the base
 * class's save and rebuild-from-file bitwise; blend and freeze work on the
 * base's tensor store. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include "libncfm-test.h"

/* The smallest depth @arch takes (ConvNet 1, ResNet-AP 10), so the test
 * needs no table of architectures. */
static NcfmModel *
new_small (const gchar *arch, NcfmDevice *dev, NcfmNorm norm, guint64 seed)
{
  for (guint depth = 1; depth <= 32; depth++) {
    NcfmModel *m = ncfm_model_new_for_architecture (arch, dev, 3, 16, 16, 5, depth, 4, norm,
        seed, NULL);
    if (m)
      return m;
  }
  g_error ("no depth of 1..32 builds a %s", arch);
}

static NcfmTensor *
images (NcfmDevice *dev, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  const gint64 shape[4] = { 4, 3, 16, 16 };
  NcfmTensor *x = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 4, NULL);
  float *v = ncfm_tensor_f32 (x);
  for (guint i = 0; i < 4 * 3 * 16 * 16; i++)
    v[i] = (float) g_rand_double_range (rand, -1, 1);
  return x;
}

/* Every named tensor of @a equals @b's, bitwise, in the same order. */
static void
assert_same_tensors (NcfmModel *a, NcfmModel *b)
{
  g_assert_cmpuint (ncfm_model_get_n_parameters (a), ==, ncfm_model_get_n_parameters (b));
  for (guint i = 0; i < ncfm_model_get_n_parameters (a); i++) {
    const gchar *name = ncfm_model_get_parameter_name (a, i);
    g_assert_cmpstr (name, ==, ncfm_model_get_parameter_name (b, i));
    NcfmTensor *x = ncfm_model_get_parameter (a, name), *y = ncfm_model_get_parameter (b, name);
    g_autofree float *hx = ncfm_test_tensor_host (x), *hy = ncfm_test_tensor_host (y);
    g_assert_cmpmem (hx, ncfm_tensor_get_n_bytes (x), hy, ncfm_tensor_get_n_bytes (y));
  }
}

static void
test_registry (void)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = ncfm_model_list_architectures ();
  g_assert_cmpuint (g_strv_length (names), >=, 2);
  g_assert_cmpstr (names[0], ==, "convnet");
  g_assert_cmpstr (names[1], ==, "resnet-ap");
  g_assert_true (ncfm_model_lookup_architecture ("convnet", &error) == NCFM_TYPE_CONVNET);
  g_assert_true (ncfm_model_lookup_architecture ("resnet-ap", &error) == NCFM_TYPE_RESNET);
  g_assert_no_error (error);

  /* an unknown name: the error names it and every known one */
  g_assert_true (ncfm_model_lookup_architecture ("vit-b16", &error) == G_TYPE_INVALID);
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "'vit-b16'"));
  g_assert_nonnull (strstr (error->message, "known: convnet, resnet-ap"));
  g_clear_error (&error);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_assert_null (ncfm_model_new_for_architecture ("vit-b16", dev, 3, 16, 16, 5, 3, 4,
          NCFM_NORM_NONE, 0, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "'vit-b16'"));
  g_clear_error (&error);

  /* a taken name, a type registered under another name, a non-model type */
  g_assert_false (ncfm_model_register_architecture ("convnet", NCFM_TYPE_RESNET, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "'convnet' is already registered as NcfmConvNet"));
  g_clear_error (&error);
  g_assert_false (ncfm_model_register_architecture ("convnet-2", NCFM_TYPE_CONVNET, &error));
  g_assert_nonnull (strstr (error->message, "'convnet' is already registered"));
  g_clear_error (&error);
  g_assert_false (ncfm_model_register_architecture ("object", G_TYPE_OBJECT, &error));
  g_assert_nonnull (strstr (error->message, "subclass of NcfmModel"));
  g_clear_error (&error);
  g_auto (GStrv) after = ncfm_model_list_architectures ();
  g_assert_cmpuint (g_strv_length (after), ==, g_strv_length (names));

  /* the registry's constructor is the architecture's own, draw for draw */
  g_autoptr (NcfmModel) by_name = ncfm_model_new_for_architecture ("convnet", dev, 3, 16, 16, 5,
      2, 4, NCFM_NORM_BATCH, 9, &error);
  g_autoptr (NcfmConvNet) direct = ncfm_convnet_new (dev, 3, 16, 16, 5, 2, 4, NCFM_NORM_BATCH, 9,
      &error);
  g_assert_no_error (error);
  g_assert_true (NCFM_IS_CONVNET (by_name));
  assert_same_tensors (by_name, NCFM_MODEL (direct));
}

/* For every registered architecture: a model with moved BatchNorm
 * statistics, saved by the base class, comes back from the file alone
 * (ncfm_model_new_from_file) as the same architecture and configuration
 * with the same tensors and outputs; ncfm_model_load into a fresh model of
 * another seed gives the same tensors. */
static void
test_roundtrip (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autofree gchar *dir = g_dir_make_tmp ("ncfm-model-base-XXXXXX", &error);
  g_auto (GStrv) names = ncfm_model_list_architectures ();
  g_autoptr (NcfmTensor) x = images (dev, 3);
  for (guint a = 0; names[a]; a++) {
    g_autoptr (NcfmModel) m = new_small (names[a], dev, NCFM_NORM_BATCH, 11);
    g_assert_cmpstr (ncfm_model_get_architecture (m), ==, names[a]);
    g_autoptr (NcfmActivations) act = ncfm_activations_new ();
    g_assert_true (ncfm_model_forward (m, x, act, &error));   /* moves the running stats */
    ncfm_model_set_training (m, FALSE);
    g_assert_true (ncfm_model_forward (m, x, act, &error));
    g_autofree float *want = ncfm_test_tensor_host (ncfm_activations_get_logits (act));

    g_autofree gchar *path = g_build_filename (dir, names[a], NULL);
    g_assert_true (ncfm_model_save (m, path, &error));
    g_autoptr (NcfmModel) back = ncfm_model_new_from_file (dev, path, &error);
    g_assert_no_error (error);
    g_assert_true (G_OBJECT_TYPE (back) == G_OBJECT_TYPE (m));
    guint c, h, w;
    ncfm_model_get_input_shape (back, &c, &h, &w);
    g_assert_cmpuint (c * 10000 + h * 100 + w, ==, 31616);
    g_assert_cmpuint (ncfm_model_get_depth (back), ==, ncfm_model_get_depth (m));
    g_assert_cmpuint (ncfm_model_get_net_width (back), ==, 4);
    g_assert_cmpint (ncfm_model_get_norm (back), ==, NCFM_NORM_BATCH);
    g_assert_cmpuint (ncfm_model_get_num_classes (back), ==, 5);
    g_assert_cmpuint (ncfm_model_get_feature_dim (back), ==, ncfm_model_get_feature_dim (m));
    assert_same_tensors (m, back);
    ncfm_model_set_training (back, FALSE);
    g_autoptr (NcfmActivations) act2 = ncfm_activations_new ();
    g_assert_true (ncfm_model_forward (back, x, act2, &error));
    g_autofree float *got = ncfm_test_tensor_host (ncfm_activations_get_logits (act2));
    g_assert_cmpmem (got, 4 * 5 * sizeof (float), want, 4 * 5 * sizeof (float));

    g_autoptr (NcfmModel) other = ncfm_model_new_like (m, NULL, 12, &error);
    g_assert_true (ncfm_model_load (other, path, &error));
    g_assert_no_error (error);
    assert_same_tensors (m, other);
    g_unlink (path);
  }
  g_rmdir (dir);
}

/* A model saved as one architecture and loaded into another, or with
 * broken metadata: errors naming the file and what is wrong; the target
 * keeps its weights. */
static void
test_bad_files (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autofree gchar *dir = g_dir_make_tmp ("ncfm-model-base-XXXXXX", &error);
  g_autofree gchar *path = g_build_filename (dir, "w.safetensors", NULL);
  g_autoptr (NcfmModel) conv = new_small ("convnet", dev, NCFM_NORM_INSTANCE, 1);
  g_autoptr (NcfmModel) res = new_small ("resnet-ap", dev, NCFM_NORM_INSTANCE, 1);
  g_autoptr (NcfmModel) kept = ncfm_model_new_like (res, NULL, 1, &error);
  g_assert_true (ncfm_model_save (conv, path, &error));
  g_assert_false (ncfm_model_load (res, path, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "is not a parameter of a ResNet-AP-10 (width 4, "
          "instancenorm, 5 classes)"));
  g_clear_error (&error);
  assert_same_tensors (res, kept);

  struct { const gchar *key, *value, *says; } cases[] = {
    { "ncfm.arch", "vit-b16", "metadata 'ncfm.arch' is vit-b16 (known: convnet, resnet-ap)" },
    { "ncfm.norm", "layernorm", "metadata 'ncfm.norm' is missing or unknown" },
    { "ncfm.depth", "0", "metadata 'ncfm.depth' is 0 (expected a positive integer" },
    { "ncfm.height", "1", "too small for a ConvNet" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (NcfmSafetensors) file = ncfm_model_to_safetensors (conv);
    ncfm_safetensors_set_metadata (file, cases[i].key, cases[i].value);
    g_assert_true (ncfm_safetensors_save (file, path, &error));
    g_assert_null (ncfm_model_new_from_file (dev, path, &error));
    g_assert_nonnull (error);
    g_test_message ("%s=%s: %s", cases[i].key, cases[i].value, error->message);
    g_assert_nonnull (strstr (error->message, path));
    g_assert_nonnull (strstr (error->message, cases[i].says));
    g_clear_error (&error);
  }
  g_unlink (path);
  g_rmdir (dir);
}

/* Blend through the base for every architecture: lambda 1 gives init and
 * 0 gives trained bitwise (buffers included), 0.25 the affine mix of each
 * float tensor; two architectures do not blend. */
static void
test_blend (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_auto (GStrv) names = ncfm_model_list_architectures ();
  g_autoptr (NcfmModel) first = new_small (names[0], dev, NCFM_NORM_BATCH, 1);
  for (guint a = 0; names[a]; a++) {
    g_autoptr (NcfmModel) init = new_small (names[a], dev, NCFM_NORM_BATCH, 1);
    g_autoptr (NcfmModel) trained = new_small (names[a], dev, NCFM_NORM_BATCH, 2);
    g_autoptr (NcfmModel) all_init = ncfm_model_new_blend (init, trained, 1.0, &error);
    g_autoptr (NcfmModel) all_trained = ncfm_model_new_blend (init, trained, 0.0, &error);
    g_autoptr (NcfmModel) mix = ncfm_model_new_blend (init, trained, 0.25, &error);
    g_assert_no_error (error);
    g_assert_true (G_OBJECT_TYPE (mix) == G_OBJECT_TYPE (init));
    assert_same_tensors (all_init, init);
    assert_same_tensors (all_trained, trained);
    guint changed = 0;
    for (guint i = 0; i < ncfm_model_get_n_parameters (mix); i++) {
      const gchar *name = ncfm_model_get_parameter_name (mix, i);
      NcfmTensor *t = ncfm_model_get_parameter (mix, name);
      g_autofree float *got = ncfm_test_tensor_host (t);
      g_autofree float *x = ncfm_test_tensor_host (ncfm_model_get_parameter (init, name));
      g_autofree float *y = ncfm_test_tensor_host (ncfm_model_get_parameter (trained, name));
      for (gint64 k = 0; k < ncfm_tensor_get_numel (t); k++) {
        const float want = 0.25f * x[k] + 0.75f * y[k];
        g_assert_cmpfloat_with_epsilon (got[k], want, 1e-6f * (1.0f + fabsf (want)));
        changed += x[k] != y[k];
      }
    }
    g_assert_cmpuint (changed, >, 0);
    if (a > 0) {
      g_assert_null (ncfm_model_new_blend (first, init, 0.5, &error));
      g_assert_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS);
      g_assert_nonnull (strstr (error->message, "models differ"));
      g_clear_error (&error);
      g_assert_false (ncfm_model_copy_parameters (first, init, &error));
      g_assert_error (error, NCFM_ERROR, NCFM_ERROR_WEIGHTS);
      g_clear_error (&error);
    }
  }
}

/* Freeze through the base for every architecture: BatchNorm in training
 * mode leaves every tensor of a frozen model bitwise as it was; unfrozen,
 * forward moves the running statistics. */
static void
test_freeze (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_auto (GStrv) names = ncfm_model_list_architectures ();
  g_autoptr (NcfmTensor) x = images (dev, 5);
  for (guint a = 0; names[a]; a++) {
    g_autoptr (NcfmModel) m = new_small (names[a], dev, NCFM_NORM_BATCH, 3);
    g_autoptr (NcfmModel) before = ncfm_model_new_like (m, NULL, 3, &error);
    g_autoptr (NcfmActivations) act = ncfm_activations_new ();
    ncfm_model_set_frozen (m, TRUE);
    g_assert_true (ncfm_model_forward (m, x, act, &error));
    g_assert_no_error (error);
    assert_same_tensors (m, before);
    g_autoptr (NcfmSafetensors) frozen_file = ncfm_model_to_safetensors (m);
    ncfm_model_set_frozen (m, FALSE);
    g_assert_true (ncfm_model_forward (m, x, act, &error));
    g_autoptr (NcfmSafetensors) live_file = ncfm_model_to_safetensors (m);
    /* the batch counter moved only now */
    g_auto (GStrv) tensors = ncfm_safetensors_list_names (live_file);
    guint counters = 0;
    for (guint i = 0; tensors[i]; i++) {
      if (!g_str_has_suffix (tensors[i], "num_batches_tracked"))
        continue;
      gsize n0 = 0, n1 = 0;
      gint64 c0, c1;
      memcpy (&c0, ncfm_safetensors_peek (frozen_file, tensors[i], NULL, &n0, NULL), sizeof c0);
      memcpy (&c1, ncfm_safetensors_peek (live_file, tensors[i], NULL, &n1, NULL), sizeof c1);
      g_assert_cmpint (c0, ==, 0);
      g_assert_cmpint (c1, ==, 1);
      counters++;
    }
    g_assert_cmpuint (counters, >, 0);
    const gchar *rm = NULL;
    for (guint i = 0; !rm && i < ncfm_model_get_n_parameters (m); i++)
      if (g_str_has_suffix (ncfm_model_get_parameter_name (m, i), "running_mean"))
        rm = ncfm_model_get_parameter_name (m, i);
    g_autofree float *now = ncfm_test_tensor_host (ncfm_model_get_parameter (m, rm));
    g_autofree float *was = ncfm_test_tensor_host (ncfm_model_get_parameter (before, rm));
    g_assert_true (memcmp (now, was, ncfm_tensor_get_n_bytes (ncfm_model_get_parameter (m, rm)))
        != 0);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model-base/registry", test_registry);
  g_test_add_func ("/model-base/save-load-roundtrip", test_roundtrip);
  g_test_add_func ("/model-base/bad-files", test_bad_files);
  g_test_add_func ("/model-base/blend", test_blend);
  g_test_add_func ("/model-base/freeze", test_freeze);
  return g_test_run ();
}
