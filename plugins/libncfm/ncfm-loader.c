/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-loader
 * @title: NcfmLoader
 * @short_description: batches of a dataset, normalised, on a device
 *
 * An #NcfmLoader cuts an #NcfmDataset into batches and delivers each as F32
 * images [B, C, H, W] normalised with the dataset's mean/std, (x / 255 -
 * mean) / std for uint8 datasets, (x - mean) / std for F32 ones (synthetic
 * sets, already in [0, 1]), and I32 labels [B], both on the loader's device.
 * The uint8 pixels travel to the device as they are stored (a quarter of the
 * bytes of floats) and are converted there (u8_to_f32, channel_affine).
 *
 * Two modes:
 *
 * - %NCFM_LOADER_MODE_PER_CLASS: batch k holds images of class
 *   classes[k mod K] only (K classes in the subset, in the order given).
 *   Each batch draws min(B, n_c) distinct images of its class at random,
 *   independently of the other batches (the reference's class_sample), so a
 *   class smaller than B gives its whole set, shuffled.  One epoch is one
 *   round over the classes: K batches.  With shuffle off, the batches of a
 *   class walk its images in dataset order instead, wrapping around.
 *   A class shard (ncfm_loader_set_class_shard()) delivers the batches of
 *   its classes only, under the numbers they have in the whole run.
 * - %NCFM_LOADER_MODE_MIXED: each epoch walks the images of the subset in an
 *   order shuffled anew per epoch (dataset order with shuffle off), in
 *   ceil(N / B) batches; the last batch of an epoch holds the N mod B
 *   remaining images when B does not divide N (it is delivered, not dropped),
 *   so every image is seen exactly once per epoch.
 *
 * Every random choice comes from Philox4x32-10 keyed by the seed and the
 * batch (or epoch) number: the same seed gives the same batches on every
 * run and machine, and ncfm_loader_seek() can jump anywhere at no cost.
 * Labels are the dataset's class ids (a subset does not renumber them).
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-loader.h"

#include <string.h>

#include "philox.h"
#include "ncfm-shard.h"

struct _NcfmLoader {
  GObject parent;
  NcfmDataset *dataset;
  NcfmDevice *device;
  guint batch_size;
  NcfmLoaderMode mode;
  guint64 seed;
  guint epochs;
  gboolean shuffle;
  guint *classes, n_classes;     /* the subset, or every class */
  guint **class_images;          /* PER_CLASS: image indices of classes[j] */
  guint *class_counts;
  guint *pool, pool_len;         /* MIXED: image indices of the subset, dataset order */
  guint *order;                  /* MIXED: this epoch's order of pool (or PER_CLASS draw) */
  guint64 order_epoch;           /* epoch `order` belongs to; G_MAXUINT64 for none */
  guint64 position, batches_per_epoch, images_per_epoch;
  guint shard_index, shard_count;  /* PER_CLASS class shard: batches of classes[j], j mod
                                    * count = index, only; count 1 for all */
  gsize chw;
  NcfmChannelAffine norm;
  guint8 *host;                  /* gathered pixels of one batch */
  gint32 *host_labels;
  NcfmTensor *staging;           /* U8 [B * C * H * W] on the device */
};

G_DEFINE_FINAL_TYPE (NcfmLoader, ncfm_loader, G_TYPE_OBJECT)

/* Streams of random numbers, one per purpose and batch/epoch. */
#define STREAM_MIXED_EPOCH (G_GUINT64_CONSTANT (1) << 56)
#define STREAM_CLASS_BATCH (G_GUINT64_CONSTANT (2) << 56)

static void
ncfm_loader_finalize (GObject *object)
{
  NcfmLoader *self = NCFM_LOADER (object);
  for (guint j = 0; self->class_images && j < self->n_classes; j++)
    g_free (self->class_images[j]);
  g_free (self->class_images);
  g_free (self->class_counts);
  g_free (self->classes);
  g_free (self->pool);
  g_free (self->order);
  g_free (self->host);
  g_free (self->host_labels);
  g_clear_object (&self->staging);
  g_clear_object (&self->dataset);
  g_clear_object (&self->device);
  G_OBJECT_CLASS (ncfm_loader_parent_class)->finalize (object);
}

static void
ncfm_loader_class_init (NcfmLoaderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_loader_finalize;
}

static void
ncfm_loader_init (NcfmLoader *self)
{
  self->order_epoch = G_MAXUINT64;
  self->shard_count = 1;
}

/**
 * ncfm_loader_mode_to_string:
 * @mode: a #NcfmLoaderMode
 *
 * Returns: "per-class" or "mixed"
 */
const gchar *
ncfm_loader_mode_to_string (NcfmLoaderMode mode)
{
  return mode == NCFM_LOADER_MODE_MIXED ? "mixed" : "per-class";
}

/**
 * ncfm_loader_mode_from_string:
 * @name: "per-class" or "mixed"
 * @mode: (out): the mode
 *
 * Returns: %TRUE when @name names a mode
 */
gboolean
ncfm_loader_mode_from_string (const gchar *name, NcfmLoaderMode *mode)
{
  if (g_strcmp0 (name, "per-class") == 0)
    *mode = NCFM_LOADER_MODE_PER_CLASS;
  else if (g_strcmp0 (name, "mixed") == 0)
    *mode = NCFM_LOADER_MODE_MIXED;
  else
    return FALSE;
  return TRUE;
}

static guint64
splitmix64 (guint64 x)
{
  x += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);
  x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return x ^ (x >> 31);
}

