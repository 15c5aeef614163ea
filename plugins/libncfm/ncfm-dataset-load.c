/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-dataset-load.c: ncfm_dataset_load(): guessing the format, dispatching
 * to the readers, and the mean/std table of the method card. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-dataset-private.h"

#include <math.h>
#include <string.h>

static const gchar *const format_names[] = {
  [NCFM_DATASET_FORMAT_AUTO] = "auto",
  [NCFM_DATASET_FORMAT_IDX] = "idx",
  [NCFM_DATASET_FORMAT_CIFAR10] = "cifar10",
  [NCFM_DATASET_FORMAT_CIFAR100] = "cifar100",
  [NCFM_DATASET_FORMAT_IMAGEFOLDER] = "imagefolder",
  [NCFM_DATASET_FORMAT_SYNSET] = "synset",
};

/* The method card, section 1. */
static const struct {
  guint channels;
  gfloat mean[3], std[3];
} stats_table[] = {
  [NCFM_DATASET_STATS_CIFAR] = { 3, { 0.4914f, 0.4822f, 0.4465f }, { 0.2023f, 0.1994f, 0.2010f } },
  [NCFM_DATASET_STATS_FASHION_MNIST] = { 1, { 0.2861f }, { 0.3530f } },
  [NCFM_DATASET_STATS_MNIST] = { 1, { 0.1307f }, { 0.3081f } },
  [NCFM_DATASET_STATS_IMAGENET] = { 3, { 0.485f, 0.456f, 0.406f }, { 0.229f, 0.224f, 0.225f } },
};

/**
 * ncfm_dataset_format_to_string:
 * @format: a #NcfmDatasetFormat
 *
 * Returns: (transfer none): "auto", "idx", "cifar10", "cifar100", "imagefolder" or "synset"
 */
const gchar *
ncfm_dataset_format_to_string (NcfmDatasetFormat format)
{
  if ((guint) format >= G_N_ELEMENTS (format_names))
    return "unknown";
  return format_names[format];
}

/**
 * ncfm_dataset_format_from_string:
 * @name: a name as returned by ncfm_dataset_format_to_string() (case-insensitive)
 * @format: (out): the parsed value
 *
 * Returns: %TRUE if @name is known
 */
gboolean
ncfm_dataset_format_from_string (const gchar *name, NcfmDatasetFormat *format)
{
  g_return_val_if_fail (name != NULL, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (format_names); i++)
    if (g_ascii_strcasecmp (name, format_names[i]) == 0) {
      if (format)
        *format = (NcfmDatasetFormat) i;
      return TRUE;
    }
  return FALSE;
}

gboolean
ncfm_dataset_table_stats (NcfmDatasetStats known, guint channels, gfloat *mean, gfloat *std)
{
  if (known == NCFM_DATASET_STATS_NONE || (guint) known >= G_N_ELEMENTS (stats_table)
      || stats_table[known].channels != channels)
    return FALSE;
  for (guint ch = 0; ch < channels; ch++) {
    mean[ch] = stats_table[known].mean[ch];
    std[ch] = stats_table[known].std[ch];
  }
  return TRUE;
}

/**
 * ncfm_dataset_known_stats:
 * @name: a dataset name or path ("fashion-mnist", "cifar10", ".../imagenette")
 * @channels: (out) (optional): 1 or 3
 * @mean: (out caller-allocates) (array fixed-size=3) (optional): per-channel mean
 * @std: (out caller-allocates) (array fixed-size=3) (optional): per-channel std
 *
 * The normalisation of the method card for a dataset recognised by name
 * (the table the readers use before computing statistics themselves).
 *
 * Returns: %TRUE if @name is recognised
 */
gboolean
ncfm_dataset_known_stats (const gchar *name, guint *channels, gfloat *mean, gfloat *std)
{
  g_return_val_if_fail (name != NULL, FALSE);
  const NcfmDatasetStats known = ncfm_dataset_stats_from_name (name);
  if (known == NCFM_DATASET_STATS_NONE)
    return FALSE;
  const guint c = stats_table[known].channels;
  if (channels)
    *channels = c;
  for (guint ch = 0; ch < c; ch++) {
    if (mean)
      mean[ch] = stats_table[known].mean[ch];
    if (std)
      std[ch] = stats_table[known].std[ch];
  }
  return TRUE;
}

