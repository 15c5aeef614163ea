/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-dataset
 * @title: NcfmDataset
 * @short_description: labelled image sets: IDX, CIFAR binary, ImageFolder, synthetic sets
 *
 * An #NcfmDataset is one split of a labelled image set held in memory as
 * [N, C, H, W] pixels (uint8 for real data, float32 in [0,1] for a synthetic
 * set: no float copy of a real set is ever made) plus int32 labels, the class
 * names and the per-channel mean/std used to normalise it.
 *
 * Readers: IDX (MNIST / Fashion-MNIST, raw or .gz; 1 channel), CIFAR-10 and
 * CIFAR-100 binary (3 channels), ImageFolder trees of JPEG/PNG files
 * (`root/split/class/file`, class index = position of the class folder in
 * sorted order; always decoded to 3 channels, grey images are replicated,
 * alpha is dropped; decoded once into a cache that later loads map), and
 * synthetic sets written by gst-ncfm (multi-formation decoded on load).
 *
 * The mean/std come from the method card's table when the dataset is
 * recognised (CIFAR-10/100, Fashion-MNIST, MNIST, ImageNet subsets), else
 * they are computed over the split's pixels.
 */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-dataset-private.h"

#include <math.h>
#include <string.h>

struct _NcfmDataset {
  GObject parent_instance;
  gchar *name;
  NcfmDatasetFormat format;
  NcfmDType dtype;
  guint n, c, h, w;
  GBytes *images, *labels;
  const gint32 *label_data;
  gchar **class_names;
  guint num_classes;
  gfloat mean[NCFM_DATASET_MAX_CHANNELS], std[NCFM_DATASET_MAX_CHANNELS];
  guint n_skipped;
  gboolean from_cache;
  guint *class_start;             /* [num_classes + 1] offsets into class_members */
  guint *class_members;           /* [n] image indices grouped by class, ascending */
};

G_DEFINE_FINAL_TYPE (NcfmDataset, ncfm_dataset, G_TYPE_OBJECT)
G_DEFINE_QUARK (ncfm-dataset-error-quark, ncfm_dataset_error)

static void
ncfm_dataset_finalize (GObject *object)
{
  NcfmDataset *self = NCFM_DATASET (object);

  g_free (self->name);
  g_clear_pointer (&self->images, g_bytes_unref);
  g_clear_pointer (&self->labels, g_bytes_unref);
  g_strfreev (self->class_names);
  g_free (self->class_start);
  g_free (self->class_members);
  G_OBJECT_CLASS (ncfm_dataset_parent_class)->finalize (object);
}

static void
ncfm_dataset_class_init (NcfmDatasetClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_dataset_finalize;
}

static void
ncfm_dataset_init (NcfmDataset *self)
{
  (void) self;
}

void
ncfm_dataset_parts_clear (NcfmDatasetParts *parts)
{
  g_clear_pointer (&parts->name, g_free);
  g_clear_pointer (&parts->images, g_bytes_unref);
  g_clear_pointer (&parts->labels, g_bytes_unref);
  g_clear_pointer (&parts->class_names, g_strfreev);
}

/* Takes everything in @parts (cleared on return), checks it is consistent and
 * settles the mean/std. */
