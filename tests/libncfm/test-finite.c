/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The NaN/infinity checks (ncfm-finite.c): a weights file with one bad value
 * in any tensor is refused by every model loader with an error naming the
 * file, the tensor and the element, the model it was loaded into keeps its
 * weights, and ncfm_model_check_finite() finds a diverged parameter. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include "libncfm-test.h"

typedef enum { ARCH_CONVNET, ARCH_RESNET } Arch;

static NcfmModel *
make_model (NcfmDevice *dev, Arch arch, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  NcfmModel *m = arch == ARCH_CONVNET
      ? NCFM_MODEL (ncfm_convnet_new (dev, 1, 8, 8, 10, 2, 4, NCFM_NORM_BATCH, seed, &error))
      : NCFM_MODEL (ncfm_resnet_new (dev, 1, 8, 8, 10, 10, 4, NCFM_NORM_BATCH, seed, &error));
  g_assert_no_error (error);
  return m;
}

/* The model's weights with tensor @name's element @at set to @value. */
static NcfmSafetensors *
weights_with (NcfmModel *m, const gchar *name, gsize at, gfloat value)
{
  NcfmSafetensors *st = ncfm_model_to_safetensors (m);
  guint nd = 0;
  g_autofree gint64 *shape = ncfm_safetensors_get_shape (st, name, &nd, NULL);
  gsize n = 0;
  g_autofree gfloat *v = ncfm_safetensors_dup_f32 (st, name, &n, NULL);
  g_assert_nonnull (v);
  g_assert_cmpuint (at, <, n);
  v[at] = value;
  ncfm_safetensors_set (st, name, NCFM_DTYPE_F32, shape, nd, v, n * sizeof (gfloat));
  return st;
}

static void
assert_names (const GError *error, const gchar *file, const gchar *tensor, const gchar *what)
{
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_NOT_FINITE);
  g_autofree gchar *quoted = g_strdup_printf ("tensor '%s' has %s", tensor, what);
  g_assert_nonnull (strstr (error->message, file));
  g_assert_nonnull (strstr (error->message, quoted));
}

/* One NaN, +inf or -inf in the last tensor of a saved file: ncfm_model_load,
 * ncfm_model_new_from_file and ncfm_safetensors_check_finite all refuse it,
 * and the loaded-into model is unchanged. */
static void
test_model_files (gconstpointer data)
{
  const Arch arch = GPOINTER_TO_INT (data);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmModel) good = make_model (dev, arch, 1);
  const guint n_params = ncfm_model_get_n_parameters (good);
  const gchar *tensor = ncfm_model_get_parameter_name (good, n_params - 1);
  const gfloat bad[3] = { NAN, INFINITY, -INFINITY };
  const gchar *what[3] = { "a NaN at element 3 ", "+inf at element 3 ", "-inf at element 3 " };
  g_autofree gchar *dir = g_dir_make_tmp ("ncfm-finite-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "premodel3_trained.safetensors", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (NcfmSafetensors) st = weights_with (good, tensor, 3, bad[i]);
    g_assert_true (ncfm_safetensors_save (st, path, &error));

    g_autoptr (NcfmModel) loaded = ncfm_model_new_from_file (dev, path, &error);
    g_assert_null (loaded);
    assert_names (error, path, tensor, what[i]);
    g_clear_error (&error);

    g_autoptr (NcfmModel) target = make_model (dev, arch, 2);
    g_autoptr (GBytes) before = ncfm_tensor_to_bytes (ncfm_model_get_parameter (target, tensor));
    g_assert_false (ncfm_model_load (target, path, &error));
    assert_names (error, path, tensor, what[i]);
    g_clear_error (&error);
    g_autoptr (GBytes) after = ncfm_tensor_to_bytes (ncfm_model_get_parameter (target, tensor));
    g_assert_true (g_bytes_equal (before, after));

    g_autoptr (NcfmSafetensors) file = ncfm_safetensors_load (path, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (ncfm_safetensors_get_path (file), ==, path);
    g_assert_false (ncfm_safetensors_check_finite (file, &error));
    assert_names (error, path, tensor, what[i]);
  }
  g_unlink (path);
  g_rmdir (dir);
}

/* Every float dtype is checked as float32 (an F64 beyond the float range is
 * an infinity there); integer tensors are not checked; "weights" stands in
 * for a file without a path. */
static void
test_dtypes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_new ();
  const gint64 four = 4;
  const gint32 ints[4] = { 1, 2, 3, G_MAXINT32 };
  const gdouble big[4] = { 0, 1, 1e39, 2 };
  const guint16 half_inf[4] = { 0x3c00, 0x3c00, 0x3c00, 0x7c00 };
  const guint16 bf_nan[4] = { 0x7fc0, 0, 0, 0 };
  ncfm_safetensors_set (st, "a.ints", NCFM_DTYPE_I32, &four, 1, ints, sizeof ints);
  g_assert_true (ncfm_safetensors_check_finite (st, &error));
  g_assert_no_error (error);

  ncfm_safetensors_set (st, "b.f64", NCFM_DTYPE_F64, &four, 1, big, sizeof big);
  g_assert_false (ncfm_safetensors_check_finite (st, &error));
  assert_names (error, "weights", "b.f64", "+inf at element 2 (non-finite elements: 1 of 4)");
  g_clear_error (&error);
  ncfm_safetensors_remove (st, "b.f64");

  ncfm_safetensors_set (st, "c.f16", NCFM_DTYPE_F16, &four, 1, half_inf, sizeof half_inf);
  g_assert_false (ncfm_safetensors_check_finite (st, &error));
  assert_names (error, "weights", "c.f16", "+inf at element 3");
  g_clear_error (&error);
  ncfm_safetensors_remove (st, "c.f16");

  ncfm_safetensors_set (st, "d.bf16", NCFM_DTYPE_BF16, &four, 1, bf_nan, sizeof bf_nan);
  g_assert_false (ncfm_safetensors_check_finite (st, &error));
  assert_names (error, "weights", "d.bf16", "a NaN at element 0");
}

/* A diverged parameter is named; a healthy model passes. */
static void
test_model_check (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmModel) m = make_model (dev, ARCH_CONVNET, 3);
  g_assert_true (ncfm_model_check_finite (m, &error));
  g_assert_no_error (error);
  const gchar *name = ncfm_model_get_parameter_name (m, 0);
  NcfmTensor *p = ncfm_model_get_parameter (m, name);
  ncfm_tensor_f32 (p)[5] = NAN;
  ncfm_tensor_f32 (p)[7] = INFINITY;
  g_assert_false (ncfm_model_check_finite (m, &error));
  assert_names (error, "model", name, "a NaN at element 5 (non-finite elements: 2 of ");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/finite/model-file/convnet", GINT_TO_POINTER (ARCH_CONVNET),
      test_model_files);
  g_test_add_data_func ("/finite/model-file/resnet", GINT_TO_POINTER (ARCH_RESNET),
      test_model_files);
  g_test_add_func ("/finite/dtypes", test_dtypes);
  g_test_add_func ("/finite/model-check", test_model_check);
  return g_test_run ();
}
