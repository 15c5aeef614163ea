/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-synset.c: the checks of a synthetic-set file (the format of
 * ncfm-dataset-synset.c, written by ncfmdistill), shared by the dataset
 * reader, the distiller's resume and save, and the ncfm-synset tool, so that
 * a poisoned set (NaN or out-of-range pixels, broken optimiser state) is
 * refused wherever it is read. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-synset.h"
#include "ncfm-dataset-private.h"

#include <math.h>
#include <string.h>
#include <json-glib/json-glib.h>

G_DEFINE_QUARK (ncfm-synset-error-quark, ncfm_synset_error)

static gboolean
fail (GError **error, NcfmSynsetError code, const gchar *file, const gchar *fmt, ...)
    G_GNUC_PRINTF (4, 5);

static gboolean
fail (GError **error, NcfmSynsetError code, const gchar *file, const gchar *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree gchar *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, NCFM_SYNSET_ERROR, code, "%s: %s", file, msg);
  return FALSE;
}

/* The JSON array of metadata @key, or NULL: without @error set when the key
 * is absent. */
static JsonArray *
metadata_array (NcfmSafetensors *set, const gchar *file, const gchar *key, GError **error)
{
  const gchar *text = ncfm_safetensors_get_metadata (set, key);
  if (!text)
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  if (!json_parser_load_from_data (parser, text, -1, NULL)
      || !(root = json_parser_get_root (parser)) || !JSON_NODE_HOLDS_ARRAY (root)) {
    fail (error, NCFM_SYNSET_ERROR_FORMAT, file, "metadata %s is not a JSON array", key);
    return NULL;
  }
  return json_array_ref (json_node_get_array (root));
}

gboolean
ncfm_synset_read_stats (NcfmSafetensors *set, const gchar *file, const gchar *key, guint c,
    gfloat *out, gboolean *have, GError **error)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (JsonArray) a = metadata_array (set, file, key, &err);
  *have = a != NULL;
  if (err) {
    g_propagate_error (error, g_steal_pointer (&err));
    return FALSE;
  }
  if (!a)
    return TRUE;
  if (json_array_get_length (a) != c)
    return fail (error, NCFM_SYNSET_ERROR_FORMAT, file, "metadata %s has %u values for %u "
        "channels", key, json_array_get_length (a), c);
  for (guint i = 0; i < c; i++) {
    JsonNode *v = json_array_get_element (a, i);
    GType t = JSON_NODE_HOLDS_VALUE (v) ? json_node_get_value_type (v) : G_TYPE_INVALID;
    if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64)
      return fail (error, NCFM_SYNSET_ERROR_FORMAT, file, "metadata %s[%u] is not a number",
          key, i);
    out[i] = (gfloat) json_node_get_double (v);
  }
  return TRUE;
}

/**
 * ncfm_synset_get_class_names:
 * @set: a loaded synthetic set
 * @name: the file name for messages
 * @error: return location for a #GError (%NCFM_SYNSET_ERROR_FORMAT)
 *
 * The class names of metadata ncfm.class_names (a JSON array of strings).
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the names,
 *   or %NULL: without @error set when the key is absent, with it set when
 *   the key does not parse
 */
gchar **
ncfm_synset_get_class_names (NcfmSafetensors *set, const gchar *name, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (set), NULL);
  g_autoptr (JsonArray) a = metadata_array (set, name, "ncfm.class_names", error);
  if (!a)
    return NULL;
  const guint n = json_array_get_length (a);
  g_auto (GStrv) names = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++) {
    JsonNode *v = json_array_get_element (a, i);
    if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING) {
      fail (error, NCFM_SYNSET_ERROR_FORMAT, name, "ncfm.class_names[%u] is not a string", i);
      return NULL;
    }
    names[i] = g_strdup (json_node_get_string (v));
  }
  return g_steal_pointer (&names);
}

/* ncfm.mean and ncfm.std, when present: C finite numbers, std > 0. */
static gboolean
check_stats (NcfmSafetensors *set, const gchar *file, guint c, GError **error)
{
  const gchar *keys[2] = { "ncfm.mean", "ncfm.std" };
  for (guint k = 0; k < 2; k++) {
    gfloat v[NCFM_DATASET_MAX_CHANNELS];
    gboolean have;
    if (!ncfm_synset_read_stats (set, file, keys[k], c, v, &have, error))
      return FALSE;
    for (guint i = 0; have && i < c; i++)
      if (!isfinite (v[i]) || (k == 1 && !(v[i] > 0.0f)))
        return fail (error, NCFM_SYNSET_ERROR_VALUE, file, "metadata %s[%u] is %g (%s)",
            keys[k], i, v[i], k ? "not a positive number" : "not finite");
  }
  return TRUE;
}