NcfmDataset *
ncfm_dataset_new_from_parts (NcfmDatasetParts *parts, NcfmDatasetFormat format, const gchar *source,
    GError **error)
{
  g_autoptr (NcfmDataset) self = NULL;
  gsize px_bytes, n_bytes;

  if (parts->dtype != NCFM_DTYPE_U8 && parts->dtype != NCFM_DTYPE_F32) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: pixels must be U8 or F32, not %s", source, ncfm_dtype_to_string (parts->dtype));
    goto fail;
  }
  if (parts->c < 1 || parts->c > NCFM_DATASET_MAX_CHANNELS || parts->h < 1 || parts->w < 1
      || parts->h > 65536 || parts->w > 65536) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: unsupported image shape %ux%ux%u (1 to %d channels)", source, parts->c,
        parts->h, parts->w, NCFM_DATASET_MAX_CHANNELS);
    goto fail;
  }
  if (parts->n == 0) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_EMPTY, "%s: no images", source);
    goto fail;
  }
  px_bytes = (gsize) parts->n * parts->c * parts->h * parts->w * ncfm_dtype_size (parts->dtype);
  if (!parts->images || g_bytes_get_size (parts->images) != px_bytes) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: %" G_GSIZE_FORMAT " bytes of pixels, expected %" G_GSIZE_FORMAT
        " for %u images of %ux%ux%u %s", source,
        parts->images ? g_bytes_get_size (parts->images) : 0, px_bytes, parts->n, parts->c,
        parts->h, parts->w, ncfm_dtype_to_string (parts->dtype));
    goto fail;
  }
  if (!parts->labels || g_bytes_get_size (parts->labels) != (gsize) parts->n * 4) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_LABELS,
        "%s: %" G_GSIZE_FORMAT " labels for %u images", source,
        parts->labels ? g_bytes_get_size (parts->labels) / 4 : 0, parts->n);
    goto fail;
  }

  self = g_object_new (NCFM_TYPE_DATASET, NULL);
  self->label_data = g_bytes_get_data (parts->labels, &n_bytes);
  if (!parts->class_names) {
    /* classes "0".."K-1", K = largest label + 1 */
    gint32 max = -1;
    for (guint i = 0; i < parts->n; i++)
      max = MAX (max, self->label_data[i]);
    if (max < 0 || max >= 1 << 20) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_LABELS,
          "%s: labels must lie in [0, 2^20) when no class names are given", source);
      goto fail;
    }
    parts->class_names = g_new0 (gchar *, max + 2);
    for (gint32 k = 0; k <= max; k++)
      parts->class_names[k] = g_strdup_printf ("%d", k);
  }
  self->num_classes = g_strv_length (parts->class_names);
  if (self->num_classes == 0) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_LABELS, "%s: no classes", source);
    goto fail;
  }
  self->class_start = g_new0 (guint, self->num_classes + 1);
  for (guint i = 0; i < parts->n; i++) {
    gint32 y = self->label_data[i];
    if (y < 0 || (guint) y >= self->num_classes) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_LABELS,
          "%s: label %d of image %u is outside [0, %u)", source, y, i, self->num_classes);
      goto fail;
    }
    self->class_start[y + 1]++;
  }
  for (guint k = 0; k < self->num_classes; k++)
    self->class_start[k + 1] += self->class_start[k];
  {
    g_autofree guint *fill = g_memdup2 (self->class_start, self->num_classes * sizeof (guint));
    self->class_members = g_new (guint, parts->n);
    for (guint i = 0; i < parts->n; i++)
      self->class_members[fill[self->label_data[i]]++] = i;
  }

  /* the table first, then stats the reader brought (cache, synset metadata) */
  if (!ncfm_dataset_table_stats (parts->known, parts->c, self->mean, self->std)) {
    if (parts->have_stats) {
      memcpy (self->mean, parts->mean, sizeof self->mean);
      memcpy (self->std, parts->std, sizeof self->std);
    } else {
      ncfm_dataset_compute_stats (parts->dtype, g_bytes_get_data (parts->images, NULL),
          parts->n, parts->c, (gsize) parts->h * parts->w, self->mean, self->std);
    }
  }
  for (guint ch = 0; ch < parts->c; ch++)
    if (!(self->std[ch] > 0.0f) || !isfinite (self->mean[ch])) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
          "%s: invalid mean/std of channel %u (%g, %g)", source, ch, self->mean[ch],
          self->std[ch]);
      goto fail;
    }

  self->name = g_steal_pointer (&parts->name);
  if (!self->name)
    self->name = g_path_get_basename (source);
  self->format = format;
  self->dtype = parts->dtype;
  self->n = parts->n;
  self->c = parts->c;
  self->h = parts->h;
  self->w = parts->w;
  self->images = g_steal_pointer (&parts->images);
  self->labels = g_steal_pointer (&parts->labels);
  self->class_names = g_steal_pointer (&parts->class_names);
  self->n_skipped = parts->n_skipped;
  self->from_cache = parts->from_cache;
  ncfm_dataset_parts_clear (parts);
  return g_steal_pointer (&self);

fail:
  ncfm_dataset_parts_clear (parts);
  return NULL;
}