void
ncfm_shuffle_indices (guint64 seed, guint64 stream, guint *values, gsize n, gsize m)
{
  /* one Philox key per (seed, stream); word i of the stream is word i % 4 of
   * counter i / 4.  A draw in [0, r) is (word * r) >> 32: its bias, r / 2^32,
   * is far below anything a batch of images could show. */
  const guint64 key = splitmix64 (seed ^ splitmix64 (stream));
  NcfmPhilox4 words = { { 0 } };
  if (m > n)
    m = n;
  for (gsize i = 0; i < m && i + 1 < n; i++) {
    if (i % 4 == 0)
      words = ncfm_philox4x32_10 (i / 4, key);
    guint64 r = n - i;
    gsize j = i + (gsize) (((guint64) words.v[i % 4] * r) >> 32);
    guint t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
}

static gboolean
set_classes (NcfmLoader *self, const guint *classes, guint n_classes, GError **error)
{
  const guint k = ncfm_dataset_get_num_classes (self->dataset);
  g_autofree gboolean *seen = g_new0 (gboolean, k ? k : 1);
  self->n_classes = n_classes ? n_classes : k;
  self->classes = g_new (guint, self->n_classes ? self->n_classes : 1);
  for (guint j = 0; j < self->n_classes; j++) {
    guint c = n_classes ? classes[j] : j;
    if (c >= k) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
          "loader: class %u is out of range: dataset %s has %u classes (0 .. %u)", c,
          ncfm_dataset_get_name (self->dataset), k, k ? k - 1 : 0);
      return FALSE;
    }
    if (seen[c]) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
          "loader: class %u is listed twice in the class subset", c);
      return FALSE;
    }
    seen[c] = TRUE;
    self->classes[j] = c;
  }
  if (self->n_classes == 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "loader: dataset %s has no classes",
        ncfm_dataset_get_name (self->dataset));
    return FALSE;
  }

  /* per-class image lists (PER_CLASS) and the pool of the subset (MIXED) */
  self->class_images = g_new0 (guint *, self->n_classes);
  self->class_counts = g_new0 (guint, self->n_classes);
  for (guint j = 0; j < self->n_classes; j++) {
    self->class_images[j] = ncfm_dataset_get_class_indices (self->dataset, self->classes[j],
        &self->class_counts[j]);
    if (self->class_counts[j] == 0 && (n_classes || self->mode == NCFM_LOADER_MODE_PER_CLASS)) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
          "loader: class %u (%s) of dataset %s has no images", self->classes[j],
          ncfm_dataset_get_class_name (self->dataset, self->classes[j]),
          ncfm_dataset_get_name (self->dataset));
      return FALSE;
    }
  }
  const guint n = ncfm_dataset_get_n_images (self->dataset);
  const gint32 *labels = ncfm_dataset_peek_labels (self->dataset);
  self->pool = g_new (guint, n ? n : 1);
  for (guint i = 0; i < n; i++)
    if (labels[i] >= 0 && (guint) labels[i] < k && seen[labels[i]])
      self->pool[self->pool_len++] = i;
  if (self->pool_len == 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "loader: dataset %s has no images%s",
        ncfm_dataset_get_name (self->dataset), n_classes ? " in the class subset" : "");
    return FALSE;
  }
  return TRUE;
}

