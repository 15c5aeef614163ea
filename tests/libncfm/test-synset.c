/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-synset.c: ncfm_synset_validate() on a valid set and on every way of
 * poisoning one (each error names the file and the tensor or key), the
 * dataset reader's refusal of a poisoned set, ncfm_tensor_check_finite() in place. */
#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

#include "libncfm-test.h"
#include "synset-test-util.h"

static gchar *tmp_root;

static void
assert_invalid (NcfmSafetensors *st, const gchar *file, gint code, const gchar *needle)
{
  g_autoptr (GError) error = NULL;
  g_assert_false (ncfm_synset_validate (st, file, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_error (error, NCFM_SYNSET_ERROR, code);
  g_assert_true (g_str_has_prefix (error->message, file));
  if (!strstr (error->message, needle))
    g_error ("message '%s' lacks '%s'", error->message, needle);
}

static void
test_valid (void)
{
  g_autoptr (NcfmSafetensors) st = synset_test_make (3, 2, 1, 4, 4);
  g_autoptr (GError) error = NULL;
  g_assert_true (ncfm_synset_validate (st, "mem", &error));
  g_assert_no_error (error);
  g_auto (GStrv) names = ncfm_synset_get_class_names (st, "mem", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 3);
  g_assert_cmpstr (names[2], ==, "class2");
  /* a pixel within the tolerance of [0, 1] is fine */
  g_autofree gchar *path = g_build_filename (tmp_root, "valid.safetensors", NULL);
  g_assert_true (ncfm_safetensors_save (st, path, NULL));
  g_assert_true (ncfm_synset_file_validate (path, &error));
  g_assert_no_error (error);
}

/* every poison: an error naming the file, the tensor or key and (for values)
 * the class of the bad image */
static void
test_poisons (void)
{
  const gint codes[SYNSET_N_POISONS] = {
    NCFM_SYNSET_ERROR_VALUE, NCFM_SYNSET_ERROR_VALUE, NCFM_SYNSET_ERROR_VALUE,
    NCFM_SYNSET_ERROR_VALUE, NCFM_SYNSET_ERROR_VALUE, NCFM_SYNSET_ERROR_FORMAT,
    NCFM_SYNSET_ERROR_VALUE,
  };
  for (guint p = 0; p < SYNSET_N_POISONS; p++) {
    g_autoptr (NcfmSafetensors) st = synset_test_make (3, 2, 1, 4, 4);
    synset_test_poison (st, p);
    assert_invalid (st, "poisoned.safetensors", codes[p], synset_poison_target (p));
  }
  /* the middle pixel is in image 3, class 1 */
  g_autoptr (NcfmSafetensors) st = synset_test_make (3, 2, 1, 4, 4);
  synset_test_poison (st, SYNSET_POISON_PIXEL_300);
  assert_invalid (st, "p.safetensors", NCFM_SYNSET_ERROR_VALUE, "class 1 \"class1\") is 300");
}

static void
test_structure (void)
{
  g_autoptr (NcfmSafetensors) st = synset_test_make (2, 1, 1, 4, 4);
  ncfm_safetensors_set_metadata (st, "ncfm.format", "weights");
  assert_invalid (st, "f", NCFM_SYNSET_ERROR_FORMAT, "ncfm.format");

  g_autoptr (NcfmSafetensors) st2 = synset_test_make (2, 1, 1, 4, 4);
  ncfm_safetensors_remove (st2, "adamw.v");
  assert_invalid (st2, "f", NCFM_SYNSET_ERROR_TENSOR, "adamw.v");

  g_autoptr (NcfmSafetensors) st3 = synset_test_make (2, 1, 1, 4, 4);
  ncfm_safetensors_set_metadata (st3, "ncfm.factor", "3");
  assert_invalid (st3, "f", NCFM_SYNSET_ERROR_TENSOR, "ncfm.factor");

  g_autoptr (NcfmSafetensors) st4 = synset_test_make (2, 1, 1, 4, 4);
  ncfm_safetensors_set_metadata (st4, "ncfm.class_names", "[\"a\"]");
  assert_invalid (st4, "f", NCFM_SYNSET_ERROR_LABELS, "labels");

  g_autoptr (NcfmSafetensors) st5 = synset_test_make (2, 1, 1, 4, 4);
  ncfm_safetensors_set_metadata (st5, "ncfm.step", "ten");
  assert_invalid (st5, "f", NCFM_SYNSET_ERROR_FORMAT, "ncfm.step");

  g_autoptr (NcfmSafetensors) st6 = synset_test_make (2, 1, 1, 4, 4);
  const gint64 shape[1] = { 2 };
  const gfloat x[2] = { 0, 0 };
  ncfm_safetensors_set (st6, "adamw.m", NCFM_DTYPE_F32, shape, 1, x, sizeof x);
  assert_invalid (st6, "f", NCFM_SYNSET_ERROR_TENSOR, "adamw.m");

  g_autoptr (NcfmSafetensors) st7 = synset_test_make (2, 1, 1, 4, 4);
  ncfm_safetensors_set_metadata (st7, "ncfm.std", "[0]");
  assert_invalid (st7, "f", NCFM_SYNSET_ERROR_VALUE, "ncfm.std[0] is 0");
  ncfm_safetensors_set_metadata (st7, "ncfm.std", "[1, 2]");
  assert_invalid (st7, "f", NCFM_SYNSET_ERROR_FORMAT, "ncfm.std has 2 values");
}

/* files that are not synthetic sets at all: clean errors naming the file */
static void
test_bad_files (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *missing = g_build_filename (tmp_root, "missing.safetensors", NULL);
  g_assert_false (ncfm_synset_file_validate (missing, &error));
  g_assert_error (error, NCFM_SAFETENSORS_ERROR, NCFM_SAFETENSORS_ERROR_IO);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  g_autofree gchar *text = g_build_filename (tmp_root, "text.safetensors", NULL);
  g_assert_true (g_file_set_contents (text, "hello, not a tensor file", -1, NULL));
  g_assert_false (ncfm_synset_file_validate (text, &error));
  g_assert_true (error && error->domain == NCFM_SAFETENSORS_ERROR);
  g_assert_nonnull (strstr (error->message, text));
  g_clear_error (&error);

  /* truncated: the data the header declares is cut */
  g_autoptr (NcfmSafetensors) st = synset_test_make (2, 1, 1, 4, 4);
  g_autoptr (GBytes) whole = ncfm_safetensors_serialize (st);
  g_autofree gchar *cut = g_build_filename (tmp_root, "cut.safetensors", NULL);
  g_assert_true (g_file_set_contents (cut, g_bytes_get_data (whole, NULL),
          g_bytes_get_size (whole) - 10, NULL));
  g_assert_false (ncfm_synset_file_validate (cut, &error));
  g_assert_true (error && error->domain == NCFM_SAFETENSORS_ERROR);
  g_assert_nonnull (strstr (error->message, cut));
}

/* the dataset reader (ncfmdatasetsrc, ncfmevaluate) refuses a poisoned set */
static void
test_dataset_reader (void)
{
  for (guint p = 0; p < SYNSET_N_POISONS; p++) {
    g_autoptr (NcfmSafetensors) st = synset_test_make (3, 2, 1, 4, 4);
    synset_test_poison (st, p);
    g_autofree gchar *path = g_build_filename (tmp_root, "reader.safetensors", NULL);
    g_assert_true (ncfm_safetensors_save (st, path, NULL));
    g_autoptr (GError) error = NULL;
    g_autoptr (NcfmDataset) ds = ncfm_dataset_load (path, NCFM_DATASET_FORMAT_AUTO, NULL, 0,
        NCFM_DATASET_FLAGS_NONE, NULL, &error);
    g_assert_null (ds);
    g_assert_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT);
    g_assert_nonnull (strstr (error->message, path));
    g_assert_nonnull (strstr (error->message, synset_poison_target (p)));
  }
}

static void
test_tensor_check_finite (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const gint64 shape[1] = { 5 };
  gfloat x[5] = { 0, 1, -2, 3e38f, 1e-40f };
  g_autoptr (NcfmTensor) t = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, shape, 1,
      (const guint8 *) x, sizeof x, NULL);
  g_assert_true (ncfm_tensor_check_finite (t, "test", "x", NULL));
  const gfloat bad[2] = { NAN, INFINITY };
  for (guint i = 0; i < 2; i++) {
    x[3] = bad[i];
    g_assert_true (ncfm_tensor_set_data (t, (const guint8 *) x, sizeof x, NULL));
    g_autoptr (GError) error = NULL;
    g_assert_false (ncfm_tensor_check_finite (t, "test", "x", &error));
    g_assert_error (error, NCFM_ERROR, NCFM_ERROR_NOT_FINITE);
    g_assert_nonnull (strstr (error->message, "test: tensor 'x' has"));
    g_assert_nonnull (strstr (error->message, "at element 3"));
  }
  /* other dtypes hold no non-finite values */
  const gint32 ints[5] = { 0 };
  g_autoptr (NcfmTensor) ti = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_I32, shape, 1,
      (const guint8 *) ints, sizeof ints, NULL);
  g_assert_true (ncfm_tensor_check_finite (ti, "test", "i", NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmp_root = g_dir_make_tmp ("ncfm-synset-XXXXXX", NULL);
  g_test_add_func ("/synset/valid", test_valid);
  g_test_add_func ("/synset/poisons", test_poisons);
  g_test_add_func ("/synset/structure", test_structure);
  g_test_add_func ("/synset/bad-files", test_bad_files);
  g_test_add_func ("/synset/dataset-reader", test_dataset_reader);
  g_test_add_func ("/synset/tensor-check-finite", test_tensor_check_finite);
  const int rc = g_test_run ();
  synset_test_rm_tree (tmp_root);
  g_free (tmp_root);
  return rc;
}
