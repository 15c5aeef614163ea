/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-dataset-synset.c: a synthetic set written by gst-ncfm's distiller.
 *
 * `images` F32 [N, C, H, W] in [0,1], `labels` I64 or I32 [N]; metadata
 * ncfm.format = "synset", ncfm.format_version = "1", ncfm.class_names,
 * ncfm.mean, ncfm.std (JSON arrays), ncfm.factor, ncfm.dataset.  With a
 * multi-formation factor rho > 1 every stored image becomes rho^2 training
 * images: its rho x rho tiles, each upsampled back to H x W (bilinear,
 * align_corners=False), by the CPU backend's tiles_split and
 * resize_bilinear_forward; the label repeats for each tile, and the tiles of
 * one stored image are consecutive. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-dataset-private.h"
#include "ncfm-safetensors.h"
#include "ncfm-synset.h"
#include "ncfm-backend.h"

#include <math.h>
#include <string.h>

/* Decodes multi-formation: [n, c, h, w] -> [n * f * f, c, h, w]. */
static gfloat *
decode_factor (const gfloat *x, guint n, guint c, guint h, guint w, guint f)
{
  NcfmBackend *be = ncfm_backend_new ("cpu", NULL, 0, NULL, 0);
  const gsize count = (gsize) n * c * h * w;
  gfloat *tiles = g_new (gfloat, count);
  gfloat *y = g_new (gfloat, count * f * f);

  be->ops->tiles_split (be, (int) n, (int) c, (int) h, (int) w, (int) f, x, tiles);
  be->ops->resize_bilinear_forward (be, (int) (n * f * f), (int) c, (int) (h / f),
      (int) (w / f), (int) h, (int) w, tiles, y);
  ncfm_backend_free (be);
  g_free (tiles);
  return y;
}

/* A synthetic-set check's error as the dataset readers' domain. */
static gboolean
invalid_set (GError **error, GError *err)
{
  const gint code = err->domain == NCFM_SYNSET_ERROR && err->code == NCFM_SYNSET_ERROR_LABELS
      ? NCFM_DATASET_ERROR_LABELS : NCFM_DATASET_ERROR_FORMAT;
  g_set_error_literal (error, NCFM_DATASET_ERROR, code, err->message);
  return FALSE;
}

gboolean
ncfm_dataset_read_synset (const gchar *file, NcfmDatasetParts *out, GError **error)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (file, &err);
  gint64 ishape[NCFM_MAX_DIMS];
  guint64 factor = 1;
  const gchar *v;
  gsize count;
  gboolean have_mean = TRUE, have_std = TRUE;

  if (!st) {
    g_set_error (error, NCFM_DATASET_ERROR,
        err->code == NCFM_SAFETENSORS_ERROR_IO ? NCFM_DATASET_ERROR_NOT_FOUND
        : NCFM_DATASET_ERROR_FORMAT, "%s", err->message);
    return FALSE;
  }
  /* the format, the shapes, finite pixels in [0, 1], labels naming classes,
   * mean and std */
  if (!ncfm_synset_validate (st, file, &err))
    return invalid_set (error, err);
  if ((v = ncfm_safetensors_get_metadata (st, "ncfm.factor")))
    g_ascii_string_to_unsigned (v, 10, 1, NCFM_SYNSET_MAX_FACTOR, &factor, NULL);
  ncfm_safetensors_get_info (st, "images", NULL, NULL, ishape, NULL);
  const guint n = ishape[0], c = ishape[1], h = ishape[2], w = ishape[3];
  g_auto (GStrv) names = ncfm_synset_get_class_names (st, file, NULL);
  ncfm_synset_read_stats (st, file, "ncfm.mean", c, out->mean, &have_mean, NULL);
  ncfm_synset_read_stats (st, file, "ncfm.std", c, out->std, &have_std, NULL);

  g_autofree gfloat *pixels = ncfm_safetensors_dup_f32 (st, "images", &count, NULL);
  g_autofree gint64 *y = ncfm_synset_read_labels (st, file, n, 0, NULL);
  const guint f2 = (guint) (factor * factor);
  gint32 *labels = g_new (gint32, (gsize) n * f2);
  for (guint i = 0; i < n; i++)
    for (guint t = 0; t < f2; t++)
      labels[(gsize) i * f2 + t] = (gint32) y[i];

  v = ncfm_safetensors_get_metadata (st, "ncfm.dataset");
  out->name = v && *v ? g_strdup (v) : g_path_get_basename (file);
  out->dtype = NCFM_DTYPE_F32;
  out->n = n * f2;
  out->c = c;
  out->h = h;
  out->w = w;
  if (factor > 1) {
    gfloat *dec = decode_factor (pixels, n, c, h, w, (guint) factor);
    out->images = g_bytes_new_take (dec, count * f2 * sizeof (gfloat));
  } else {
    out->images = g_bytes_new_take (g_steal_pointer (&pixels), count * sizeof (gfloat));
  }
  out->labels = g_bytes_new_take (labels, (gsize) n * f2 * sizeof (gint32));
  out->class_names = g_steal_pointer (&names);
  /* the metadata wins; else the table entry of the source dataset; else computed */
  out->have_stats = have_mean && have_std;
  out->known = out->have_stats ? NCFM_DATASET_STATS_NONE
      : ncfm_dataset_stats_from_name (out->name);
  return TRUE;
}