/* An optional unsigned metadata value in [lo, hi]. */
static gboolean
meta_uint (NcfmSafetensors *set, const gchar *file, const gchar *key, guint64 lo, guint64 hi,
    GError **error)
{
  const gchar *v = ncfm_safetensors_get_metadata (set, key);
  if (v && !g_ascii_string_to_unsigned (v, 10, lo, hi, NULL, NULL))
    return fail (error, NCFM_SYNSET_ERROR_FORMAT, file, "metadata %s \"%s\" is not an integer "
        "in [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "]", key, v, lo, hi);
  return TRUE;
}

static gboolean
check_metadata (NcfmSafetensors *set, const gchar *file, GError **error)
{
  const gchar *v = ncfm_safetensors_get_metadata (set, "ncfm.format");
  if (g_strcmp0 (v, "synset") != 0)
    return fail (error, NCFM_SYNSET_ERROR_FORMAT, file, "metadata ncfm.format is %s%s%s, "
        "expected \"synset\"", v ? "\"" : "", v ? v : "missing", v ? "\"" : "");
  v = ncfm_safetensors_get_metadata (set, "ncfm.format_version");
  if (g_strcmp0 (v, "1") != 0)
    return fail (error, NCFM_SYNSET_ERROR_FORMAT, file, "unsupported metadata "
        "ncfm.format_version %s", v ? v : "(missing)");
  return meta_uint (set, file, "ncfm.factor", 1, NCFM_SYNSET_MAX_FACTOR, error)
      && meta_uint (set, file, "ncfm.ipc", 1, G_MAXUINT32, error)
      && meta_uint (set, file, "ncfm.step", 0, NCFM_SYNSET_MAX_STEP, error);
}

gint64 *
ncfm_synset_read_labels (NcfmSafetensors *set, const gchar *file, gint64 n, guint n_classes,
    GError **error)
{
  gint64 shape[NCFM_MAX_DIMS];
  NcfmDType dt;
  guint nd;
  if (!ncfm_safetensors_get_info (set, "labels", &dt, &nd, shape, NULL)) {
    fail (error, NCFM_SYNSET_ERROR_TENSOR, file, "no tensor labels");
    return NULL;
  }
  if ((dt != NCFM_DTYPE_I64 && dt != NCFM_DTYPE_I32) || nd != 1 || shape[0] != n) {
    fail (error, NCFM_SYNSET_ERROR_LABELS, file, "tensor labels must be I64 or I32 [%"
        G_GINT64_FORMAT "], not %s of rank %u", n, ncfm_dtype_to_string (dt), nd);
    return NULL;
  }
  const guint8 *p = ncfm_safetensors_peek (set, "labels", NULL, NULL, NULL);
  g_autofree gint64 *labels = g_new (gint64, MAX (n, 1));
  for (gint64 i = 0; i < n; i++) {
    gint64 y;
    if (dt == NCFM_DTYPE_I64) {
      memcpy (&y, p + 8 * i, 8);
      y = GINT64_FROM_LE (y);
    } else {
      gint32 y32;
      memcpy (&y32, p + 4 * i, 4);
      y = GINT32_FROM_LE (y32);
    }
    if (y < 0 || y >= G_MAXINT32 || (n_classes && y >= n_classes)) {
      fail (error, NCFM_SYNSET_ERROR_LABELS, file, "tensor labels: label %" G_GINT64_FORMAT
          " of image %" G_GINT64_FORMAT " is out of range", y, i);
      return NULL;
    }
    labels[i] = y;
  }
  return g_steal_pointer (&labels);
}

/* F32 data of a tensor: in place when aligned, else a copy in *owned. */
static const gfloat *
f32_data (NcfmSafetensors *set, const gchar *tensor, gsize *n, gfloat **owned)
{
  gsize bytes = 0;
  const guint8 *p = ncfm_safetensors_peek (set, tensor, NULL, &bytes, NULL);
  *n = bytes / sizeof (gfloat);
  *owned = NULL;
  if ((guintptr) p % G_ALIGNOF (gfloat) == 0)
    return (const gfloat *) p;
  *owned = ncfm_safetensors_dup_f32 (set, tensor, NULL, NULL);
  return *owned;
}

/* What the checks of one F32 tensor need to say where a bad value is. */
typedef struct {
  const gchar *file;
  gint64 per_image;        /* elements per image; 0 for a tensor of another shape */
  const gint64 *labels;
  gchar **class_names;     /* nullable */
  guint n_classes;         /* of class_names; 0 when unknown */
} Where;

