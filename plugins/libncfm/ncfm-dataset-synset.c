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
#include <json-glib/json-glib.h>

static gboolean
format_error (GError **error, const gchar *file, const gchar *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
format_error (GError **error, const gchar *file, const gchar *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree gchar *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT, "%s: %s", file, msg);
  return FALSE;
}

/* A JSON array from metadata @key, or NULL (no such key). */
static JsonArray *
metadata_array (NcfmSafetensors *st, const gchar *file, const gchar *key, gboolean *bad,
    GError **error)
{
  const gchar *text = ncfm_safetensors_get_metadata (st, key);
  g_autoptr (JsonParser) parser = NULL;
  JsonNode *root;

  *bad = FALSE;
  if (!text)
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, text, -1, NULL)
      || !(root = json_parser_get_root (parser)) || !JSON_NODE_HOLDS_ARRAY (root)) {
    *bad = TRUE;
    format_error (error, file, "metadata %s is not a JSON array", key);
    return NULL;
  }
  return json_array_ref (json_node_get_array (root));
}

static gboolean
read_stats (NcfmSafetensors *st, const gchar *file, const gchar *key, guint c, gfloat *out,
    gboolean *have, GError **error)
{
  gboolean bad;
  g_autoptr (JsonArray) a = metadata_array (st, file, key, &bad, error);
  if (bad)
    return FALSE;
  if (!a) {
    *have = FALSE;
    return TRUE;
  }
  if (json_array_get_length (a) != c)
    return format_error (error, file, "metadata %s has %u values for %u channels", key,
        json_array_get_length (a), c);
  for (guint i = 0; i < c; i++) {
    JsonNode *v = json_array_get_element (a, i);
    GType t = JSON_NODE_HOLDS_VALUE (v) ? json_node_get_value_type (v) : G_TYPE_INVALID;
    if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64)
      return format_error (error, file, "metadata %s[%u] is not a number", key, i);
    out[i] = (gfloat) json_node_get_double (v);
  }
  return TRUE;
}

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
  /* the format, the shapes, finite pixels in [0, 1], labels naming classes */
  if (!ncfm_synset_validate (st, file, &err))
    return invalid_set (error, err);
  if ((v = ncfm_safetensors_get_metadata (st, "ncfm.factor")))
    g_ascii_string_to_unsigned (v, 10, 1, NCFM_SYNSET_MAX_FACTOR, &factor, NULL);
  ncfm_safetensors_get_info (st, "images", NULL, NULL, ishape, NULL);
  const guint n = ishape[0], c = ishape[1], h = ishape[2], w = ishape[3];
  g_auto (GStrv) names = ncfm_synset_get_class_names (st, file, NULL);
  if (!read_stats (st, file, "ncfm.mean", c, out->mean, &have_mean, error)
      || !read_stats (st, file, "ncfm.std", c, out->std, &have_std, error))
    return FALSE;

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
