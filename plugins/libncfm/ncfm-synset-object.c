/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-synset-object
 * @title: NcfmSynset
 * @short_description: a synthetic set being distilled: images, AdamW state, metadata
 *
 * The stored images of every class in pixel space ([ipc, C, H, W] in
 * [0, 1] per class), each decoding to factor^2 images by multi-formation,
 * their per-class AdamW moments and step counts, the distillation step and
 * the metadata of the synset file format (dataset name and path, class
 * names, mean/std, hyperparameters).  ncfm_synset_save() writes the file
 * that #NcfmDataset reads (checked with ncfm_synset_validate() first, then
 * written atomically); ncfm_synset_load_state() resumes from one.
 *
 * Not thread-safe: one thread steps and saves a set (an #NcfmDistiller's).
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-synset.h"

#include <string.h>
#include <json-glib/json-glib.h>

#include "ncfm-ops.h"

struct _NcfmSynset {
  GObject parent;
  NcfmDevice *device;
  guint k, ipc, c, h, w, factor;
  gfloat mean[NCFM_MAX_CHANNELS], std[NCFM_MAX_CHANNELS];
  NcfmTensor **img, **m, **v;   /* per class, [ipc, C, H, W] */
  gint64 *cstep;                /* AdamW steps per class */
  guint64 step;
  gchar *dataset, *dataset_path;
  gchar **class_names;
  GHashTable *meta;             /* further metadata (hyperparameters), key -> value */
};

G_DEFINE_FINAL_TYPE (NcfmSynset, ncfm_synset, G_TYPE_OBJECT)

static void
ncfm_synset_finalize (GObject *object)
{
  NcfmSynset *self = NCFM_SYNSET (object);
  for (guint i = 0; self->img && i < self->k; i++) {
    g_clear_object (&self->img[i]);
    g_clear_object (&self->m[i]);
    g_clear_object (&self->v[i]);
  }
  g_free (self->img);
  g_free (self->m);
  g_free (self->v);
  g_free (self->cstep);
  g_free (self->dataset);
  g_free (self->dataset_path);
  g_strfreev (self->class_names);
  g_hash_table_unref (self->meta);
  g_clear_object (&self->device);
  G_OBJECT_CLASS (ncfm_synset_parent_class)->finalize (object);
}

static void
ncfm_synset_class_init (NcfmSynsetClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_synset_finalize;
}

static void
ncfm_synset_init (NcfmSynset *self)
{
  self->meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->dataset = g_strdup ("");
  self->dataset_path = g_strdup ("");
}

/**
 * ncfm_synset_new:
 * @dataset: the real dataset: its classes, geometry, name, class names and
 *   mean/std define the set (its images are not read)
 * @ipc: stored images per class (at least 1)
 * @factor: multi-formation factor; divides the image height and width
 * @device: where the images live
 * @error: return location for a #GError
 *
 * A set of zero images and zero AdamW state at step 0; fill it with
 * ncfm_synset_init_images() or ncfm_synset_load_state().
 *
 * Returns: (transfer full): the set, or %NULL (@error names the argument)
 */
NcfmSynset *
ncfm_synset_new (NcfmDataset *dataset, guint ipc, guint factor, NcfmDevice *device,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_DATASET (dataset) && NCFM_IS_DEVICE (device), NULL);
  const guint k = ncfm_dataset_get_num_classes (dataset), c = ncfm_dataset_get_channels (dataset);
  const guint h = ncfm_dataset_get_height (dataset), w = ncfm_dataset_get_width (dataset);
  if (ipc == 0 || k == 0 || c == 0 || c > NCFM_MAX_CHANNELS || factor == 0 || h % factor
      || w % factor) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "synthetic set: ipc %u, factor %u on "
        "%u classes of [%u,%u,%u] images: need ipc >= 1, 1 to %d channels, a class and a "
        "factor dividing H and W", ipc, factor, k, c, h, w, NCFM_MAX_CHANNELS);
    return NULL;
  }
  g_autoptr (NcfmSynset) self = g_object_new (NCFM_TYPE_SYNSET, NULL);
  self->device = g_object_ref (device);
  self->k = k;
  self->ipc = ipc;
  self->c = c;
  self->h = h;
  self->w = w;
  self->factor = factor;
  g_free (self->dataset);
  self->dataset = g_strdup (ncfm_dataset_get_name (dataset));
  self->class_names = g_new0 (gchar *, k + 1);
  for (guint i = 0; i < k; i++)
    self->class_names[i] = g_strdup (ncfm_dataset_get_class_name (dataset, i));
  for (guint ch = 0; ch < c; ch++) {
    self->mean[ch] = ncfm_dataset_get_mean (dataset, ch);
    self->std[ch] = ncfm_dataset_get_std (dataset, ch);
  }
  const gint64 shape[4] = { ipc, c, h, w };
  self->img = g_new0 (NcfmTensor *, k);
  self->m = g_new0 (NcfmTensor *, k);
  self->v = g_new0 (NcfmTensor *, k);
  self->cstep = g_new0 (gint64, k);
  for (guint i = 0; i < k; i++) {
    NcfmTensor **parts[3] = { &self->img[i], &self->m[i], &self->v[i] };
    for (guint p = 0; p < 3; p++) {
      *parts[p] = ncfm_tensor_new (device, NCFM_DTYPE_F32, shape, 4, error);
      if (!*parts[p] || !ncfm_tensor_fill (*parts[p], 0.0f, error))
        return NULL;
    }
  }
  return g_steal_pointer (&self);
}

