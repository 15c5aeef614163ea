/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_DATASET_H
#define NCFM_DATASET_H

#include <glib-object.h>
#include "ncfm-dtype.h"

G_BEGIN_DECLS

/**
 * NCFM_DATASET_ERROR:
 *
 * Error domain of the dataset readers.  Messages name the file (and the
 * offset, entry or field) at fault.
 */
#define NCFM_DATASET_ERROR (ncfm_dataset_error_quark ())
GQuark ncfm_dataset_error_quark (void);

/**
 * NcfmDatasetError:
 * @NCFM_DATASET_ERROR_NOT_FOUND: the location, split or a required file does not exist
 * @NCFM_DATASET_ERROR_FORMAT: wrong magic number, bad header, truncated file, inconsistent sizes
 * @NCFM_DATASET_ERROR_LABELS: label count differs from image count, or a label is out of range
 * @NCFM_DATASET_ERROR_IMAGE: an image cannot be decoded (strict mode) or has the wrong channels
 * @NCFM_DATASET_ERROR_EMPTY: no images, or an empty class folder
 * @NCFM_DATASET_ERROR_CACHE: the decoded cache cannot be written (reading a bad one just rebuilds it)
 */
typedef enum {
  NCFM_DATASET_ERROR_NOT_FOUND,
  NCFM_DATASET_ERROR_FORMAT,
  NCFM_DATASET_ERROR_LABELS,
  NCFM_DATASET_ERROR_IMAGE,
  NCFM_DATASET_ERROR_EMPTY,
  NCFM_DATASET_ERROR_CACHE,
} NcfmDatasetError;

/**
 * NcfmDatasetFormat:
 * @NCFM_DATASET_FORMAT_AUTO: guess from the location
 * @NCFM_DATASET_FORMAT_IDX: MNIST / Fashion-MNIST IDX files (raw or .gz) in a directory
 * @NCFM_DATASET_FORMAT_CIFAR10: CIFAR-10 binary batches in a directory
 * @NCFM_DATASET_FORMAT_CIFAR100: CIFAR-100 binary (train.bin / test.bin; fine labels by default)
 * @NCFM_DATASET_FORMAT_IMAGEFOLDER: root/split/class/file JPEG and PNG images
 * @NCFM_DATASET_FORMAT_SYNSET: a synthetic set written by gst-ncfm (.safetensors)
 */
typedef enum {
  NCFM_DATASET_FORMAT_AUTO,
  NCFM_DATASET_FORMAT_IDX,
  NCFM_DATASET_FORMAT_CIFAR10,
  NCFM_DATASET_FORMAT_CIFAR100,
  NCFM_DATASET_FORMAT_IMAGEFOLDER,
  NCFM_DATASET_FORMAT_SYNSET,
} NcfmDatasetFormat;

const gchar *ncfm_dataset_format_to_string (NcfmDatasetFormat format);
gboolean ncfm_dataset_format_from_string (const gchar *name, NcfmDatasetFormat *format);
gboolean ncfm_dataset_known_stats (const gchar *name, guint *channels, gfloat *mean,
    gfloat *std);

/**
 * NcfmDatasetFlags:
 * @NCFM_DATASET_FLAGS_NONE: defaults
 * @NCFM_DATASET_FLAGS_STRICT: ImageFolder: a corrupt or non-image file is an error instead
 *   of a warning (the default skips it and counts it)
 * @NCFM_DATASET_FLAGS_NO_CACHE: ImageFolder: neither read nor write the decoded cache
 * @NCFM_DATASET_FLAGS_COARSE_LABELS: CIFAR-100: the 20 coarse labels instead of the 100 fine ones
 */
typedef enum {
  NCFM_DATASET_FLAGS_NONE = 0,
  NCFM_DATASET_FLAGS_STRICT = 1 << 0,
  NCFM_DATASET_FLAGS_NO_CACHE = 1 << 1,
  NCFM_DATASET_FLAGS_COARSE_LABELS = 1 << 2,
} NcfmDatasetFlags;

/* Fashion-MNIST as installed by Debian's dataset-fashion-mnist: the default dataset. */
#define NCFM_DEFAULT_DATASET "/usr/share/datasets/fashion-mnist"

#define NCFM_TYPE_DATASET (ncfm_dataset_get_type ())
G_DECLARE_FINAL_TYPE (NcfmDataset, ncfm_dataset, NCFM, DATASET, GObject)

NcfmDataset *ncfm_dataset_load (const gchar *location, NcfmDatasetFormat format,
    const gchar *split, guint image_size, NcfmDatasetFlags flags, const gchar *cache_dir,
    GError **error);
NcfmDataset *ncfm_dataset_new_from_data (const gchar *name, NcfmDType dtype, guint n,
    guint channels, guint height, guint width, GBytes *images, GBytes *labels,
    const gchar *const *class_names, const gfloat *mean, const gfloat *std, GError **error);

const gchar *ncfm_dataset_get_name (NcfmDataset *self);
NcfmDatasetFormat ncfm_dataset_get_format (NcfmDataset *self);
NcfmDType ncfm_dataset_get_dtype (NcfmDataset *self);
guint ncfm_dataset_get_n_images (NcfmDataset *self);
guint ncfm_dataset_get_channels (NcfmDataset *self);
guint ncfm_dataset_get_height (NcfmDataset *self);
guint ncfm_dataset_get_width (NcfmDataset *self);
guint ncfm_dataset_get_num_classes (NcfmDataset *self);
const gchar *ncfm_dataset_get_class_name (NcfmDataset *self, guint class_id);
gfloat ncfm_dataset_get_mean (NcfmDataset *self, guint channel);
gfloat ncfm_dataset_get_std (NcfmDataset *self, guint channel);
guint ncfm_dataset_get_n_skipped (NcfmDataset *self);
gboolean ncfm_dataset_get_from_cache (NcfmDataset *self);
gint32 ncfm_dataset_get_label (NcfmDataset *self, guint index);
GBytes *ncfm_dataset_get_images (NcfmDataset *self);
GBytes *ncfm_dataset_get_labels (NcfmDataset *self);
guint *ncfm_dataset_get_class_indices (NcfmDataset *self, guint class_id, guint *n_indices);

#ifndef __GI_SCANNER__
/* Pixels of image `index` (C only): U8 or F32, [channels, height, width]. */
gconstpointer ncfm_dataset_peek_image (NcfmDataset *self, guint index);
/* All labels (C only), [n_images]. */
const gint32 *ncfm_dataset_peek_labels (NcfmDataset *self);
#endif

G_END_DECLS
#endif