/**
 * ncfm_loader_new:
 * @dataset: the images
 * @device: where the batches are delivered
 * @batch_size: images per batch B (>= 1)
 * @mode: per-class or mixed batches
 * @seed: seed of every random choice (same seed, same batches)
 * @epochs: how many epochs to deliver; 0 loops forever
 * @shuffle: draw / shuffle at random (%FALSE: dataset order)
 * @classes: (array length=n_classes) (nullable): the class subset (dataset
 *   class ids, distinct; per-class batches cycle in this order), or %NULL
 *   for every class
 * @n_classes: length of @classes; 0 for every class
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a loader positioned at the first
 *   batch, or %NULL with @error set (a bad batch size, an unknown or empty
 *   class, more than 4 channels, a non-positive std)
 */
NcfmLoader *
ncfm_loader_new (NcfmDataset *dataset, NcfmDevice *device, guint batch_size, NcfmLoaderMode mode,
    guint64 seed, guint epochs, gboolean shuffle, const guint *classes, guint n_classes,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_DATASET (dataset), NULL);
  g_return_val_if_fail (NCFM_IS_DEVICE (device), NULL);
  g_return_val_if_fail (classes != NULL || n_classes == 0, NULL);
  const gchar *name = ncfm_dataset_get_name (dataset);
  const guint c = ncfm_dataset_get_channels (dataset);
  const NcfmDType dtype = ncfm_dataset_get_dtype (dataset);
  if (batch_size < 1 || batch_size > (1u << 24)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "loader: batch size must be 1 .. %u, got %u", 1u << 24, batch_size);
    return NULL;
  }
  if (mode != NCFM_LOADER_MODE_PER_CLASS && mode != NCFM_LOADER_MODE_MIXED) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "loader: unknown mode %d", (int) mode);
    return NULL;
  }
  if (c < 1 || c > NCFM_MAX_CHANNELS) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "loader: dataset %s has %u channels; 1 .. %d are supported", name, c, NCFM_MAX_CHANNELS);
    return NULL;
  }
  if (dtype != NCFM_DTYPE_U8 && dtype != NCFM_DTYPE_F32) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "loader: dataset %s holds %s pixels; U8 or F32 are supported", name,
        ncfm_dtype_to_string (dtype));
    return NULL;
  }

  g_autoptr (NcfmLoader) self = g_object_new (NCFM_TYPE_LOADER, NULL);
  self->dataset = g_object_ref (dataset);
  self->device = g_object_ref (device);
  self->batch_size = batch_size;
  self->mode = mode;
  self->seed = seed;
  self->epochs = epochs;
  self->shuffle = shuffle;
  for (guint ch = 0; ch < c; ch++) {
    const float mean = ncfm_dataset_get_mean (dataset, ch);
    const float std = ncfm_dataset_get_std (dataset, ch);
    if (!(std > 0.0f)) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
          "loader: dataset %s has std %g for channel %u; it must be positive", name, std, ch);
      return NULL;
    }
    self->norm.scale[ch] = 1.0f / std;
    self->norm.shift[ch] = -mean / std;
  }
  if (!set_classes (self, classes, n_classes, error))
    return NULL;

  guint largest_batch;
  if (mode == NCFM_LOADER_MODE_MIXED) {
    self->batches_per_epoch = (self->pool_len + (guint64) batch_size - 1) / batch_size;
    self->images_per_epoch = self->pool_len;
    self->order = g_new (guint, self->pool_len);
    largest_batch = MIN (batch_size, self->pool_len);
  } else {
    guint largest = 0;
    self->batches_per_epoch = self->n_classes;
    for (guint j = 0; j < self->n_classes; j++) {
      self->images_per_epoch += MIN (batch_size, self->class_counts[j]);
      largest = MAX (largest, self->class_counts[j]);
    }
    self->order = g_new (guint, largest);
    largest_batch = MIN (batch_size, largest);
  }
  /* no batch is larger than the images it is drawn from: a batch size
   * beyond the dataset costs nothing, and an impossible one is an error */
  self->chw = (gsize) c * ncfm_dataset_get_height (dataset) * ncfm_dataset_get_width (dataset);
  const gsize elem = dtype == NCFM_DTYPE_U8 ? 1 : sizeof (float);
  g_autofree gchar *what = g_strdup_printf ("loader: batch-size %u of %ux%ux%u %s images",
      largest_batch, c, ncfm_dataset_get_height (dataset), ncfm_dataset_get_width (dataset),
      ncfm_dtype_to_string (dtype));
  self->host = ncfm_host_try_alloc (largest_batch, self->chw * elem, what, error);
  if (!self->host)
    return NULL;
  self->host_labels = g_new (gint32, MAX (largest_batch, 1));
  if (dtype == NCFM_DTYPE_U8) {
    gint64 shape[1] = { (gint64) ((gsize) largest_batch * self->chw) };
    self->staging = ncfm_tensor_new (device, NCFM_DTYPE_U8, shape, 1, error);
    if (!self->staging)
      return NULL;
  }
  return g_steal_pointer (&self);
}

