/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* blobs.c: the separable test dataset (see blobs.h). */
#include "blobs.h"

#include <errno.h>
#include <glib/gstdio.h>

static void
put_be32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

void
blobs_image (guint c, GRand *rand, guint8 *out)
{
  const guint x0 = (c % 4) * 4, y0 = (c / 4) * 4;
  for (guint p = 0; p < BLOBS_SIZE * BLOBS_SIZE; p++)
    out[p] = (guint8) g_rand_int_range (rand, 0, 96);
  for (guint y = y0; y < y0 + 4; y++)
    for (guint x = x0; x < x0 + 4; x++)
      out[y * BLOBS_SIZE + x] = (guint8) g_rand_int_range (rand, 160, 256);
}

static gboolean
write_split (const gchar *dir, const gchar *prefix, guint k, guint n, GRand *rand,
    GError **error)
{
  const gsize px = BLOBS_SIZE * BLOBS_SIZE;
  g_autofree guint8 *images = g_malloc (16 + n * px);
  g_autofree guint8 *labels = g_malloc (8 + n);
  put_be32 (images, 0x803);
  put_be32 (images + 4, n);
  put_be32 (images + 8, BLOBS_SIZE);
  put_be32 (images + 12, BLOBS_SIZE);
  put_be32 (labels, 0x801);
  put_be32 (labels + 4, n);
  for (guint i = 0; i < n; i++) {
    blobs_image (i % k, rand, images + 16 + i * px);
    labels[8 + i] = (guint8) (i % k);
  }
  g_autofree gchar *a = g_strdup_printf ("%s/%s-images-idx3-ubyte", dir, prefix);
  g_autofree gchar *b = g_strdup_printf ("%s/%s-labels-idx1-ubyte", dir, prefix);
  return g_file_set_contents (a, (gchar *) images, 16 + n * px, error)
      && g_file_set_contents (b, (gchar *) labels, 8 + n, error);
}

/* Writes @dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte; a split of 0
 * images is not written (a dataset without that split). */
gboolean
blobs_write (const gchar *dir, guint num_classes, guint n_train, guint n_test, guint64 seed,
    GError **error)
{
  g_return_val_if_fail (num_classes >= 1 && num_classes <= BLOBS_MAX_CLASSES, FALSE);
  if (g_mkdir_with_parents (dir, 0755) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot create %s", dir);
    return FALSE;
  }
  g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32) seed);
  return (!n_train || write_split (dir, "train", num_classes, n_train, rand, error))
      && (!n_test || write_split (dir, "t10k", num_classes, n_test, rand, error));
}