static gboolean
bad_value (const Where *at, const gchar *tensor, gsize i, gfloat v, const gchar *why,
    GError **error)
{
  if (!at->per_image)
    return fail (error, NCFM_SYNSET_ERROR_VALUE, at->file, "tensor %s: element %" G_GSIZE_FORMAT
        " is %g (%s)", tensor, i, v, why);
  const gint64 img = (gint64) i / at->per_image, c = at->labels[img];
  const gchar *cname = c < at->n_classes ? at->class_names[c] : NULL;
  return fail (error, NCFM_SYNSET_ERROR_VALUE, at->file, "tensor %s: element %" G_GSIZE_FORMAT
      " (image %" G_GINT64_FORMAT ", class %" G_GINT64_FORMAT "%s%s%s) is %g (%s)", tensor, i,
      img, c, cname ? " \"" : "", cname ? cname : "", cname ? "\"" : "", v, why);
}

/* Every element finite and in [lo, hi]. */
static gboolean
check_values (NcfmSafetensors *set, const gchar *tensor, const Where *at, gfloat lo, gfloat hi,
    const gchar *range, GError **error)
{
  gsize n;
  g_autofree gfloat *owned = NULL;
  const gfloat *x = f32_data (set, tensor, &n, &owned);
  for (gsize i = 0; i < n; i++) {
    if (G_LIKELY (isfinite (x[i]) && x[i] >= lo && x[i] <= hi))
      continue;
    return bad_value (at, tensor, i, x[i], isfinite (x[i]) ? range : "not finite", error);
  }
  return TRUE;
}

static gboolean
check_images (NcfmSafetensors *set, const gchar *file, gint64 *shape, GError **error)
{
  NcfmDType dt;
  guint nd;
  if (!ncfm_safetensors_get_info (set, "images", &dt, &nd, shape, NULL))
    return fail (error, NCFM_SYNSET_ERROR_TENSOR, file, "no tensor images");
  if (dt != NCFM_DTYPE_F32 || nd != 4 || shape[0] < 1 || shape[1] < 1
      || shape[1] > NCFM_DATASET_MAX_CHANNELS || shape[2] < 1 || shape[3] < 1
      || shape[2] > 65536 || shape[3] > 65536
      || shape[0] > G_MAXINT32 / NCFM_SYNSET_MAX_FACTOR / NCFM_SYNSET_MAX_FACTOR)
    return fail (error, NCFM_SYNSET_ERROR_TENSOR, file, "tensor images must be F32 [N, C<=%d, "
        "H, W], not %s of rank %u", NCFM_DATASET_MAX_CHANNELS, ncfm_dtype_to_string (dt), nd);
  guint64 factor = 1;
  const gchar *f = ncfm_safetensors_get_metadata (set, "ncfm.factor");
  if (f)
    g_ascii_string_to_unsigned (f, 10, 1, NCFM_SYNSET_MAX_FACTOR, &factor, NULL);
  if (shape[2] % factor || shape[3] % factor)
    return fail (error, NCFM_SYNSET_ERROR_TENSOR, file, "tensor images: %" G_GINT64_FORMAT "x%"
        G_GINT64_FORMAT " images cannot be cut into %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT
        " tiles (metadata ncfm.factor)", shape[2], shape[3], factor, factor);
  return TRUE;
}

/* adamw.m and adamw.v (both or neither, the images' shape, finite, v >= 0)
 * and adamw.step (I64 [K], each in [0, NCFM_SYNSET_MAX_STEP]). */
static gboolean
check_adamw (NcfmSafetensors *set, const gint64 *ishape, const Where *at, GError **error)
{
  const gchar *moments[2] = { "adamw.m", "adamw.v" };
  const gboolean has_m = ncfm_safetensors_contains (set, moments[0]);
  if (has_m != ncfm_safetensors_contains (set, moments[1]))
    return fail (error, NCFM_SYNSET_ERROR_TENSOR, at->file, "tensor %s without %s",
        moments[!has_m], moments[has_m]);
  for (guint i = 0; has_m && i < 2; i++) {
    gint64 shape[NCFM_MAX_DIMS];
    NcfmDType dt;
    guint nd;
    ncfm_safetensors_get_info (set, moments[i], &dt, &nd, shape, NULL);
    if (dt != NCFM_DTYPE_F32 || nd != 4 || memcmp (shape, ishape, 4 * sizeof (gint64)) != 0)
      return fail (error, NCFM_SYNSET_ERROR_TENSOR, at->file, "tensor %s must be F32 of the "
          "images' shape [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %"
          G_GINT64_FORMAT "]", moments[i], ishape[0], ishape[1], ishape[2], ishape[3]);
    if (!check_values (set, moments[i], at, i ? 0.0f : -G_MAXFLOAT, G_MAXFLOAT,
            "negative", error))
      return FALSE;
  }
  if (!ncfm_safetensors_contains (set, "adamw.step"))
    return TRUE;
  NcfmDType dt;
  guint nd;
  gint64 shape[NCFM_MAX_DIMS];
  ncfm_safetensors_get_info (set, "adamw.step", &dt, &nd, shape, NULL);
  if (dt != NCFM_DTYPE_I64 || nd != 1 || (at->n_classes && shape[0] != at->n_classes))
    return fail (error, NCFM_SYNSET_ERROR_TENSOR, at->file, "tensor adamw.step must be I64 "
        "[classes], not %s of rank %u", ncfm_dtype_to_string (dt), nd);
  const guint8 *p = ncfm_safetensors_peek (set, "adamw.step", NULL, NULL, NULL);
  for (gint64 i = 0; i < shape[0]; i++) {
    gint64 s;
    memcpy (&s, p + 8 * i, 8);
    s = GINT64_FROM_LE (s);
    if (s < 0 || (guint64) s > NCFM_SYNSET_MAX_STEP)
      return fail (error, NCFM_SYNSET_ERROR_VALUE, at->file, "tensor adamw.step: element %"
          G_GINT64_FORMAT " (class %" G_GINT64_FORMAT ") is %" G_GINT64_FORMAT
          " (outside [0, 2^53])", i, i, s);
  }
  return TRUE;
}