/**
 * ncfm_loader_set_slice:
 * @self: a #NcfmLoader at its first batch
 * @index: the slice (rank), in [0, @count)
 * @count: the number of slices (ranks), >= 1
 * @error: return location for a #GError
 *
 * Restricts the loader to slice @index of @count of every class (the images
 * @index, @index + @count, ... of each class in dataset order; see
 * ncfm_shard_slice()): data-parallel ranks with the same seed and classes
 * get disjoint images and the same class in every per-class batch.
 *
 * Returns: %TRUE, or %FALSE with @error set (a class with fewer than @count
 *   images, or a loader already past its first batch); the loader is then
 *   unchanged
 */
gboolean
ncfm_loader_set_slice (NcfmLoader *self, guint index, guint count, GError **error)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), FALSE);
  g_return_val_if_fail (count >= 1 && index < count, FALSE);
  if (self->position != 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "loader: slice %u of %u set after "
        "batch %" G_GUINT64_FORMAT, index, count, self->position);
    return FALSE;
  }
  for (guint j = 0; j < self->n_classes; j++)
    if (self->class_counts[j] && self->class_counts[j] <= index) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "loader: class %u (%s) of dataset "
          "%s has %u images, too few for slice %u of %u", self->classes[j],
          ncfm_dataset_get_class_name (self->dataset, self->classes[j]),
          ncfm_dataset_get_name (self->dataset), self->class_counts[j], index, count);
      return FALSE;
    }
  const guint n = ncfm_dataset_get_n_images (self->dataset);
  g_autofree gboolean *kept = g_new0 (gboolean, MAX (n, 1));
  guint64 images = 0;
  for (guint j = 0; j < self->n_classes; j++) {
    guint m = 0;
    guint *slice = ncfm_shard_slice (self->class_images[j], self->class_counts[j], index, count,
        &m);
    for (guint i = 0; i < m; i++)
      kept[slice[i]] = TRUE;
    g_free (self->class_images[j]);
    self->class_images[j] = slice;
    self->class_counts[j] = m;
    images += MIN (self->batch_size, m);
  }
  guint len = 0;
  for (guint i = 0; i < self->pool_len; i++)
    if (kept[self->pool[i]])
      self->pool[len++] = self->pool[i];
  self->pool_len = len;
  self->order_epoch = G_MAXUINT64;
  if (self->mode == NCFM_LOADER_MODE_MIXED) {
    self->batches_per_epoch = (len + (guint64) self->batch_size - 1) / self->batch_size;
    self->images_per_epoch = len;
  } else {
    self->images_per_epoch = images;
  }
  return TRUE;
}