/* Uploads host [K * ipc, C, H, W] to the per-class tensors of parts. */
static gboolean
upload_classes (NcfmSynset *self, NcfmTensor **parts, const gfloat *host, GError **error)
{
  const gsize per = (gsize) self->ipc * self->c * self->h * self->w;
  for (guint i = 0; i < self->k; i++)
    if (!ncfm_tensor_set_data (parts[i], (const guint8 *) (host + i * per),
            per * sizeof (gfloat), error))
      return FALSE;
  return TRUE;
}

/**
 * ncfm_synset_init_images:
 * @self: a #NcfmSynset
 * @dataset: the dataset @self was made for (its train images are drawn)
 * @init: how the images start
 * @seed: seed of the draw
 * @error: return location for a #GError
 *
 * Sets the images by ncfm_multiformation_init() and records @init and
 * @seed in the metadata (ncfm.init, ncfm.seed).
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_synset_init_images (NcfmSynset *self, NcfmDataset *dataset, NcfmSynsetInit init,
    guint64 seed, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self) && NCFM_IS_DATASET (dataset), FALSE);
  g_autoptr (NcfmTensor) images = NULL, labels = NULL;
  if (!ncfm_multiformation_init (dataset, self->ipc, self->factor, init, seed, self->device,
          &images, &labels, error))
    return FALSE;
  const gsize n = (gsize) self->k * self->ipc;
  g_autofree gint32 *l = g_new (gint32, n);
  ncfm_tensor_download (labels, l, n * sizeof (gint32));
  for (gsize i = 0; i < n; i++) {
    if (l[i] != (gint32) (i / self->ipc)) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "The initial set is not ordered "
          "by class");
      return FALSE;
    }
  }
  g_autofree gfloat *host = g_malloc (n * self->c * self->h * self->w * sizeof (gfloat));
  ncfm_tensor_download (images, host, n * self->c * self->h * self->w * sizeof (gfloat));
  ncfm_synset_set_metadata (self, "ncfm.init", ncfm_synset_init_to_string (init));
  g_autofree gchar *s = g_strdup_printf ("%" G_GUINT64_FORMAT, seed);
  ncfm_synset_set_metadata (self, "ncfm.seed", s);
  return upload_classes (self, self->img, host, error);
}

/**
 * ncfm_synset_load_state:
 * @self: a #NcfmSynset
 * @file: a synthetic set of @self's shape (check it with ncfm_synset_validate()
 *   first)
 * @error: return location for a #GError
 *
 * Continues from @file: its images, AdamW state (when it has one; zero
 * otherwise) and step (ncfm.step).
 *
 * Returns: %TRUE on success; %FALSE (and @self unchanged) if a tensor is
 *   missing or has another shape
 */
