/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "libncfm-test.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

NcfmDevice *
ncfm_test_cpu_device (void)
{
  g_autoptr (GError) error = NULL;
  NcfmDevice *dev = ncfm_device_new ("cpu", &error);
  g_assert_no_error (error);
  return dev;
}

float *
ncfm_test_tensor_host (NcfmTensor *t)
{
  float *h = g_new (float, MAX (ncfm_tensor_get_numel (t), 1));
  ncfm_tensor_download (t, h, ncfm_tensor_get_n_bytes (t));
  return h;
}

NcfmTensor *
ncfm_test_random_tensor (NcfmDevice *dev, GRand *rand, gint64 rows, gint64 cols, float stddev)
{
  gint64 shape[2] = { rows, cols };
  NcfmTensor *x = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 2, NULL);
  ncfm_test_fill_normal (rand, ncfm_tensor_f32 (x), rows * cols, stddev);
  return x;
}

NcfmTensor *
ncfm_test_labels_tensor (NcfmDevice *dev, gint64 n, guint k)
{
  gint64 shape[1] = { n };
  NcfmTensor *l = ncfm_tensor_new (dev, NCFM_DTYPE_I32, shape, 1, NULL);
  gint32 *h = ncfm_tensor_get_data (l);
  for (gint64 i = 0; i < n; i++)
    h[i] = (gint32) (i % k);
  return l;
}

NcfmSafetensors *
ncfm_test_load_fixture (const gchar *file)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *path = g_test_build_filename (G_TEST_DIST, "..", "fixtures", file, NULL);
  NcfmSafetensors *ref = ncfm_safetensors_load (path, &error);
  g_assert_no_error (error);
  return ref;
}

void
ncfm_test_assert_matches (const gchar *what, const float *got, gsize n, NcfmSafetensors *ref,
    const gchar *name, double scale)
{
  g_autoptr (GError) error = NULL;
  gsize nref;
  g_autofree gfloat *want = ncfm_safetensors_dup_f32 (ref, name, &nref, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (nref, ==, n);
  double max_ref = 0, max_diff = 0;
  for (gsize i = 0; i < n; i++) {
    max_ref = fmax (max_ref, fabs (want[i]));
    max_diff = fmax (max_diff, fabs ((double) got[i] - want[i]));
  }
  double denom = fmax (fmax (max_ref, scale), 1e-30);
  double rel = max_diff / denom;
  g_test_message ("%s (%s): max |diff| %.3g, max |ref| %.3g, rel %.3g", what, name, max_diff,
      max_ref, rel);
  if (!(rel <= NCFM_TEST_TORCH_RTOL))
    g_error ("%s (%s) differs from PyTorch: rel err %.3g > %.0e (max |diff| %.3g, max |ref| %.3g, "
        "scale %.3g)", what, name, rel, NCFM_TEST_TORCH_RTOL, max_diff, max_ref, scale);
}

void
ncfm_test_assert_tensor_matches (const gchar *what, NcfmTensor *t, NcfmSafetensors *ref,
    const gchar *name, double scale)
{
  g_assert_nonnull (t);
  g_autofree float *h = ncfm_test_tensor_host (t);
  ncfm_test_assert_matches (what, h, (gsize) ncfm_tensor_get_numel (t), ref, name, scale);
}

void
ncfm_test_remove_tree (const gchar *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
    const gchar *e;
    while (d && (e = g_dir_read_name (d))) {
      g_autofree gchar *p = g_build_filename (path, e, NULL);
      ncfm_test_remove_tree (p);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

void
ncfm_test_put_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

void
ncfm_test_assert_error (GError **error, GQuark domain, gint code, const gchar *needle)
{
  g_assert_error (*error, domain, code);
  g_test_message ("expected error: %s", (*error)->message);
  if (!strstr ((*error)->message, needle))
    g_error ("error '%s' does not mention '%s'", (*error)->message, needle);
  g_clear_error (error);
}
