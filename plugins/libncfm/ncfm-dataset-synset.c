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
#include "ncfm-backend.h"

#include <math.h>
#include <string.h>
#include <json-glib/json-glib.h>

#define MAX_FACTOR 16

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

static gchar **
read_class_names (NcfmSafetensors *st, const gchar *file, gboolean *bad, GError **error)
{
  g_autoptr (JsonArray) a = metadata_array (st, file, "ncfm.class_names", bad, error);
  gchar **names;
  guint n;

  if (!a)
    return NULL;
  n = json_array_get_length (a);
  names = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++) {
    JsonNode *v = json_array_get_element (a, i);
    if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING) {
      *bad = TRUE;
      format_error (error, file, "ncfm.class_names[%u] is not a string", i);
      g_strfreev (names);
      return NULL;
    }
    names[i] = g_strdup (json_node_get_string (v));
  }
  return names;
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

gboolean
ncfm_dataset_read_synset (const gchar *file, NcfmDatasetParts *out, GError **error)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_load (file, &err);
  g_autofree gfloat *pixels = NULL;
  g_auto (GStrv) names = NULL;
  gint64 ishape[NCFM_MAX_DIMS], lshape[NCFM_MAX_DIMS];
  NcfmDType idt, ldt;
  guint ind, lnd, n, c, h, w;
  guint64 factor = 1;
  const gchar *v;
  const guint8 *lp;
  gsize lbytes, count;
  gboolean bad, have_mean = TRUE, have_std = TRUE;

  if (!st) {
    g_set_error (error, NCFM_DATASET_ERROR,
        err->code == NCFM_SAFETENSORS_ERROR_IO ? NCFM_DATASET_ERROR_NOT_FOUND
        : NCFM_DATASET_ERROR_FORMAT, "%s", err->message);
    return FALSE;
  }
  v = ncfm_safetensors_get_metadata (st, "ncfm.format");
  if (g_strcmp0 (v, "synset") != 0)
    return format_error (error, file, "metadata ncfm.format is %s%s%s, expected \"synset\"",
        v ? "\"" : "", v ? v : "missing", v ? "\"" : "");
  v = ncfm_safetensors_get_metadata (st, "ncfm.format_version");
  if (g_strcmp0 (v, "1") != 0)
    return format_error (error, file, "unsupported ncfm.format_version %s", v ? v : "(missing)");
  if ((v = ncfm_safetensors_get_metadata (st, "ncfm.factor"))
      && (!g_ascii_string_to_unsigned (v, 10, 1, MAX_FACTOR, &factor, NULL)))
    return format_error (error, file, "ncfm.factor \"%s\" is not an integer in [1, %d]", v,
        MAX_FACTOR);

  if (!ncfm_safetensors_get_info (st, "images", &idt, &ind, ishape, &err)
      || !ncfm_safetensors_get_info (st, "labels", &ldt, &lnd, lshape, &err))
    return format_error (error, file, "%s", err->message);
  if (idt != NCFM_DTYPE_F32 || ind != 4 || ishape[0] < 1 || ishape[1] < 1
      || ishape[1] > NCFM_DATASET_MAX_CHANNELS || ishape[2] < 1 || ishape[3] < 1
      || ishape[2] > 65536 || ishape[3] > 65536 || ishape[0] > G_MAXINT32 / MAX_FACTOR
      / MAX_FACTOR)
    return format_error (error, file, "images must be F32 [N, C<=%d, H, W], not %s of rank %u",
        NCFM_DATASET_MAX_CHANNELS, ncfm_dtype_to_string (idt), ind);
  n = ishape[0];
  c = ishape[1];
  h = ishape[2];
  w = ishape[3];
  if ((ldt != NCFM_DTYPE_I64 && ldt != NCFM_DTYPE_I32) || lnd != 1 || lshape[0] != n) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_LABELS,
        "%s: labels must be I64 or I32 [%u], not %s of rank %u", file, n,
        ncfm_dtype_to_string (ldt), lnd);
    return FALSE;
  }
  if (h % factor != 0 || w % factor != 0)
    return format_error (error, file, "images of %ux%u cannot be cut into %" G_GUINT64_FORMAT
        "x%" G_GUINT64_FORMAT " tiles", h, w, factor, factor);

  names = read_class_names (st, file, &bad, error);
  if (bad || !read_stats (st, file, "ncfm.mean", c, out->mean, &have_mean, error)
      || !read_stats (st, file, "ncfm.std", c, out->std, &have_std, error))
    return FALSE;

  pixels = ncfm_safetensors_dup_f32 (st, "images", &count, error);
  for (gsize i = 0; i < count; i++)
    if (!isfinite (pixels[i]))
      return format_error (error, file, "images: element %" G_GSIZE_FORMAT " is not finite", i);
  lp = ncfm_safetensors_peek (st, "labels", NULL, &lbytes, NULL);
  const guint f2 = (guint) (factor * factor);
  gint32 *labels = g_new (gint32, (gsize) n * f2);
  for (guint i = 0; i < n; i++) {
    gint64 y;
    if (ldt == NCFM_DTYPE_I64) {
      memcpy (&y, lp + 8 * (gsize) i, 8);
      y = GINT64_FROM_LE (y);
    } else {
      gint32 y32;
      memcpy (&y32, lp + 4 * (gsize) i, 4);
      y = GINT32_FROM_LE (y32);
    }
    if (y < 0 || y >= G_MAXINT32 || (names && y >= g_strv_length (names))) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_LABELS,
          "%s: label %" G_GINT64_FORMAT " of image %u is out of range", file, y, i);
      g_free (labels);
      return FALSE;
    }
    for (guint t = 0; t < f2; t++)
      labels[(gsize) i * f2 + t] = (gint32) y;
  }

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
