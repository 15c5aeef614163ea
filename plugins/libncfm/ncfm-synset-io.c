/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-synset-io.c: an NcfmSynset's file: resuming from one, writing it
 * (a whole set, or a class shard in the format of ncfm-synset-shard.c). */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-synset-private.h"

#include <string.h>
#include <json-glib/json-glib.h>

static guint
held_classes (NcfmSynset *self)
{
  guint n = 0;
  for (guint i = 0; i < self->k; i++)
    n += self->img[i] != NULL;
  return n;
}

/* The file is of @self's shard (ncfm.class_shard), and a shard's rows are
 * its classes' ipc images each, in class order. */
static gboolean
check_shard (NcfmSynset *self, NcfmSafetensors *file, GError **error)
{
  const gchar *tag = ncfm_safetensors_get_metadata (file, NCFM_SYNSET_SHARD_KEY);
  g_autofree gchar *mine = self->shard_count > 1
      ? g_strdup_printf ("%u/%u", self->shard_index, self->shard_count) : NULL;
  if (g_strcmp0 (tag, mine) != 0) {
    if (!mine)
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "the file is class shard %s of a "
          "run (metadata " NCFM_SYNSET_SHARD_KEY "), not a whole set: merge the shards "
          "(ncfm-synset merge) to continue it in one process", tag);
    else
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "the file is %s%s%s, not class "
          "shard %s (metadata " NCFM_SYNSET_SHARD_KEY ")", tag ? "class shard " : "a whole set",
          tag ? tag : "", tag ? " of a run" : "", mine);
    return FALSE;
  }
  if (!mine)
    return TRUE;
  const gint64 n = (gint64) held_classes (self) * self->ipc;
  NcfmDType dt;
  gsize nb = 0;
  const gint64 *labels = ncfm_safetensors_peek (file, "labels", &dt, &nb, error);
  if (!labels)
    return FALSE;
  gint64 i = 0;
  for (guint c = 0; c < self->k && dt == NCFM_DTYPE_I64 && nb == n * sizeof (gint64); c++)
    for (guint j = 0; self->img[c] && j < self->ipc && GINT64_FROM_LE (labels[i]) == c; j++)
      i++;
  if (dt != NCFM_DTYPE_I64 || nb != n * sizeof (gint64) || i != n) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "labels of class shard %s are not its "
        "classes' %u images each, in order (I64 [%" G_GINT64_FORMAT "])", mine, self->ipc, n);
    return FALSE;
  }
  return TRUE;
}

/**
 * ncfm_synset_load_state:
 * @self: a #NcfmSynset
 * @file: a synthetic set of @self's shape (check it with ncfm_synset_validate()
 *   first)
 * @error: return location for a #GError
 *
 * Continues from @file: its images, AdamW state (when it has one; zero
 * otherwise) and step (ncfm.step).  A class shard
 * (ncfm_synset_new_class_shard()) continues from a file of the same shard
 * only (ncfm.class_shard "INDEX/COUNT", the rows of its classes); a whole
 * set refuses a shard's file (merge the shards first).
 *
 * Returns: %TRUE on success; %FALSE (and @self unchanged) if a tensor is
 *   missing or has another shape, or the file is another shard
 */
