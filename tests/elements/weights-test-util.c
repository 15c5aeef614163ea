/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* weights-test-util.c: see weights-test-util.h. */
#include "weights-test-util.h"

#include <math.h>
#include <gst/check/gstcheck.h>
#include <ncfm.h>

void
poison_weights_file (const gchar *path, const gchar *tensor, gsize at)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (path, &error);
  fail_unless (st != NULL, "%s", error ? error->message : "");
  guint nd = 0;
  g_autofree gint64 *shape = ncfm_safetensors_get_shape (st, tensor, &nd, &error);
  gsize n = 0;
  g_autofree gfloat *v = ncfm_safetensors_dup_f32 (st, tensor, &n, &error);
  fail_unless (shape != NULL && v != NULL && at < n, "%s: no tensor %s of more than %"
      G_GSIZE_FORMAT " elements", path, tensor, at);
  v[at] = NAN;
  ncfm_safetensors_set (st, tensor, NCFM_DTYPE_F32, shape, nd, v, n * sizeof (gfloat));
  fail_unless (ncfm_safetensors_save (st, path, &error), "%s", error ? error->message : "");
}

gchar *
file_sha256 (const gchar *path)
{
  g_autofree gchar *data = NULL;
  gsize len = 0;
  fail_unless (g_file_get_contents (path, &data, &len, NULL), "cannot read %s", path);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
}