NcfmDatasetStats
ncfm_dataset_stats_from_name (const gchar *name)
{
  g_autofree gchar *lower = g_ascii_strdown (name, -1);
  static const struct { const gchar *word; NcfmDatasetStats stats; } words[] = {
    { "cifar10", NCFM_DATASET_STATS_CIFAR }, { "cifar-10", NCFM_DATASET_STATS_CIFAR },
    { "cifar_10", NCFM_DATASET_STATS_CIFAR },
    { "imagenet", NCFM_DATASET_STATS_IMAGENET }, { "imagenette", NCFM_DATASET_STATS_IMAGENET },
    { "imagewoof", NCFM_DATASET_STATS_IMAGENET }, { "tiny", NCFM_DATASET_STATS_IMAGENET },
    { "fashion", NCFM_DATASET_STATS_FASHION_MNIST }, { "mnist", NCFM_DATASET_STATS_MNIST },
  };
  /* "cifar10" is a prefix of "cifar100": both share one table entry */
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    if (strstr (lower, words[i].word))
      return words[i].stats;
  return NCFM_DATASET_STATS_NONE;
}

/* Population mean/std per channel, in [0,1] units, accumulated in double. */
void
ncfm_dataset_compute_stats (NcfmDType dtype, gconstpointer pixels, guint n, guint c, gsize hw,
    gfloat *mean, gfloat *std)
{
  for (guint ch = 0; ch < c; ch++) {
    double sum = 0.0, sum2 = 0.0;
#pragma omp parallel for reduction(+:sum, sum2) schedule(static) if ((gsize) n * hw > 65536)
    for (guint i = 0; i < n; i++) {
      gsize off = ((gsize) i * c + ch) * hw;
      double s = 0.0, s2 = 0.0;
      if (dtype == NCFM_DTYPE_U8) {
        const guint8 *p = (const guint8 *) pixels + off;
        guint64 a = 0, a2 = 0;
        for (gsize j = 0; j < hw; j++) {
          a += p[j];
          a2 += (guint64) p[j] * p[j];
        }
        s = a / 255.0;
        s2 = a2 / (255.0 * 255.0);
      } else {
        const gfloat *p = (const gfloat *) pixels + off;
        for (gsize j = 0; j < hw; j++) {
          s += p[j];
          s2 += (double) p[j] * p[j];
        }
      }
      sum += s;
      sum2 += s2;
    }
    double count = (double) n * hw;
    double m = count > 0 ? sum / count : 0.0;
    double var = count > 0 ? sum2 / count - m * m : 0.0;
    mean[ch] = (gfloat) m;
    /* a constant channel would divide by zero when normalising */
    std[ch] = (gfloat) MAX (sqrt (MAX (var, 0.0)), 1e-6);
  }
}

static gboolean
dir_has_entry_containing (const gchar *dir, const gchar *needle)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *e;
  while (d && (e = g_dir_read_name (d)))
    if (strstr (e, needle))
      return TRUE;
  return FALSE;
}

static gboolean
dir_has_subdir (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *e;
  while (d && (e = g_dir_read_name (d))) {
    g_autofree gchar *p = g_build_filename (dir, e, NULL);
    if (e[0] != '.' && g_file_test (p, G_FILE_TEST_IS_DIR))
      return TRUE;
  }
  return FALSE;
}

static gboolean
dir_has_file (const gchar *dir, const gchar *name)
{
  g_autofree gchar *p = g_build_filename (dir, name, NULL);
  return g_file_test (p, G_FILE_TEST_IS_REGULAR);
}

static gboolean
guess_format (const gchar *location, const gchar *split, NcfmDatasetFormat *format,
    GError **error)
{
  if (g_file_test (location, G_FILE_TEST_IS_REGULAR)) {
    if (g_str_has_suffix (location, ".safetensors")) {
      *format = NCFM_DATASET_FORMAT_SYNSET;
      return TRUE;
    }
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: a file that is not a synthetic set (.safetensors); datasets are directories",
        location);
    return FALSE;
  }
  if (!g_file_test (location, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_NOT_FOUND,
        "%s: no such file or directory", location);
    return FALSE;
  }
  if (dir_has_entry_containing (location, "idx3-ubyte"))
    *format = NCFM_DATASET_FORMAT_IDX;
  else if (dir_has_file (location, "data_batch_1.bin"))
    *format = NCFM_DATASET_FORMAT_CIFAR10;
  else if (dir_has_file (location, "train.bin") && dir_has_file (location, "test.bin"))
    *format = NCFM_DATASET_FORMAT_CIFAR100;
  else if (dir_has_subdir (location))
    *format = NCFM_DATASET_FORMAT_IMAGEFOLDER;   /* a missing split is reported by the reader */
  else {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_NOT_FOUND,
        "%s: no dataset found (no IDX files, CIFAR batches, synthetic set or split folder "
        "\"%s\")", location, split);
    return FALSE;
  }
  return TRUE;
}