/* The learned sampler's state (tensors psi.*): every F32 one finite. */
static gboolean
check_psi (NcfmSafetensors *set, const gchar *file, GError **error)
{
  g_auto (GStrv) names = ncfm_safetensors_list_names (set);
  const Where at = { file, 0, NULL, NULL, 0 };
  for (guint i = 0; names[i]; i++) {
    NcfmDType dt;
    if (!g_str_has_prefix (names[i], "psi.")
        || !ncfm_safetensors_get_info (set, names[i], &dt, NULL, NULL, NULL)
        || dt != NCFM_DTYPE_F32)
      continue;
    if (!check_values (set, names[i], &at, -G_MAXFLOAT, G_MAXFLOAT, "", error))
      return FALSE;
  }
  return TRUE;
}

/**
 * ncfm_synset_validate:
 * @set: a synthetic set, loaded or about to be saved
 * @name: the file name for messages
 * @error: return location for a #GError (%NCFM_SYNSET_ERROR)
 *
 * Checks everything a reader of the set relies on: the metadata
 * (ncfm.format "synset", ncfm.format_version 1, ncfm.factor, ncfm.ipc,
 * ncfm.step and ncfm.class_names parse; ncfm.mean and ncfm.std hold one
 * finite number per channel, std > 0), `images` F32 [N, C, H, W] with every
 * pixel finite and in [0, 1] (give or take %NCFM_SYNSET_PIXEL_TOLERANCE),
 * `labels` I64 or I32 [N] naming classes of ncfm.class_names, the AdamW state
 * when present (`adamw.m` and `adamw.v` of the images' shape, finite,
 * `adamw.v` >= 0; `adamw.step` I64 in [0, 2^53]) and the learned sampler's
 * state when present (every F32 tensor `psi.*` finite).  The first fault is
 * reported, naming the tensor or key, and for a value its element, image and
 * class.
 *
 * Returns: %TRUE if @set is a valid synthetic set
 */
gboolean
ncfm_synset_validate (NcfmSafetensors *set, const gchar *name, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (set), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_autoptr (GError) err = NULL;
  gint64 shape[NCFM_MAX_DIMS];
  if (!check_metadata (set, name, error) || !check_images (set, name, shape, error)
      || !check_stats (set, name, (guint) shape[1], error))
    return FALSE;
  g_auto (GStrv) class_names = ncfm_synset_get_class_names (set, name, &err);
  if (err) {
    g_propagate_error (error, g_steal_pointer (&err));
    return FALSE;
  }
  const guint n_classes = class_names ? g_strv_length (class_names) : 0;
  g_autofree gint64 *labels = ncfm_synset_read_labels (set, name, shape[0], n_classes, error);
  if (!labels)
    return FALSE;
  const Where at = { name, shape[1] * shape[2] * shape[3], labels, class_names, n_classes };
  const gfloat tol = (gfloat) NCFM_SYNSET_PIXEL_TOLERANCE;
  return check_values (set, "images", &at, -tol, 1.0f + tol, "outside [0, 1]", error)
      && check_adamw (set, shape, &at, error) && check_psi (set, name, error);
}

/**
 * ncfm_synset_file_validate:
 * @path: (type filename): a synthetic set's .safetensors file
 * @error: return location for a #GError (%NCFM_SAFETENSORS_ERROR when the
 *   file cannot be read as safetensors, else %NCFM_SYNSET_ERROR)
 *
 * Loads @path and checks it with ncfm_synset_validate().
 *
 * Returns: %TRUE if @path holds a valid synthetic set
 */
gboolean
ncfm_synset_file_validate (const gchar *path, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_autoptr (NcfmSafetensors) set = ncfm_safetensors_load (path, error);
  return set && ncfm_synset_validate (set, path, error);
}