/* A class shard moves on to the next batch of one of its classes (at most
 * one round on: every round has one). */
static void
skip_other_shards (NcfmLoader *self)
{
  if (self->shard_count <= 1)
    return;
  while (self->position % self->batches_per_epoch % self->shard_count != self->shard_index)
    self->position++;
}

/**
 * ncfm_loader_set_class_shard:
 * @self: a per-class #NcfmLoader at its first batch
 * @index: the shard (rank), in [0, @count)
 * @count: the number of shards (ranks), >= 1
 * @error: return location for a #GError
 *
 * Restricts a per-class loader to the batches of the classes of shard
 * @index of @count (classes[@index], classes[@index + @count], ... of its
 * class list; see ncfm_shard_classes()).  The batches keep the numbers
 * (positions, round * K + the class's place in the list) and the images
 * they have in the whole run, so batch p of a shard is batch p of one
 * process delivering every class: what a class's step sees depends on the
 * seed, the class and the round only.  The positions of the other classes
 * are skipped (ncfm_loader_get_position() is always one of the shard's,
 * or the end); the total stays the whole run's.
 *
 * Returns: %TRUE, or %FALSE with @error set (a mixed loader, a shard with
 *   no class, or a loader past its first batch); the loader is then unchanged
 */
gboolean
ncfm_loader_set_class_shard (NcfmLoader *self, guint index, guint count, GError **error)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), FALSE);
  g_return_val_if_fail (count >= 1 && index < count, FALSE);
  if (self->mode != NCFM_LOADER_MODE_PER_CLASS || self->position != 0) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "loader: class shard %u of %u needs "
        "a per-class loader at its first batch (mode %s, batch %" G_GUINT64_FORMAT ")", index,
        count, ncfm_loader_mode_to_string (self->mode), self->position);
    return FALSE;
  }
  guint n = 0;
  g_autofree guint *mine = ncfm_shard_classes (self->classes, self->n_classes, index, count, &n,
      error);
  if (!mine)
    return FALSE;
  self->shard_index = index;
  self->shard_count = count;
  skip_other_shards (self);
  return TRUE;
}

/* The image indices of batch `pos` into sel[]; returns how many. */
static guint
select_batch (NcfmLoader *self, guint64 pos, const guint **sel)
{
  const guint64 bpe = self->batches_per_epoch;
  const guint64 epoch = pos / bpe, b = pos % bpe;
  if (self->mode == NCFM_LOADER_MODE_MIXED) {
    if (self->order_epoch != epoch) {
      memcpy (self->order, self->pool, self->pool_len * sizeof (guint));
      if (self->shuffle)
        ncfm_shuffle_indices (self->seed, STREAM_MIXED_EPOCH | epoch, self->order,
            self->pool_len, self->pool_len);
      self->order_epoch = epoch;
    }
    const guint64 start = b * self->batch_size;
    *sel = self->order + start;
    return (guint) MIN ((guint64) self->batch_size, self->pool_len - start);
  }
  /* per class: a fresh draw from class classes[b] */
  const guint n = self->class_counts[b], m = MIN (self->batch_size, n);
  const guint *images = self->class_images[b];
  if (self->shuffle) {
    memcpy (self->order, images, n * sizeof (guint));
    const guint64 stream = STREAM_CLASS_BATCH | (pos & ~(G_GUINT64_CONSTANT (0xff) << 56));
    ncfm_shuffle_indices (self->seed, stream, self->order, n, m);
  } else {
    /* round `epoch` of this class starts at epoch * B (mod n), wrapping */
    const guint64 start = (epoch % n) * (self->batch_size % n) % n;
    for (guint i = 0; i < m; i++)
      self->order[i] = images[(start + i) % n];
  }
  *sel = self->order;
  return m;
}