gboolean
ncfm_synset_load_state (NcfmSynset *self, NcfmSafetensors *file, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self) && NCFM_IS_SAFETENSORS (file), FALSE);
  if (!check_shard (self, file, error))
    return FALSE;
  const gint64 full[4] = { (gint64) held_classes (self) * self->ipc, self->c, self->h, self->w };
  const gsize n = (gsize) full[0] * self->c * self->h * self->w;
  g_autofree gfloat *host = g_new (gfloat, n);
  g_autofree gfloat *hm = NULL, *hv = NULL;
  g_autofree gint64 *steps = g_new0 (gint64, self->k);
  if (!ncfm_safetensors_read_f32 (file, "images", full, 4, host, error))
    return FALSE;
  if (ncfm_safetensors_contains (file, "adamw.m")) {
    hm = g_new (gfloat, n);
    hv = g_new (gfloat, n);
    if (!ncfm_safetensors_read_f32 (file, "adamw.m", full, 4, hm, error)
        || !ncfm_safetensors_read_f32 (file, "adamw.v", full, 4, hv, error))
      return FALSE;
    NcfmDType dt;
    gsize nb = 0;
    const gint64 *s = ncfm_safetensors_peek (file, "adamw.step", &dt, &nb, error);
    if (!s || dt != NCFM_DTYPE_I64 || nb != self->k * sizeof (gint64)) {
      if (s)
        g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "adamw.step is not I64 [%u]", self->k);
      return FALSE;
    }
    memcpy (steps, s, nb);
  }
  guint64 step = 0;
  const gchar *sv = ncfm_safetensors_get_metadata (file, "ncfm.step");
  if (sv && !g_ascii_string_to_unsigned (sv, 10, 0, NCFM_SYNSET_MAX_STEP, &step, error))
    return FALSE;
  if (!ncfm_synset_upload_classes (self, self->img, host, error))
    return FALSE;
  for (guint i = 0; i < self->k; i++)
    if (self->m[i] && (!(hm ? TRUE : ncfm_tensor_fill (self->m[i], 0.0f, error))
            || !(hv ? TRUE : ncfm_tensor_fill (self->v[i], 0.0f, error))))
      return FALSE;
  if (hm && (!ncfm_synset_upload_classes (self, self->m, hm, error)
          || !ncfm_synset_upload_classes (self, self->v, hv, error)))
    return FALSE;
  for (guint i = 0; i < self->k; i++)
    self->cstep[i] = self->img[i] ? steps[i] : 0;
  self->step = step;
  return TRUE;
}

