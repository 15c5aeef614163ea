/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-limits.c: sizes that cannot be served are errors naming what and the
 * bytes, never g_malloc's abort: the checked host allocation, tensors of
 * absurd shapes, a loader whose batch size exceeds its dataset, and an
 * ImageFolder whose first image is a forged 16384x8192 PNG header. */
#include <string.h>
#include <glib/gstdio.h>
#include <png.h>
#include <zlib.h>

#include "libncfm-test.h"

static gchar *tmp_root;

static void
assert_message_names (const GError *error, const gchar *what)
{
  g_assert_nonnull (error);
  g_test_message ("error: %s", error->message);
  if (!strstr (error->message, what))
    g_error ("message '%s' does not name '%s'", error->message, what);
}

static void
test_host_alloc (void)
{
  g_autoptr (GError) error = NULL;
  /* the product overflows gsize */
  g_assert_null (ncfm_host_try_alloc (G_MAXSIZE / 2, 3, "test: wrapped", &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  assert_message_names (error, "test: wrapped");
  assert_message_names (error, "overflows");
  g_clear_error (&error);
  /* 2^60 bytes: more than any machine's memory, refused before trying */
  g_assert_null (ncfm_host_try_alloc ((gsize) 1 << 40, 1 << 20, "test: huge", &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE);
  assert_message_names (error, "test: huge: needs 1152921504606846976 bytes");
  g_clear_error (&error);
  g_autofree guint8 *small = ncfm_host_try_alloc (4, 8, "test: small", &error);
  g_assert_no_error (error);
  memset (small, 1, 32);
}

static void
test_tensor_alloc (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  /* 2^58 F32 elements pass the shape check and must fail as memory */
  const gint64 huge[2] = { G_GINT64_CONSTANT (1) << 30, G_GINT64_CONSTANT (1) << 28 };
  g_assert_null (ncfm_tensor_new (dev, NCFM_DTYPE_F32, huge, 2, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE);
  assert_message_names (error, "F32 [1073741824, 268435456]");
  assert_message_names (error, "1152921504606846976 bytes");
  g_clear_error (&error);
  /* the element count itself overflows */
  const gint64 wraps[3] = { G_MAXINT32, G_MAXINT32, G_MAXINT32 };
  g_assert_null (ncfm_tensor_new (dev, NCFM_DTYPE_U8, wraps, 3, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  g_clear_error (&error);
}

/* A batch size beyond the dataset (inside the property's range) gives
 * batches of the whole pool, with buffers sized for them, not for B. */
static void
test_loader_large_batch (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const guint n = 6, c = 1, h = 28, w = 28;
  g_autoptr (GBytes) images = g_bytes_new_take (g_malloc0 (n * c * h * w), n * c * h * w);
  const gint32 labels[6] = { 0, 1, 0, 1, 0, 1 };
  g_autoptr (GBytes) lbytes = g_bytes_new (labels, sizeof labels);
  const gchar *names[] = { "a", "b", NULL };
  const gfloat mean[1] = { 0.5f }, std[1] = { 0.25f };
  g_autoptr (NcfmDataset) ds = ncfm_dataset_new_from_data ("six", NCFM_DTYPE_U8, n, c, h, w,
      images, lbytes, names, mean, std, &error);
  g_assert_no_error (error);
  for (guint mode = 0; mode < 2; mode++) {
    g_autoptr (NcfmLoader) loader = ncfm_loader_new (ds, dev, 10000000, mode, 0, 1, TRUE, NULL, 0,
        &error);
    g_assert_no_error (error);
    g_autoptr (NcfmTensor) x = NULL;
    g_assert_true (ncfm_loader_next (loader, &x, NULL, &error));
    g_assert_cmpint (ncfm_tensor_get_dim (x, 0), ==, mode == NCFM_LOADER_MODE_MIXED ? 6 : 3);
  }
  /* the staging buffer held 6 images, not 10^7 (7.8 GB) */
  g_assert_cmpuint (ncfm_device_get_peak_bytes (dev), <, 1 << 20);
}

/* ---- a forged PNG header in an ImageFolder ------------------------------ */

/* A PNG signature and an IHDR chunk claiming 16384x8192 RGB, nothing else
 * (33 bytes): a header that passes every size check but has no pixels. */
static void
write_forged_png (const gchar *path)
{
  guint8 f[33] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  ncfm_test_put_be32 (f + 8, 13);
  memcpy (f + 12, "IHDR", 4);
  ncfm_test_put_be32 (f + 16, 16384);
  ncfm_test_put_be32 (f + 20, 8192);
  f[24] = 8;    /* bit depth */
  f[25] = 2;    /* RGB */
  ncfm_test_put_be32 (f + 29, (guint32) crc32 (crc32 (0, NULL, 0), f + 12, 17));
  g_assert_true (g_file_set_contents (path, (const gchar *) f, sizeof f, NULL));
}

static void
write_grey_png (const gchar *path, guint side, guint8 value)
{
  png_image img = { .version = PNG_IMAGE_VERSION, .width = side, .height = side,
    .format = PNG_FORMAT_GRAY };
  g_autofree guint8 *px = g_malloc (side * side);
  memset (px, value, side * side);
  g_assert_true (png_image_write_to_file (&img, path, 0, px, 0, NULL));
}

/* libncfm's warnings about skipped files are counted, not fatal. */
static guint skip_warnings;

static GLogWriterOutput
count_skip_warnings (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
    gpointer data)
{
  for (gsize i = 0; i < n_fields; i++)
    if ((level & G_LOG_LEVEL_WARNING) && strcmp (fields[i].key, "MESSAGE") == 0
        && strstr (fields[i].value, "0-forged.png: skipped")) {
      g_atomic_int_inc (&skip_warnings);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, data);
}

static void
test_imagefolder_forged_header (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *root = g_build_filename (tmp_root, "forged", NULL);
  g_autofree gchar *a = g_build_filename (root, "train", "a", NULL);
  g_autofree gchar *b = g_build_filename (root, "train", "b", NULL);
  g_autofree gchar *forged = g_build_filename (a, "0-forged.png", NULL);
  g_autofree gchar *ok_a = g_build_filename (a, "1.png", NULL);
  g_autofree gchar *ok_b = g_build_filename (b, "1.png", NULL);

  g_assert_cmpint (g_mkdir_with_parents (a, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (b, 0755), ==, 0);
  write_forged_png (forged);
  write_grey_png (ok_a, 4, 10);
  write_grey_png (ok_b, 4, 200);

  /* by default: the forged file is skipped, the two real images make 4x4 */
  for (guint image_size = 0; image_size <= 32; image_size += 32) {
    skip_warnings = 0;
    g_autoptr (NcfmDataset) ds = ncfm_dataset_load (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL,
        image_size, NCFM_DATASET_FLAGS_NO_CACHE, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (ncfm_dataset_get_n_images (ds), ==, 2);
    g_assert_cmpuint (ncfm_dataset_get_n_skipped (ds), ==, 1);
    g_assert_cmpuint (ncfm_dataset_get_width (ds), ==, image_size ? image_size : 4);
    g_assert_cmpuint (skip_warnings, ==, 1);
  }
  /* strict: the forged file is the error */
  g_assert_null (ncfm_dataset_load (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0,
          NCFM_DATASET_FLAGS_STRICT | NCFM_DATASET_FLAGS_NO_CACHE, NULL, &error));
  assert_message_names (error, forged);
  g_clear_error (&error);
  /* no usable image in a class: an error naming its folder */
  g_assert_cmpint (g_unlink (ok_a), ==, 0);
  g_assert_null (ncfm_dataset_load (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0,
          NCFM_DATASET_FLAGS_NO_CACHE, NULL, &error));
  g_assert_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_EMPTY);
  assert_message_names (error, a);
  g_clear_error (&error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (count_skip_warnings, NULL, NULL);
  tmp_root = g_dir_make_tmp ("ncfm-limits-XXXXXX", NULL);
  g_assert_nonnull (tmp_root);
  g_test_add_func ("/limits/host-alloc", test_host_alloc);
  g_test_add_func ("/limits/tensor-alloc", test_tensor_alloc);
  g_test_add_func ("/limits/loader-large-batch", test_loader_large_batch);
  g_test_add_func ("/limits/imagefolder-forged-header", test_imagefolder_forged_header);
  int ret = g_test_run ();
  ncfm_test_remove_tree (tmp_root);
  g_free (tmp_root);
  return ret;
}
