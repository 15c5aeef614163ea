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
 * A class shard (ncfm_synset_new_class_shard()) holds the classes of one
 * rank of a run that divides the classes among ranks, and saves and
 * resumes the shard files that ncfm_synset_merge() joins.
 *
 * Not thread-safe: one thread steps and saves a set (an #NcfmDistiller's).
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-synset.h"

#include <string.h>

#include "ncfm-ops.h"
#include "ncfm-synset-private.h"


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
  return ncfm_synset_new_class_shard (dataset, ipc, factor, 0, 1, device, error);
}

/**
 * ncfm_synset_new_class_shard:
 * @dataset: the real dataset, as for ncfm_synset_new()
 * @ipc: stored images per class (at least 1)
 * @factor: multi-formation factor; divides the image height and width
 * @shard_index: the shard, below @shard_count
 * @shard_count: the number of shards (1: the whole set, as ncfm_synset_new())
 * @device: where the images live
 * @error: return location for a #GError
 *
 * A class shard of a set (one rank of a run that divides the classes among
 * @shard_count ranks): the classes c with c mod @shard_count = @shard_index
 * are held (images, AdamW state), the others not (no memory;
 * ncfm_synset_get_images() gives %NULL for them and
 * ncfm_synset_adamw_step() refuses them).  Its file
 * (ncfm_synset_to_safetensors()) is a shard of the format of
 * ncfm_synset_shard_split(): every class name, the rows of the classes held,
 * adamw.step 0 for the others, ncfm.class_shard "INDEX/COUNT"; it resumes
 * (ncfm_synset_load_state()) from such a file of the same shard only, and
 * `ncfm-synset merge` (ncfm_synset_merge()) joins the shards of a run.
 *
 * Returns: (transfer full): the set, or %NULL (@error names the argument)
 */
NcfmSynset *
ncfm_synset_new_class_shard (NcfmDataset *dataset, guint ipc, guint factor, guint shard_index,
    guint shard_count, NcfmDevice *device, GError **error)
{
  g_return_val_if_fail (NCFM_IS_DATASET (dataset) && NCFM_IS_DEVICE (device), NULL);
  const guint k = ncfm_dataset_get_num_classes (dataset), c = ncfm_dataset_get_channels (dataset);
  const guint h = ncfm_dataset_get_height (dataset), w = ncfm_dataset_get_width (dataset);
  if (shard_count == 0 || shard_index >= MIN (shard_count, k)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "synthetic set: class shard %u of %u "
        "of %u classes holds no class", shard_index, shard_count, k);
    return NULL;
  }
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
  self->shard_index = shard_index;
  self->shard_count = shard_count;
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
  for (guint i = shard_index; i < k; i += shard_count) {
    NcfmTensor **parts[3] = { &self->img[i], &self->m[i], &self->v[i] };
    for (guint p = 0; p < 3; p++) {
      *parts[p] = ncfm_tensor_new (device, NCFM_DTYPE_F32, shape, 4, error);
      if (!*parts[p] || !ncfm_tensor_fill (*parts[p], 0.0f, error))
        return NULL;
    }
  }
  return g_steal_pointer (&self);
}

/* Uploads host [held classes * ipc, C, H, W] (the classes held, in order)
 * to the per-class tensors of parts. */
gboolean
ncfm_synset_upload_classes (NcfmSynset *self, NcfmTensor **parts, const gfloat *host,
    GError **error)
{
  const gsize per = (gsize) self->ipc * self->c * self->h * self->w;
  for (guint i = 0, at = 0; i < self->k; i++)
    if (parts[i] && !ncfm_tensor_set_data (parts[i], (const guint8 *) (host + at++ * per),
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
  const gsize per = (gsize) self->ipc * self->c * self->h * self->w;
  g_autofree gfloat *host = g_malloc (n * per / self->ipc * sizeof (gfloat));
  ncfm_tensor_download (images, host, n * per / self->ipc * sizeof (gfloat));
  /* a class shard keeps its classes' rows, in order, at the front */
  for (guint i = 0, at = 0; i < self->k; i++) {
    if (!self->img[i])
      continue;
    if (at != i)
      memmove (host + at * per, host + i * per, per * sizeof (gfloat));
    at++;
  }
  ncfm_synset_set_metadata (self, "ncfm.init", ncfm_synset_init_to_string (init));
  g_autofree gchar *s = g_strdup_printf ("%" G_GUINT64_FORMAT, seed);
  ncfm_synset_set_metadata (self, "ncfm.seed", s);
  return ncfm_synset_upload_classes (self, self->img, host, error);
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
 * Returns: (transfer none) (nullable): the stored images of class @c, F32
 *   [ipc, C, H, W]; %NULL for a class a class shard does not hold
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
  if (!self->img[c]) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "synthetic set: class %u is not in "
        "class shard %u of %u", c, self->shard_index, self->shard_count);
    return FALSE;
  }
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

/**
 * ncfm_synset_get_class_shard:
 * @self: a #NcfmSynset
 * @shard_count: (out) (optional): the number of shards (1: the whole set)
 *
 * Returns: the shard @self holds (see ncfm_synset_new_class_shard()), 0 for
 *   a whole set
 */
guint
ncfm_synset_get_class_shard (NcfmSynset *self, guint *shard_count)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self), 0);
  if (shard_count)
    *shard_count = self->shard_count;
  return self->shard_index;
}

/**
 * ncfm_synset_holds_class:
 * @self: a #NcfmSynset
 * @c: a class
 *
 * Returns: whether @self holds the images of class @c (every class of a
 *   whole set; a class shard's own)
 */
gboolean
ncfm_synset_holds_class (NcfmSynset *self, guint c)
{
  g_return_val_if_fail (NCFM_IS_SYNSET (self), FALSE);
  return c < self->k && self->img[c] != NULL;
}