static gchar *
json_floats (const gfloat *v, guint n)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    json_builder_add_double_value (b, v[i]);
  json_builder_end_array (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/**
 * ncfm_synset_class_names_json:
 * @self: a #NcfmSynset
 *
 * Returns: (transfer full): the class names as ncfm.class_names holds
 *   them (a JSON array of strings)
 */
gchar *
ncfm_synset_class_names_json (NcfmSynset *self)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self), NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; self->class_names[i]; i++)
    json_builder_add_string_value (b, self->class_names[i]);
  json_builder_end_array (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/**
 * ncfm_synset_to_safetensors:
 * @self: a #NcfmSynset
 * @psi: (nullable): a learned sampler saved with the set (psi.*), so that
 *   a resumed run continues it
 *
 * The set in the synset file format: `images` F32 [K * ipc, C, H, W],
 * (a class shard: the rows of its classes, and ncfm.class_shard),
 * `labels` I64, `adamw.m`, `adamw.v`, `adamw.step` I64 [K] and the
 * metadata (ncfm.format, format_version, class_names, mean, std, dataset,
 * dataset_path, factor, ipc, step and what ncfm_synset_set_metadata() set).
 * Not checked: see ncfm_synset_save().
 *
 * Returns: (transfer full): the file's contents
 */
NcfmSafetensors *
ncfm_synset_to_safetensors (NcfmSynset *self, NcfmSampler *psi)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self), NULL);
  const guint n_held = held_classes (self), n = n_held * self->ipc;
  const gsize per = (gsize) self->ipc * self->c * self->h * self->w * sizeof (gfloat);
  const gint64 shape[4] = { n, self->c, self->h, self->w }, lshape[1] = { n },
      kshape[1] = { self->k };
  g_autofree gfloat *host = g_malloc (MAX (per * n_held, 1));
  g_autofree gint64 *labels = g_new (gint64, n);
  NcfmSafetensors *st = ncfm_safetensors_new ();
  /* the device may be shared with other threads (recursive: a caller may hold it) */
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->device);

  NcfmTensor **parts[3] = { self->img, self->m, self->v };
  const gchar *names[3] = { "images", "adamw.m", "adamw.v" };
  for (guint p = 0; p < 3; p++) {
    for (guint i = 0, at = 0; i < self->k; i++)
      if (parts[p][i])
        ncfm_tensor_download (parts[p][i], (guint8 *) host + per * at++, per);
    ncfm_safetensors_set (st, names[p], NCFM_DTYPE_F32, shape, 4, host, per * n_held);
  }
  for (guint i = 0, at = 0; i < self->k; i++)
    for (guint j = 0; self->img[i] && j < self->ipc; j++)
      labels[at++] = i;
  ncfm_safetensors_set (st, "labels", NCFM_DTYPE_I64, lshape, 1, labels, n * sizeof (gint64));
  ncfm_safetensors_set (st, "adamw.step", NCFM_DTYPE_I64, kshape, 1, self->cstep,
      self->k * sizeof (gint64));

  g_autofree gchar *mean = json_floats (self->mean, self->c);
  g_autofree gchar *std = json_floats (self->std, self->c);
  g_autofree gchar *classes = ncfm_synset_class_names_json (self);
  g_autofree gchar *factor = g_strdup_printf ("%u", self->factor);
  g_autofree gchar *ipc = g_strdup_printf ("%u", self->ipc);
  g_autofree gchar *step = g_strdup_printf ("%" G_GUINT64_FORMAT, self->step);
  ncfm_safetensors_set_metadata (st, "ncfm.format", "synset");
  ncfm_safetensors_set_metadata (st, "ncfm.format_version", "1");
  ncfm_safetensors_set_metadata (st, "ncfm.class_names", classes);
  ncfm_safetensors_set_metadata (st, "ncfm.mean", mean);
  ncfm_safetensors_set_metadata (st, "ncfm.std", std);
  ncfm_safetensors_set_metadata (st, "ncfm.dataset", self->dataset);
  ncfm_safetensors_set_metadata (st, "ncfm.dataset_path", self->dataset_path);
  ncfm_safetensors_set_metadata (st, "ncfm.factor", factor);
  ncfm_safetensors_set_metadata (st, "ncfm.ipc", ipc);
  ncfm_safetensors_set_metadata (st, "ncfm.step", step);
  if (self->shard_count > 1) {
    g_autofree gchar *tag = g_strdup_printf ("%u/%u", self->shard_index, self->shard_count);
    ncfm_safetensors_set_metadata (st, NCFM_SYNSET_SHARD_KEY, tag);
  }
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, self->meta);
  while (g_hash_table_iter_next (&it, &key, &value))
    ncfm_safetensors_set_metadata (st, key, value);
  if (psi) {
    /* psi's weights, momentum and stream position under its lock, after
     * its device's */
    g_autoptr (NcfmDeviceLocker) psi_held = ncfm_device_locker_new (ncfm_sampler_get_device (psi));
    ncfm_sampler_lock (psi);
    ncfm_sampler_save (psi, st, "psi.");
    ncfm_sampler_unlock (psi);
  }
  return st;
}

/**
 * ncfm_synset_save:
 * @self: a #NcfmSynset
 * @path: the file
 * @psi: (nullable): a learned sampler saved with the set
 * @error: return location for a #GError
 *
 * Checks the set with ncfm_synset_validate() (finite pixels in [0, 1],
 * finite AdamW and psi state) and writes it atomically to @path.  On any
 * fault the file keeps its last good save.
 *
 * Returns: %TRUE on success; %FALSE with an error of %NCFM_SYNSET_ERROR
 *   (the set is not valid) or of the write
 */
gboolean
ncfm_synset_save (NcfmSynset *self, const gchar *path, NcfmSampler *psi, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self) && path, FALSE);
  g_autoptr (NcfmSafetensors) st = ncfm_synset_to_safetensors (self, psi);
  return ncfm_synset_validate (st, path, error) && ncfm_safetensors_save (st, path, error);
}