/**
 * ncfm_loader_next:
 * @self: a #NcfmLoader
 * @images: (out) (transfer full) (optional) (nullable): the normalised
 *   images, F32 [B', C, H, W] on the loader's device (B' = B, or fewer for a
 *   small class or the last batch of a mixed epoch)
 * @labels: (out) (transfer full) (optional) (nullable): their labels, I32 [B']
 * @error: return location for a #GError
 *
 * Delivers the next batch and advances the position.
 *
 * Returns: %TRUE with a batch; %FALSE with @error unset at the end (after
 *   the last epoch), %FALSE with @error set on failure
 */
gboolean
ncfm_loader_next (NcfmLoader *self, NcfmTensor **images, NcfmTensor **labels, GError **error)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), FALSE);
  if (images)
    *images = NULL;
  if (labels)
    *labels = NULL;
  if (self->epochs && self->position >= self->epochs * self->batches_per_epoch)
    return FALSE;

  const guint *sel;
  const guint m = select_batch (self, self->position, &sel);
  g_assert (self->shard_count == 1 || self->mode != NCFM_LOADER_MODE_PER_CLASS
      || (self->position % self->batches_per_epoch) % self->shard_count == self->shard_index);
  const gboolean u8 = ncfm_dataset_get_dtype (self->dataset) == NCFM_DTYPE_U8;
  const gsize row = self->chw * (u8 ? 1 : sizeof (float));
  const gint32 *all_labels = ncfm_dataset_peek_labels (self->dataset);
  for (guint i = 0; i < m; i++) {
    memcpy (self->host + i * row, ncfm_dataset_peek_image (self->dataset, sel[i]), row);
    self->host_labels[i] = all_labels[sel[i]];
  }

  const guint c = ncfm_dataset_get_channels (self->dataset);
  gint64 shape[4] = { m, c, ncfm_dataset_get_height (self->dataset),
    ncfm_dataset_get_width (self->dataset) };
  g_autoptr (NcfmTensor) x = ncfm_tensor_new (self->device, NCFM_DTYPE_F32, shape, 4, error);
  g_autoptr (NcfmTensor) y = x ? ncfm_tensor_new_from_data (self->device, NCFM_DTYPE_I32, shape, 1,
      (const guint8 *) self->host_labels, m * sizeof (gint32), error) : NULL;
  if (!y)
    return FALSE;
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  const gsize count = (gsize) m * self->chw;
  if (u8) {
    guint8 *stage = ncfm_tensor_get_data (self->staging);
    be->ops->upload (be, stage, self->host, count);
    be->ops->u8_to_f32 (be, count, 1.0f / 255.0f, stage, ncfm_tensor_f32 (x));
  } else {
    be->ops->upload (be, ncfm_tensor_f32 (x), self->host, count * sizeof (float));
  }
  be->ops->channel_affine (be, (int) m, (int) c, (int) (self->chw / c), self->norm,
      ncfm_tensor_f32 (x), ncfm_tensor_f32 (x));
  self->position++;
  skip_other_shards (self);
  if (images)
    *images = g_steal_pointer (&x);
  if (labels)
    *labels = g_steal_pointer (&y);
  return TRUE;
}