gboolean
ncfm_synset_load_state (NcfmSynset *self, NcfmSafetensors *file, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self) && NCFM_IS_SAFETENSORS (file), FALSE);
  const gint64 full[4] = { (gint64) self->k * self->ipc, self->c, self->h, self->w };
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
  if (!upload_classes (self, self->img, host, error))
    return FALSE;
  for (guint i = 0; i < self->k; i++)
    if (!(hm ? TRUE : ncfm_tensor_fill (self->m[i], 0.0f, error))
        || !(hv ? TRUE : ncfm_tensor_fill (self->v[i], 0.0f, error)))
      return FALSE;
  if (hm && (!upload_classes (self, self->m, hm, error)
          || !upload_classes (self, self->v, hv, error)))
    return FALSE;
  memcpy (self->cstep, steps, self->k * sizeof (gint64));
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
  const guint n = self->k * self->ipc;
  const gsize per = (gsize) self->ipc * self->c * self->h * self->w * sizeof (gfloat);
  const gint64 shape[4] = { n, self->c, self->h, self->w }, lshape[1] = { n },
      kshape[1] = { self->k };
  g_autofree gfloat *host = g_malloc (per * self->k);
  g_autofree gint64 *labels = g_new (gint64, n);
  NcfmSafetensors *st = ncfm_safetensors_new ();
  /* the device may be shared with other threads (recursive: a caller may hold it) */
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (self->device);

  NcfmTensor **parts[3] = { self->img, self->m, self->v };
  const gchar *names[3] = { "images", "adamw.m", "adamw.v" };
  for (guint p = 0; p < 3; p++) {
    for (guint i = 0; i < self->k; i++)
      ncfm_tensor_download (parts[p][i], (guint8 *) host + per * i, per);
    ncfm_safetensors_set (st, names[p], NCFM_DTYPE_F32, shape, 4, host, per * self->k);
  }
  for (guint i = 0; i < n; i++)
    labels[i] = i / self->ipc;
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

/**
 * ncfm_synset_set_metadata:
 * @self: a #NcfmSynset
 * @key: a metadata key (ncfm.lr, ...)
 * @value: its value
 *
 * A further metadata entry of the saved file (replacing one of the same
 * key).  The keys of the format itself (ncfm.format, ncfm.step, ...) are
 * @self's and written over.
 */
void
ncfm_synset_set_metadata (NcfmSynset *self, const gchar *key, const gchar *value)
{
  g_return_if_fail (NCFM_IS_SYNSET (self) && key && value);
  g_hash_table_replace (self->meta, g_strdup (key), g_strdup (value));
}

/**
 * ncfm_synset_set_dataset_path:
 * @self: a #NcfmSynset
 * @path: the dataset's absolute path (ncfm.dataset_path)
 */
void
ncfm_synset_set_dataset_path (NcfmSynset *self, const gchar *path)
{
  g_return_if_fail (NCFM_IS_SYNSET (self) && path);
  g_free (self->dataset_path);
  self->dataset_path = g_strdup (path);
}

/**
 * ncfm_synset_set_normalization:
 * @self: a #NcfmSynset
 * @mean: (array length=n_channels): per-channel mean of the stream
 * @std: (array length=n_channels): per-channel standard deviation
 * @n_channels: the set's channels
 *
 * The normalisation the distiller applies to the decoded images before the
 * model (the stream's; the dataset's by default), saved as ncfm.mean/std.
 *
 * Returns: %TRUE; %FALSE if @n_channels is not the set's or a std is not positive
 */
