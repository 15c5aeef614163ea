/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-dataset-private.h: what the dataset readers (ncfm-dataset-*.c) share
 * with ncfm-dataset.c.  A reader fills an NcfmDatasetParts; ncfm-dataset.c
 * validates it, settles the mean/std and wraps it in an NcfmDataset. */
#ifndef NCFM_DATASET_PRIVATE_H
#define NCFM_DATASET_PRIVATE_H

#include "ncfm-dataset.h"
#include "ncfm-safetensors.h"

G_BEGIN_DECLS

/* The normalisation path (NcfmChannelAffine) handles at most 4 channels. */
#define NCFM_DATASET_MAX_CHANNELS 4

/* Entries of the method card's mean/std table. */
typedef enum {
  NCFM_DATASET_STATS_NONE,        /* not recognised: computed over the pixels */
  NCFM_DATASET_STATS_CIFAR,       /* CIFAR-10 and CIFAR-100 */
  NCFM_DATASET_STATS_FASHION_MNIST,
  NCFM_DATASET_STATS_MNIST,
  NCFM_DATASET_STATS_IMAGENET,    /* ImageNet subsets, Tiny ImageNet */
} NcfmDatasetStats;

typedef struct {
  gchar *name;
  NcfmDType dtype;                /* U8 or F32 */
  guint n, c, h, w;
  GBytes *images;                 /* [n, c, h, w] */
  GBytes *labels;                 /* gint32 [n], host byte order */
  gchar **class_names;            /* NULL-terminated; its length is the class count */
  NcfmDatasetStats known;         /* the table entry when the dataset is recognised */
  gboolean have_stats;            /* mean/std below are set (cache, synset metadata) */
  gfloat mean[NCFM_DATASET_MAX_CHANNELS], std[NCFM_DATASET_MAX_CHANNELS];
  guint n_skipped;                /* ImageFolder: files skipped as undecodable */
  gboolean from_cache;            /* ImageFolder: pixels came from the decoded cache */
} NcfmDatasetParts;

/* ncfm-dataset.c */
void ncfm_dataset_parts_clear (NcfmDatasetParts *parts);
/* Takes what @parts holds (cleared on return, success or not); @source names
 * the location in messages. */
NcfmDataset *ncfm_dataset_new_from_parts (NcfmDatasetParts *parts, NcfmDatasetFormat format,
    const gchar *source, GError **error);

/* ncfm-dataset-load.c */
gboolean ncfm_dataset_table_stats (NcfmDatasetStats known, guint channels, gfloat *mean,
    gfloat *std);
NcfmDatasetStats ncfm_dataset_stats_from_name (const gchar *name);
void ncfm_dataset_compute_stats (NcfmDType dtype, gconstpointer pixels, guint n, guint c,
    gsize hw, gfloat *mean, gfloat *std);

/* The readers: on failure they return FALSE with @error set and leave
 * nothing allocated in @out. */
gboolean ncfm_dataset_read_idx (const gchar *dir, const gchar *split, NcfmDatasetParts *out,
    GError **error);
gboolean ncfm_dataset_read_cifar10 (const gchar *dir, const gchar *split, NcfmDatasetParts *out,
    GError **error);
gboolean ncfm_dataset_read_cifar100 (const gchar *dir, const gchar *split, gboolean coarse,
    NcfmDatasetParts *out, GError **error);
gboolean ncfm_dataset_read_imagefolder (const gchar *root, const gchar *split,
    guint image_size, NcfmDatasetFlags flags, const gchar *cache_dir, NcfmDatasetParts *out,
    GError **error);
gboolean ncfm_dataset_read_synset (const gchar *file, NcfmDatasetParts *out, GError **error);

/* ncfm-synset.c: the labels of a synthetic set as gint64 [n] (I64 or I32
 * [n], each in [0, n_classes) when n_classes > 0), or NULL with @error set
 * (NCFM_SYNSET_ERROR). */
gint64 *ncfm_synset_read_labels (NcfmSafetensors *set, const gchar *file, gint64 n,
    guint n_classes, GError **error);
/* The c numbers of JSON array metadata @key (ncfm.mean, ncfm.std) into @out;
 * *have FALSE when the key is absent.  FALSE with @error set when it does
 * not parse or has another length. */
gboolean ncfm_synset_read_stats (NcfmSafetensors *set, const gchar *file, const gchar *key,
    guint c, gfloat *out, gboolean *have, GError **error);

/* ncfm-dataset-decode.c: one JPEG or PNG file (recognised by its magic bytes)
 * to 8-bit RGB, [height, width, 3] interleaved, g_malloc'd.  FALSE with a
 * g_malloc'd reason in @why. */
gboolean ncfm_dataset_decode_image (const guint8 *data, gsize len, guint8 **rgb,
    guint *width, guint *height, gchar **why);

/* ncfm-dataset-cache.c: the decoded ImageFolder cache. */
/* 64-bit hash (xxh64-like, 4 lanes of 8 bytes): cache keys and checksums. */
guint64 ncfm_dataset_hash64 (gconstpointer data, gsize len, guint64 seed);
/* The cache file of one request (root, split, image size hashed into
 * @location_key) in @cache_dir, or $XDG_CACHE_HOME/gst-ncfm when NULL. */
gchar *ncfm_dataset_cache_path (const gchar *cache_dir, guint64 location_key);
/* TRUE and @out filled (pixels mapped) on a valid cache whose content key is
 * @key; FALSE (a g_info says why, unless the file just does not exist)
 * otherwise. */
gboolean ncfm_dataset_cache_load (const gchar *path, guint64 key, NcfmDatasetParts *out);
gboolean ncfm_dataset_cache_save (const gchar *path, guint64 key, const NcfmDatasetParts *parts,
    GError **error);

G_END_DECLS
#endif