/**
 * ncfm_loader_seek:
 * @self: a #NcfmLoader
 * @position: the batch to deliver next (0 = the start)
 * @error: return location for a #GError
 *
 * Moves to batch @position (counted over all epochs); the batches from there
 * on are the ones an uninterrupted run delivers.  @position may equal the
 * total (the end).
 *
 * Returns: %TRUE, or %FALSE with @error set when @position is past the end
 */
gboolean
ncfm_loader_seek (NcfmLoader *self, guint64 position, GError **error)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), FALSE);
  if (self->epochs && position > self->epochs * self->batches_per_epoch) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "loader: cannot seek to batch %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT, position,
        self->epochs * self->batches_per_epoch);
    return FALSE;
  }
  self->position = position;
  skip_other_shards (self);
  return TRUE;
}

/**
 * ncfm_loader_get_dataset:
 * @self: a #NcfmLoader
 *
 * Returns: (transfer none): the dataset
 */
NcfmDataset *
ncfm_loader_get_dataset (NcfmLoader *self)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), NULL);
  return self->dataset;
}

/**
 * ncfm_loader_get_device:
 * @self: a #NcfmLoader
 *
 * Returns: (transfer none): the device the batches are delivered on
 */
NcfmDevice *
ncfm_loader_get_device (NcfmLoader *self)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), NULL);
  return self->device;
}

/**
 * ncfm_loader_get_mode:
 * @self: a #NcfmLoader
 *
 * Returns: how batches are formed
 */
NcfmLoaderMode
ncfm_loader_get_mode (NcfmLoader *self)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), NCFM_LOADER_MODE_PER_CLASS);
  return self->mode;
}

/**
 * ncfm_loader_get_batch_size:
 * @self: a #NcfmLoader
 *
 * Returns: the batch size B
 */
guint
ncfm_loader_get_batch_size (NcfmLoader *self)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), 0);
  return self->batch_size;
}

/**
 * ncfm_loader_get_classes:
 * @self: a #NcfmLoader
 * @n_classes: (out): how many
 *
 * Returns: (array length=n_classes) (transfer none): the classes delivered,
 *   in per-class order
 */
const guint *
ncfm_loader_get_classes (NcfmLoader *self, guint *n_classes)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), NULL);
  *n_classes = self->n_classes;
  return self->classes;
}

/**
 * ncfm_loader_get_position:
 * @self: a #NcfmLoader
 *
 * Returns: the number of the next batch (batches delivered since the start,
 *   over all epochs)
 */
guint64
ncfm_loader_get_position (NcfmLoader *self)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), 0);
  return self->position;
}

/**
 * ncfm_loader_get_epoch:
 * @self: a #NcfmLoader
 *
 * Returns: the epoch of the next batch, from 0
 */
guint64
ncfm_loader_get_epoch (NcfmLoader *self)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), 0);
  return self->position / self->batches_per_epoch;
}

/**
 * ncfm_loader_get_batches_per_epoch:
 * @self: a #NcfmLoader
 *
 * Returns: batches in one epoch: ceil(N / B) in mixed mode, the number of
 *   classes in per-class mode (one round)
 */
guint64
ncfm_loader_get_batches_per_epoch (NcfmLoader *self)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), 0);
  return self->batches_per_epoch;
}

/**
 * ncfm_loader_get_images_per_epoch:
 * @self: a #NcfmLoader
 *
 * Returns: images in one epoch: the images of the subset in mixed mode, the
 *   sum over classes of min(B, class size) in per-class mode
 */
guint64
ncfm_loader_get_images_per_epoch (NcfmLoader *self)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), 0);
  return self->images_per_epoch;
}

/**
 * ncfm_loader_get_total:
 * @self: a #NcfmLoader
 *
 * Returns: the number of batches the loader delivers (epochs times batches
 *   per epoch), or -1 when it loops forever
 */
gint64
ncfm_loader_get_total (NcfmLoader *self)
{
  g_return_val_if_fail (NCFM_IS_LOADER (self), -1);
  return self->epochs ? (gint64) (self->epochs * self->batches_per_epoch) : -1;
}