/**
 * ncfm_dataset_new_from_data:
 * @name: the dataset's name (used for messages and metadata)
 * @dtype: %NCFM_DTYPE_U8 (0..255) or %NCFM_DTYPE_F32 (in [0,1])
 * @n: number of images
 * @channels: channels per image (1 to 4)
 * @height: image height
 * @width: image width
 * @images: pixels, [@n, @channels, @height, @width] of @dtype (referenced, not copied)
 * @labels: int32 labels in host byte order, [@n] (referenced, not copied)
 * @class_names: (array zero-terminated=1) (nullable): the class names (their
 *   number is the class count), or %NULL for "0".."K-1", K = largest label + 1
 * @mean: (array fixed-size=4) (nullable): per-channel mean (only the first
 *   @channels entries are read), or %NULL to compute it (with @std) over @images
 * @std: (array fixed-size=4) (nullable): per-channel standard deviation, or %NULL
 * @error: return location for a #GError
 *
 * Wraps images already in memory as a dataset (format %NCFM_DATASET_FORMAT_AUTO).
 *
 * Returns: (transfer full) (nullable): the dataset, or %NULL with @error set
 *   when the sizes disagree or a label is out of range
 */
NcfmDataset *
ncfm_dataset_new_from_data (const gchar *name, NcfmDType dtype, guint n, guint channels,
    guint height, guint width, GBytes *images, GBytes *labels,
    const gchar *const *class_names, const gfloat *mean, const gfloat *std, GError **error)
{
  NcfmDatasetParts parts = { 0 };

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (images != NULL && labels != NULL, NULL);
  g_return_val_if_fail ((mean == NULL) == (std == NULL), NULL);
  parts.name = g_strdup (name);
  parts.dtype = dtype;
  parts.n = n;
  parts.c = channels;
  parts.h = height;
  parts.w = width;
  parts.images = g_bytes_ref (images);
  parts.labels = g_bytes_ref (labels);
  parts.class_names = g_strdupv ((gchar **) class_names);
  if (mean && channels <= NCFM_DATASET_MAX_CHANNELS) {
    parts.have_stats = TRUE;
    memcpy (parts.mean, mean, channels * sizeof (gfloat));
    memcpy (parts.std, std, channels * sizeof (gfloat));
  }
  return ncfm_dataset_new_from_parts (&parts, NCFM_DATASET_FORMAT_AUTO, name, error);
}

/**
 * ncfm_dataset_get_name:
 * @self: a #NcfmDataset
 *
 * Returns: (transfer none): "fashion-mnist", "mnist", "cifar10", "cifar100",
 *   the ImageFolder root's name, or a synthetic set's source dataset name
 */
const gchar *
ncfm_dataset_get_name (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), NULL);
  return self->name;
}

/**
 * ncfm_dataset_get_format:
 * @self: a #NcfmDataset
 *
 * Returns: the format it was read from (%NCFM_DATASET_FORMAT_AUTO when built from memory)
 */
NcfmDatasetFormat
ncfm_dataset_get_format (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), NCFM_DATASET_FORMAT_AUTO);
  return self->format;
}

/**
 * ncfm_dataset_get_dtype:
 * @self: a #NcfmDataset
 *
 * Returns: %NCFM_DTYPE_U8 (pixels 0..255) or %NCFM_DTYPE_F32 (pixels in [0,1])
 */
NcfmDType
ncfm_dataset_get_dtype (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), NCFM_DTYPE_U8);
  return self->dtype;
}

/**
 * ncfm_dataset_get_n_images:
 * @self: a #NcfmDataset
 *
 * Returns: the number of images (for a multi-formation synthetic set, after decoding)
 */
guint
ncfm_dataset_get_n_images (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), 0);
  return self->n;
}

/**
 * ncfm_dataset_get_channels:
 * @self: a #NcfmDataset
 *
 * Returns: channels per image (1 for IDX, 3 for CIFAR and ImageFolder)
 */
guint
ncfm_dataset_get_channels (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), 0);
  return self->c;
}

/**
 * ncfm_dataset_get_height:
 * @self: a #NcfmDataset
 *
 * Returns: image height in pixels
 */
guint
ncfm_dataset_get_height (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), 0);
  return self->h;
}

/**
 * ncfm_dataset_get_width:
 * @self: a #NcfmDataset
 *
 * Returns: image width in pixels
 */
guint
ncfm_dataset_get_width (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), 0);
  return self->w;
}

/**
 * ncfm_dataset_get_num_classes:
 * @self: a #NcfmDataset
 *
 * Returns: the number of classes; every label lies in [0, classes)
 */
guint
ncfm_dataset_get_num_classes (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), 0);
  return self->num_classes;
}

/**
 * ncfm_dataset_get_class_name:
 * @self: a #NcfmDataset
 * @class_id: a class index
 *
 * Returns: (transfer none) (nullable): the class name, %NULL if @class_id is out of range
 */
