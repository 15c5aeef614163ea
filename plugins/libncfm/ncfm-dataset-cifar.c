/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-dataset-cifar.c: the CIFAR-10 and CIFAR-100 binary releases.
 *
 * A batch is a run of records: the label byte(s) (CIFAR-10: the label;
 * CIFAR-100: coarse then fine) and 3072 pixel bytes, 1024 red, 1024 green,
 * 1024 blue, each plane row-major: exactly our [C, H, W] layout, so pixels
 * are copied record by record and labels widened to int32. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-dataset-private.h"

#include <string.h>

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)

static const gchar *const cifar10_names[] = {
  "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck", NULL
};

static const gchar *const cifar100_coarse_names[] = {
  "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
  "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
  "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
  "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
  "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2", NULL
};

static const gchar *const cifar100_fine_names[] = {
  "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
  "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
  "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
  "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
  "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
  "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
  "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
  "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
  "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
  "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
  "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
  "willow_tree", "wolf", "woman", "worm", NULL
};

/* The record layout of a release. */
typedef struct {
  guint label_bytes;              /* 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine) */
  guint label_index;              /* which of them is the label */
} RecordFormat;

static gboolean
check_batch (const gchar *path, const guint8 *data, gsize len, const RecordFormat *rf,
    GError **error)
{
  const gsize rec = rf->label_bytes + CIFAR_PIXELS;
  if (len == 0 || len % rec != 0) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: size %" G_GSIZE_FORMAT " is not a positive multiple of the %" G_GSIZE_FORMAT
        "-byte record (%" G_GSIZE_FORMAT " stray bytes at offset %" G_GSIZE_FORMAT ")",
        path, len, rec, len % rec, len - len % rec);
    return FALSE;
  }
  for (gsize off = 0; off < len; off += rec)
    for (guint b = 0; b < rf->label_bytes; b++) {
      /* CIFAR-100 coarse labels are checked even when fine ones are used */
      guint limit = rf->label_bytes == 2 && b == 0 ? 20 : rf->label_bytes == 2 ? 100 : 10;
      if (data[off + b] >= limit) {
        g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_LABELS,
            "%s: label %u of record %" G_GSIZE_FORMAT " (offset %" G_GSIZE_FORMAT
            ") is outside [0, %u)", path, data[off + b], off / rec, off + b, limit);
        return FALSE;
      }
    }
  return TRUE;
}

/* Reads the batches in order into one buffer. */
static gboolean
read_batches (const gchar *dir, const gchar *const *files, const RecordFormat *rf,
    NcfmDatasetParts *out, GError **error)
{
  const gsize rec = rf->label_bytes + CIFAR_PIXELS;
  g_autoptr (GPtrArray) mapped = g_ptr_array_new_with_free_func (
      (GDestroyNotify) g_mapped_file_unref);
  gsize total = 0;

  for (guint i = 0; files[i]; i++) {
    g_autofree gchar *path = g_build_filename (dir, files[i], NULL);
    g_autoptr (GError) err = NULL;
    GMappedFile *mf;
    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_NOT_FOUND,
          "%s: missing CIFAR batch", path);
      return FALSE;
    }
    mf = g_mapped_file_new (path, FALSE, &err);
    if (!mf) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_NOT_FOUND, "%s", err->message);
      return FALSE;
    }
    g_ptr_array_add (mapped, mf);
    if (!check_batch (path, (const guint8 *) g_mapped_file_get_contents (mf),
            g_mapped_file_get_length (mf), rf, error))
      return FALSE;
    total += g_mapped_file_get_length (mf) / rec;
  }
  if (total > G_MAXINT32) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT, "%s: too many records",
        dir);
    return FALSE;
  }

  guint8 *pixels = g_malloc (total * CIFAR_PIXELS);
  gint32 *labels = g_new (gint32, MAX (total, 1));
  gsize k = 0;
  for (guint i = 0; i < mapped->len; i++) {
    GMappedFile *mf = mapped->pdata[i];
    const guint8 *d = (const guint8 *) g_mapped_file_get_contents (mf);
    gsize nrec = g_mapped_file_get_length (mf) / rec;
    for (gsize r = 0; r < nrec; r++, k++) {
      labels[k] = d[r * rec + rf->label_index];
      memcpy (pixels + k * CIFAR_PIXELS, d + r * rec + rf->label_bytes, CIFAR_PIXELS);
    }
  }
  out->dtype = NCFM_DTYPE_U8;
  out->n = (guint) total;
  out->c = 3;
  out->h = out->w = CIFAR_SIDE;
  out->images = g_bytes_new_take (pixels, total * CIFAR_PIXELS);
  out->labels = g_bytes_new_take (labels, total * sizeof (gint32));
  out->known = NCFM_DATASET_STATS_CIFAR;
  return TRUE;
}

/* Class names from DIR/FILE (one per line, blank lines ignored) when the
 * file is there, else the standard ones. */
static gboolean
read_class_names (const gchar *dir, const gchar *file, const gchar *const *standard,
    gchar ***names, GError **error)
{
  g_autofree gchar *path = g_build_filename (dir, file, NULL);
  g_autofree gchar *text = NULL;
  guint want = g_strv_length ((gchar **) standard);

  if (!g_file_get_contents (path, &text, NULL, NULL)) {
    *names = g_strdupv ((gchar **) standard);
    return TRUE;
  }
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GPtrArray) got = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; lines[i]; i++) {
    gchar *name = g_strstrip (lines[i]);
    if (*name)
      g_ptr_array_add (got, g_strdup (name));
  }
  if (got->len != want || !g_utf8_validate (text, -1, NULL)) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: %u class names, expected %u (one per line, UTF-8)", path, got->len, want);
    return FALSE;
  }
  g_ptr_array_add (got, NULL);
  *names = (gchar **) g_ptr_array_steal (got, NULL);
  return TRUE;
}

gboolean
ncfm_dataset_read_cifar10 (const gchar *dir, const gchar *split, NcfmDatasetParts *out,
    GError **error)
{
  static const gchar *const train[] = { "data_batch_1.bin", "data_batch_2.bin",
    "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", NULL };
  static const gchar *const test[] = { "test_batch.bin", NULL };
  const RecordFormat rf = { 1, 0 };
  gchar **names = NULL;

  if (!read_class_names (dir, "batches.meta.txt", cifar10_names, &names, error))
    return FALSE;
  if (!read_batches (dir, strcmp (split, "test") == 0 ? test : train, &rf, out, error)) {
    g_strfreev (names);
    return FALSE;
  }
  out->class_names = names;
  out->name = g_strdup ("cifar10");
  return TRUE;
}

gboolean
ncfm_dataset_read_cifar100 (const gchar *dir, const gchar *split, gboolean coarse,
    NcfmDatasetParts *out, GError **error)
{
  const gchar *const files[] = { strcmp (split, "test") == 0 ? "test.bin" : "train.bin", NULL };
  const RecordFormat rf = { 2, coarse ? 0 : 1 };
  gchar **names = NULL;

  if (!read_class_names (dir, coarse ? "coarse_label_names.txt" : "fine_label_names.txt",
          coarse ? cifar100_coarse_names : cifar100_fine_names, &names, error))
    return FALSE;
  if (!read_batches (dir, files, &rf, out, error)) {
    g_strfreev (names);
    return FALSE;
  }
  out->class_names = names;
  out->name = g_strdup ("cifar100");
  return TRUE;
}