/**
 * ncfm_dataset_load:
 * @location: (type filename): a dataset directory, or a synthetic set's .safetensors file
 * @format: the format, or %NCFM_DATASET_FORMAT_AUTO to guess it from @location
 * @split: (nullable): "train" (%NULL) or "test"; for ImageFolder any subfolder
 *   of @location; ignored for a synthetic set
 * @image_size: ImageFolder: side of the square every image is resized to
 *   (bilinear), 0 to keep the images' own size (all must share it); other
 *   formats: 0 or their native size
 * @flags: #NcfmDatasetFlags
 * @cache_dir: (type filename) (nullable): ImageFolder: where the decoded
 *   cache lives; %NULL for $XDG_CACHE_HOME/gst-ncfm
 * @error: return location for a #GError (%NCFM_DATASET_ERROR)
 *
 * Loads one split of a dataset.  %NCFM_DATASET_FORMAT_AUTO picks SYNSET for
 * a .safetensors file, IDX for a directory with `*idx3-ubyte*` files, CIFAR10
 * when `data_batch_1.bin` is there, CIFAR100 for `train.bin` + `test.bin`,
 * and IMAGEFOLDER for a directory with subfolders.
 *
 * An ImageFolder split is decoded once (in parallel) and written to a cache
 * file (one per root, split and @image_size); later loads map that file when
 * its key (file names, sizes, modification times) still matches, and rebuild
 * it when it is stale, truncated or corrupt.  When @cache_dir is given, a
 * cache that cannot be written there is an error (%NCFM_DATASET_ERROR_CACHE);
 * in the default folder it is a warning and the load goes on without it.
 * %NCFM_DATASET_FLAGS_NO_CACHE disables the cache.
 *
 * Returns: (transfer full) (nullable): the dataset, or %NULL with @error set
 */
NcfmDataset *
ncfm_dataset_load (const gchar *location, NcfmDatasetFormat format, const gchar *split,
    guint image_size, NcfmDatasetFlags flags, const gchar *cache_dir, GError **error)
{
  NcfmDatasetParts parts = { 0 };
  gboolean ok = FALSE;

  g_return_val_if_fail (location != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (!split)
    split = "train";
  if (format == NCFM_DATASET_FORMAT_AUTO && !guess_format (location, split, &format, error))
    return NULL;
  if (format != NCFM_DATASET_FORMAT_IMAGEFOLDER && format != NCFM_DATASET_FORMAT_SYNSET
      && strcmp (split, "train") != 0 && strcmp (split, "test") != 0) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_NOT_FOUND,
        "%s: no split \"%s\" in a %s dataset (train or test)", location, split,
        ncfm_dataset_format_to_string (format));
    return NULL;
  }

  switch (format) {
    case NCFM_DATASET_FORMAT_IDX:
      ok = ncfm_dataset_read_idx (location, split, &parts, error);
      break;
    case NCFM_DATASET_FORMAT_CIFAR10:
      ok = ncfm_dataset_read_cifar10 (location, split, &parts, error);
      break;
    case NCFM_DATASET_FORMAT_CIFAR100:
      ok = ncfm_dataset_read_cifar100 (location, split,
          (flags & NCFM_DATASET_FLAGS_COARSE_LABELS) != 0, &parts, error);
      break;
    case NCFM_DATASET_FORMAT_IMAGEFOLDER:
      ok = ncfm_dataset_read_imagefolder (location, split, image_size, flags, cache_dir, &parts,
          error);
      break;
    case NCFM_DATASET_FORMAT_SYNSET:
      ok = ncfm_dataset_read_synset (location, &parts, error);
      break;
    case NCFM_DATASET_FORMAT_AUTO:
    default:
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
          "%s: unknown dataset format %d", location, (int) format);
      return NULL;
  }
  if (!ok)
    return NULL;
  if (format != NCFM_DATASET_FORMAT_IMAGEFOLDER && image_size != 0
      && (image_size != parts.h || image_size != parts.w)) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: images are %ux%u; resizing to %u is only done for ImageFolder datasets",
        location, parts.h, parts.w, image_size);
    ncfm_dataset_parts_clear (&parts);
    return NULL;
  }
  return ncfm_dataset_new_from_parts (&parts, format, location, error);
}