const gchar *
ncfm_dataset_get_class_name (NcfmDataset *self, guint class_id)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), NULL);
  return class_id < self->num_classes ? self->class_names[class_id] : NULL;
}

/**
 * ncfm_dataset_get_mean:
 * @self: a #NcfmDataset
 * @channel: a channel index
 *
 * Returns: the channel's mean pixel value in [0,1] units (0 if out of range)
 */
gfloat
ncfm_dataset_get_mean (NcfmDataset *self, guint channel)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), 0.0f);
  return channel < self->c ? self->mean[channel] : 0.0f;
}

/**
 * ncfm_dataset_get_std:
 * @self: a #NcfmDataset
 * @channel: a channel index
 *
 * Returns: the channel's standard deviation in [0,1] units (1 if out of range)
 */
gfloat
ncfm_dataset_get_std (NcfmDataset *self, guint channel)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), 1.0f);
  return channel < self->c ? self->std[channel] : 1.0f;
}

/**
 * ncfm_dataset_get_n_skipped:
 * @self: a #NcfmDataset
 *
 * Returns: ImageFolder: how many files were skipped as corrupt or not images
 */
guint
ncfm_dataset_get_n_skipped (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), 0);
  return self->n_skipped;
}

/**
 * ncfm_dataset_get_from_cache:
 * @self: a #NcfmDataset
 *
 * Returns: %TRUE when the pixels were mapped from the ImageFolder decoded
 *   cache rather than decoded
 */
gboolean
ncfm_dataset_get_from_cache (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), FALSE);
  return self->from_cache;
}

/**
 * ncfm_dataset_get_label:
 * @self: a #NcfmDataset
 * @index: an image index
 *
 * Returns: the label of image @index, -1 if @index is out of range
 */
gint32
ncfm_dataset_get_label (NcfmDataset *self, guint index)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), -1);
  return index < self->n ? self->label_data[index] : -1;
}

/**
 * ncfm_dataset_get_images:
 * @self: a #NcfmDataset
 *
 * Returns: (transfer full): all pixels, [N, C, H, W] of ncfm_dataset_get_dtype()
 */
GBytes *
ncfm_dataset_get_images (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), NULL);
  return g_bytes_ref (self->images);
}

/**
 * ncfm_dataset_get_labels:
 * @self: a #NcfmDataset
 *
 * Returns: (transfer full): all labels, int32 [N] in host byte order
 */
GBytes *
ncfm_dataset_get_labels (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), NULL);
  return g_bytes_ref (self->labels);
}

/**
 * ncfm_dataset_get_class_indices:
 * @self: a #NcfmDataset
 * @class_id: a class index
 * @n_indices: (out): the number of images of the class
 *
 * Returns: (transfer full) (array length=n_indices) (nullable): the indices
 *   of the images of class @class_id, ascending; %NULL if there are none
 */
guint *
ncfm_dataset_get_class_indices (NcfmDataset *self, guint class_id, guint *n_indices)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), NULL);
  g_return_val_if_fail (n_indices != NULL, NULL);
  *n_indices = 0;
  if (class_id >= self->num_classes)
    return NULL;
  *n_indices = self->class_start[class_id + 1] - self->class_start[class_id];
  if (*n_indices == 0)
    return NULL;
  return g_memdup2 (self->class_members + self->class_start[class_id],
      *n_indices * sizeof (guint));
}

/**
 * ncfm_dataset_peek_image: (skip)
 * @self: a #NcfmDataset
 * @index: an image index
 *
 * Returns: the pixels of image @index, [C, H, W] of ncfm_dataset_get_dtype(),
 *   valid while @self lives; %NULL if @index is out of range
 */
gconstpointer
ncfm_dataset_peek_image (NcfmDataset *self, guint index)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), NULL);
  if (index >= self->n)
    return NULL;
  return (const guint8 *) g_bytes_get_data (self->images, NULL)
      + (gsize) index * self->c * self->h * self->w * ncfm_dtype_size (self->dtype);
}

/**
 * ncfm_dataset_peek_labels: (skip)
 * @self: a #NcfmDataset
 *
 * Returns: all labels, int32 [N], valid while @self lives
 */
const gint32 *
ncfm_dataset_peek_labels (NcfmDataset *self)
{
  g_return_val_if_fail (NCFM_IS_DATASET (self), NULL);
  return self->label_data;
}