gboolean
ncfm_synset_set_normalization (NcfmSynset *self, const gfloat *mean, const gfloat *std,
    guint n_channels)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self) && mean && std, FALSE);
  if (n_channels != self->c)
    return FALSE;
  for (guint ch = 0; ch < n_channels; ch++)
    if (!(std[ch] > 0.0f))
      return FALSE;
  memcpy (self->mean, mean, n_channels * sizeof (gfloat));
  memcpy (self->std, std, n_channels * sizeof (gfloat));
  return TRUE;
}

/**
 * ncfm_synset_get_normalization:
 * @self: a #NcfmSynset
 * @mean: (out caller-allocates) (array fixed-size=4): the per-channel mean
 * @std: (out caller-allocates) (array fixed-size=4): the standard deviations
 *
 * Returns: the number of channels filled in
 */
guint
ncfm_synset_get_normalization (NcfmSynset *self, gfloat *mean, gfloat *std)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self), 0);
  memcpy (mean, self->mean, self->c * sizeof (gfloat));
  memcpy (std, self->std, self->c * sizeof (gfloat));
  return self->c;
}

/**
 * ncfm_synset_get_images:
 * @self: a #NcfmSynset
 * @c: a class
 *
 * Returns: (transfer none): the stored images of class @c, F32 [ipc, C, H, W]
 */
NcfmTensor *
ncfm_synset_get_images (NcfmSynset *self, guint c)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self) && c < self->k, NULL);
  return self->img[c];
}

/**
 * ncfm_synset_adamw_step:
 * @self: a #NcfmSynset
 * @c: a class
 * @grad: dL/dimages of class @c, the images' shape
 * @lr: learning rate
 * @weight_decay: decoupled weight decay
 * @error: return location for a #GError
 *
 * One AdamW step (betas 0.9/0.999, eps 1e-8) on the images of class @c with
 * its own moments and step count, then the pixels clamped to [0, 1].
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_synset_adamw_step (NcfmSynset *self, guint c, NcfmTensor *grad, gfloat lr,
    gfloat weight_decay, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self) && c < self->k && NCFM_IS_TENSOR (grad), FALSE);
  if (!ncfm_ops_adamw_step (self->img[c], grad, self->m[c], self->v[c], lr, 0.9f, 0.999f, 1e-8f,
          weight_decay, self->cstep[c] + 1, error))
    return FALSE;
  self->cstep[c]++;
  return ncfm_ops_clamp (self->img[c], 0.0f, 1.0f, error);
}

/**
 * ncfm_synset_get_step:
 * @self: a #NcfmSynset
 *
 * Returns: the distillation step (ncfm.step)
 */
guint64
ncfm_synset_get_step (NcfmSynset *self)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self), 0);
  return self->step;
}

/**
 * ncfm_synset_set_step:
 * @self: a #NcfmSynset
 * @step: the distillation step (one per batch of real features)
 */
void
ncfm_synset_set_step (NcfmSynset *self, guint64 step)
{
  g_return_if_fail (NCFM_IS_SYNSET (self));
  self->step = step;
}

/**
 * ncfm_synset_get_device:
 * @self: a #NcfmSynset
 *
 * Returns: (transfer none): where the images live
 */
NcfmDevice *
ncfm_synset_get_device (NcfmSynset *self)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self), NULL);
  return self->device;
}

/**
 * ncfm_synset_get_shape:
 * @self: a #NcfmSynset
 * @num_classes: (out) (optional): K
 * @ipc: (out) (optional): stored images per class
 * @channels: (out) (optional): C
 * @height: (out) (optional): H
 * @width: (out) (optional): W
 * @factor: (out) (optional): the multi-formation factor
 */
void
ncfm_synset_get_shape (NcfmSynset *self, guint *num_classes, guint *ipc, guint *channels,
    guint *height, guint *width, guint *factor)
{
  g_return_if_fail (NCFM_IS_SYNSET (self));
  if (num_classes)
    *num_classes = self->k;
  if (ipc)
    *ipc = self->ipc;
  if (channels)
    *channels = self->c;
  if (height)
    *height = self->h;
  if (width)
    *width = self->w;
  if (factor)
    *factor = self->factor;
}
