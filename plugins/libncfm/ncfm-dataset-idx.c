/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-dataset-idx.c: MNIST / Fashion-MNIST IDX files, raw or gzip.
 *
 * An IDX file is a big-endian magic (0x00000803: ubyte, 3 dims; 0x00000801:
 * ubyte, 1 dim), the dims as big-endian uint32, then the bytes.  zlib's gz*
 * functions read both the raw and the compressed files (gzread passes a file
 * without the gzip magic through).  The buffer grows with the data actually
 * read, so a header announcing absurd sizes cannot make us allocate them. */
#define G_LOG_DOMAIN "Ncfm"

#include "ncfm-dataset-private.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_MAX_COUNT (1u << 28)
#define IDX_MAX_SIDE 4096u
#define IDX_MAX_BYTES (G_GUINT64_CONSTANT (1) << 36)
#define IDX_FIRST_CHUNK (16u << 20)

static const gchar *const fashion_names[] = {
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot", NULL
};

/* The first ten labels of the published files: recognise renamed copies. */
static const guint8 fashion_train_head[10] = { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 };
static const guint8 fashion_test_head[10] = { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7 };
static const guint8 mnist_train_head[10] = { 5, 0, 4, 1, 9, 2, 1, 3, 1, 4 };
static const guint8 mnist_test_head[10] = { 7, 2, 1, 0, 4, 1, 4, 9, 5, 9 };

/* DIR/PREFIX-KIND-ubyte[.gz], KIND as "images-idx3" or the "images.idx3"
 * spelling of some mirrors. */
static gchar *
find_idx_file (const gchar *dir, const gchar *prefix, const gchar *what, const gchar *idx)
{
  static const gchar *const seps[] = { "-", "." };
  static const gchar *const exts[] = { "", ".gz" };
  for (guint s = 0; s < G_N_ELEMENTS (seps); s++)
    for (guint e = 0; e < G_N_ELEMENTS (exts); e++) {
      g_autofree gchar *base = g_strdup_printf ("%s-%s%s%s-ubyte%s", prefix, what, seps[s],
          idx, exts[e]);
      gchar *path = g_build_filename (dir, base, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return path;
      g_free (path);
    }
  return NULL;
}

static guint32
read_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static gboolean
gz_failed (gzFile f, const gchar *path, const gchar *what, gsize offset, GError **error)
{
  int errnum = Z_OK;
  const gchar *msg = gzerror (f, &errnum);
  g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
      "%s: %s at byte %" G_GSIZE_FORMAT " (%s)", path, what, offset,
      errnum == Z_ERRNO ? g_strerror (errno) : msg);
  return FALSE;
}

/* Reads one IDX file: @n_dims big-endian dims into @dims, the data into @data. */
static gboolean
read_idx (const gchar *path, guint32 magic, guint n_dims, guint32 *dims, GBytes **data,
    GError **error)
{
  gzFile f = gzopen (path, "rb");
  guint8 hdr[4 + 4 * 3];
  const guint hsize = 4 + 4 * n_dims;
  guint64 total = 1;
  gsize have = 0, cap;
  guint8 *buf = NULL;
  int got;

  if (!f) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_NOT_FOUND, "%s: cannot open: %s",
        path, g_strerror (errno));
    return FALSE;
  }
  gzbuffer (f, 1 << 18);
  got = gzread (f, hdr, hsize);
  if (got < 0) {
    gz_failed (f, path, "corrupt compressed data", 0, error);
    goto fail;
  }
  if ((guint) got < hsize) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: truncated header (%d of %u bytes)", path, got, hsize);
    goto fail;
  }
  if (read_be32 (hdr) != magic) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: wrong magic number 0x%08x (expected 0x%08x, IDX unsigned bytes with %u dims)",
        path, read_be32 (hdr), magic, n_dims);
    goto fail;
  }
  for (guint d = 0; d < n_dims; d++) {
    dims[d] = read_be32 (hdr + 4 + 4 * d);
    guint32 limit = d == 0 ? IDX_MAX_COUNT : IDX_MAX_SIDE;
    if (dims[d] == 0 || dims[d] > limit) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
          "%s: dimension %u is %u (expected 1 to %u)", path, d, dims[d], limit);
      goto fail;
    }
    total *= dims[d];
  }
  if (total > IDX_MAX_BYTES) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
        "%s: header announces %" G_GUINT64_FORMAT " bytes of data", path, total);
    goto fail;
  }

  cap = (gsize) MIN (total, IDX_FIRST_CHUNK);
  buf = g_malloc (cap);
  while (have < total) {
    if (have == cap) {
      cap = (gsize) MIN (total, (guint64) cap * 2);
      buf = g_realloc (buf, cap);
    }
    got = gzread (f, buf + have, (unsigned) MIN (cap - have, (gsize) 1 << 30));
    if (got < 0) {
      gz_failed (f, path, "corrupt compressed data", hsize + have, error);
      goto fail;
    }
    if (got == 0) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
          "%s: truncated: %" G_GSIZE_FORMAT " of %" G_GUINT64_FORMAT
          " data bytes after the %u-byte header", path, have, total, hsize);
      goto fail;
    }
    have += got;
  }
  {
    guint8 extra;
    got = gzread (f, &extra, 1);
    if (got != 0) {
      if (got < 0)
        gz_failed (f, path, "corrupt compressed data", hsize + have, error);
      else
        g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_FORMAT,
            "%s: data continues past the %" G_GUINT64_FORMAT " bytes the header announces",
            path, total);
      goto fail;
    }
  }
  gzclose (f);
  *data = g_bytes_new_take (buf, have);
  return TRUE;

fail:
  g_free (buf);
  gzclose (f);
  return FALSE;
}

static gboolean
labels_start_with (const gint32 *labels, guint n, const guint8 *head)
{
  if (n < 10)
    return FALSE;
  for (guint i = 0; i < 10; i++)
    if (labels[i] != head[i])
      return FALSE;
  return TRUE;
}

gboolean
ncfm_dataset_read_idx (const gchar *dir, const gchar *split, NcfmDatasetParts *out,
    GError **error)
{
  const gchar *prefix = strcmp (split, "test") == 0 ? "t10k" : "train";
  g_autofree gchar *images_path = find_idx_file (dir, prefix, "images", "idx3");
  g_autofree gchar *labels_path = find_idx_file (dir, prefix, "labels", "idx1");
  g_autoptr (GBytes) images = NULL, raw_labels = NULL;
  guint32 idims[3], ldims[1];
  gint32 *labels;
  const guint8 *lb;
  gboolean test = prefix[0] == 't';

  if (!images_path || !labels_path) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_NOT_FOUND,
        "%s: no %s-%s-ubyte (or .gz) for the %s split", dir, prefix,
        images_path ? "labels-idx1" : "images-idx3", split);
    return FALSE;
  }
  if (!read_idx (images_path, IDX_IMAGES_MAGIC, 3, idims, &images, error)
      || !read_idx (labels_path, IDX_LABELS_MAGIC, 1, ldims, &raw_labels, error))
    return FALSE;
  if (ldims[0] != idims[0]) {
    g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_LABELS,
        "%s: %u labels, but %s holds %u images", labels_path, ldims[0], images_path, idims[0]);
    return FALSE;
  }
  lb = g_bytes_get_data (raw_labels, NULL);
  labels = g_new (gint32, ldims[0]);
  for (guint i = 0; i < ldims[0]; i++) {
    if (lb[i] >= 10) {
      g_set_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_LABELS,
          "%s: label %u at offset %u (image %u) is outside [0, 10)", labels_path, lb[i], 8 + i,
          i);
      g_free (labels);
      return FALSE;
    }
    labels[i] = lb[i];
  }

  g_autofree gchar *base = g_path_get_basename (dir);
  g_autofree gchar *lower = g_ascii_strdown (base, -1);
  if (strstr (lower, "fashion")
      || labels_start_with (labels, ldims[0], test ? fashion_test_head : fashion_train_head)) {
    out->name = g_strdup ("fashion-mnist");
    out->known = NCFM_DATASET_STATS_FASHION_MNIST;
    out->class_names = g_strdupv ((gchar **) fashion_names);
  } else {
    if (strstr (lower, "mnist")
        || labels_start_with (labels, ldims[0], test ? mnist_test_head : mnist_train_head)) {
      out->name = g_strdup ("mnist");
      out->known = NCFM_DATASET_STATS_MNIST;
    } else {
      out->name = g_strdup (base);
    }
    out->class_names = g_new0 (gchar *, 11);
    for (guint k = 0; k < 10; k++)
      out->class_names[k] = g_strdup_printf ("%u", k);
  }
  out->dtype = NCFM_DTYPE_U8;
  out->n = idims[0];
  out->c = 1;
  out->h = idims[1];
  out->w = idims[2];
  out->images = g_steal_pointer (&images);
  out->labels = g_bytes_new_take (labels, (gsize) ldims[0] * sizeof (gint32));
  return TRUE;
}
