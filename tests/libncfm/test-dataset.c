/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-dataset.c: the dataset readers on small files generated here (IDX raw
 * and gz, CIFAR-10/100 batches, an ImageFolder tree of JPEGs and PNGs, a
 * synthetic set with multi-formation), the decoded cache (hits, stale keys,
 * corrupt files), every bad-input case, a seeded fuzz loop, and the real
 * Fashion-MNIST when it is installed. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>
#include "libncfm-test.h"

static gchar *tmp_root;
/* g_warning()s of libncfm since the last take_warnings() (decode skips). */
static GPtrArray *warnings;

static GLogWriterOutput
capture_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  const gchar *domain = NULL, *message = NULL;
  for (gsize i = 0; i < n_fields; i++) {
    if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
    else if (strcmp (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  }
  if ((level & G_LOG_LEVEL_WARNING) && g_strcmp0 (domain, "Ncfm") == 0 && message) {
    g_ptr_array_add (warnings, g_strdup (message));
    return G_LOG_WRITER_HANDLED;
  }
  return g_log_writer_default (level, fields, n_fields, data);
}

static guint
take_warnings (const gchar *needle)
{
  guint n = warnings->len, hits = 0;
  for (guint i = 0; i < n; i++)
    hits += needle && strstr (warnings->pdata[i], needle) != NULL;
  g_assert_true (needle == NULL || hits > 0);
  g_ptr_array_set_size (warnings, 0);
  return n;
}

static gchar *
make_dir (const gchar *name)
{
  gchar *p = g_build_filename (tmp_root, name, NULL);
  g_assert_cmpint (g_mkdir_with_parents (p, 0755), ==, 0);
  return p;
}

static void
write_file (const gchar *path, gconstpointer data, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, data, len, &error);
  g_assert_no_error (error);
}

static GBytes *
read_file (const gchar *path)
{
  gchar *data;
  gsize len;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  return g_bytes_new_take (data, len);
}

/* The error is ours, has @code and its message names @what. */
static void
assert_error (GError **error, gint code, const gchar *what)
{
  g_assert_nonnull (*error);
  g_test_message ("error: %s", (*error)->message);
  g_assert_error (*error, NCFM_DATASET_ERROR, code);
  if (!strstr ((*error)->message, what))
    g_error ("message '%s' does not name '%s'", (*error)->message, what);
  g_clear_error (error);
}

static NcfmDataset *
load_ok (const gchar *dir, NcfmDatasetFormat format, const gchar *split, guint size,
    NcfmDatasetFlags flags, const gchar *cache)
{
  g_autoptr (GError) error = NULL;
  NcfmDataset *ds = ncfm_dataset_load (dir, format, split, size, flags, cache, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ds);
  return ds;
}

static void
load_fails (const gchar *dir, NcfmDatasetFormat format, const gchar *split, guint size,
    NcfmDatasetFlags flags, gint code, const gchar *what)
{
  GError *error = NULL;
  NcfmDataset *ds = ncfm_dataset_load (dir, format, split, size, flags, NULL, &error);
  g_assert_null (ds);
  assert_error (&error, code, what);
}

static void
assert_stats_computed (NcfmDataset *ds)
{
  const guint c = ncfm_dataset_get_channels (ds), n = ncfm_dataset_get_n_images (ds);
  const gsize hw = (gsize) ncfm_dataset_get_height (ds) * ncfm_dataset_get_width (ds);
  g_assert_cmpint (ncfm_dataset_get_dtype (ds), ==, NCFM_DTYPE_U8);
  for (guint ch = 0; ch < c; ch++) {
    double s = 0, s2 = 0;
    for (guint i = 0; i < n; i++) {
      const guint8 *p = (const guint8 *) ncfm_dataset_peek_image (ds, i) + ch * hw;
      for (gsize j = 0; j < hw; j++) {
        s += p[j] / 255.0;
        s2 += (p[j] / 255.0) * (p[j] / 255.0);
      }
    }
    double m = s / (n * hw), sd = sqrt (MAX (s2 / (n * hw) - m * m, 0));
    g_assert_cmpfloat_with_epsilon (ncfm_dataset_get_mean (ds, ch), m, 1e-5);
    g_assert_cmpfloat_with_epsilon (ncfm_dataset_get_std (ds, ch), MAX (sd, 1e-6), 1e-5);
  }
}

/* ---- IDX --------------------------------------------------------------- */

#define IDX_N 5
#define IDX_H 4
#define IDX_W 3
static const guint8 idx_labels[IDX_N] = { 3, 1, 4, 1, 5 };

static guint8
idx_pixel (guint i, guint p)
{
  return (guint8) ((i * IDX_H * IDX_W + p) * 7 + 1);
}

/* IDX bytes: magic, dims, data. */
static GBytes *
idx_images (guint32 magic, guint32 n, guint32 h, guint32 w)
{
  gsize len = 16 + (gsize) n * h * w;
  guint8 *b = g_malloc (len);
  ncfm_test_put_be32 (b, magic);
  ncfm_test_put_be32 (b + 4, n);
  ncfm_test_put_be32 (b + 8, h);
  ncfm_test_put_be32 (b + 12, w);
  for (gsize p = 0; p < (gsize) n * h * w; p++)
    b[16 + p] = idx_pixel (p / (h * w), p % (h * w));
  return g_bytes_new_take (b, len);
}

static GBytes *
idx_labels_file (guint32 magic, guint32 n, const guint8 *labels)
{
  guint8 *b = g_malloc (8 + n);
  ncfm_test_put_be32 (b, magic);
  ncfm_test_put_be32 (b + 4, n);
  for (guint i = 0; i < n; i++)
    b[8 + i] = labels[i % IDX_N];
  return g_bytes_new_take (b, 8 + n);
}

static void
write_maybe_gz (const gchar *dir, const gchar *name, GBytes *data, gboolean gz)
{
  g_autofree gchar *path = g_strdup_printf ("%s/%s%s", dir, name, gz ? ".gz" : "");
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);
  if (!gz) {
    write_file (path, p, len);
    return;
  }
  gzFile f = gzopen (path, "wb");
  g_assert_nonnull (f);
  g_assert_cmpint (gzwrite (f, p, (unsigned) len), ==, (int) len);
  g_assert_cmpint (gzclose (f), ==, Z_OK);
}

static gchar *
make_idx (const gchar *name, gboolean gz)
{
  gchar *dir = make_dir (name);
  g_autoptr (GBytes) im = idx_images (0x803, IDX_N, IDX_H, IDX_W);
  g_autoptr (GBytes) lb = idx_labels_file (0x801, IDX_N, idx_labels);
  for (guint s = 0; s < 2; s++) {
    g_autofree gchar *a = g_strdup_printf ("%s-images-idx3-ubyte", s ? "t10k" : "train");
    g_autofree gchar *b = g_strdup_printf ("%s-labels-idx1-ubyte", s ? "t10k" : "train");
    write_maybe_gz (dir, a, im, gz);
    write_maybe_gz (dir, b, lb, gz);
  }
  return dir;
}

static void
check_idx (NcfmDataset *ds)
{
  g_assert_cmpuint (ncfm_dataset_get_format (ds), ==, NCFM_DATASET_FORMAT_IDX);
  g_assert_cmpuint (ncfm_dataset_get_n_images (ds), ==, IDX_N);
  g_assert_cmpuint (ncfm_dataset_get_channels (ds), ==, 1);
  g_assert_cmpuint (ncfm_dataset_get_height (ds), ==, IDX_H);
  g_assert_cmpuint (ncfm_dataset_get_width (ds), ==, IDX_W);
  g_assert_cmpuint (ncfm_dataset_get_num_classes (ds), ==, 10);
  for (guint i = 0; i < IDX_N; i++) {
    const guint8 *px = ncfm_dataset_peek_image (ds, i);
    g_assert_cmpint (ncfm_dataset_get_label (ds, i), ==, idx_labels[i]);
    for (guint p = 0; p < IDX_H * IDX_W; p++)
      g_assert_cmpuint (px[p], ==, idx_pixel (i, p));
  }
  guint n1;
  g_autofree guint *ones = ncfm_dataset_get_class_indices (ds, 1, &n1);
  g_assert_cmpuint (n1, ==, 2);
  g_assert_cmpuint (ones[0], ==, 1);
  g_assert_cmpuint (ones[1], ==, 3);
}

static void
test_idx (void)
{
  g_autofree gchar *raw = make_idx ("idx", FALSE);
  g_autofree gchar *gz = make_idx ("fashion-gz", TRUE);
  g_autoptr (NcfmDataset) a = load_ok (raw, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, NULL);
  g_autoptr (NcfmDataset) t = load_ok (raw, NCFM_DATASET_FORMAT_IDX, "test", 0, 0, NULL);
  g_autoptr (NcfmDataset) b = load_ok (gz, NCFM_DATASET_FORMAT_AUTO, "train", 0, 0, NULL);

  check_idx (a);
  check_idx (t);
  check_idx (b);
  g_assert_cmpstr (ncfm_dataset_get_name (a), ==, "idx");
  g_assert_cmpstr (ncfm_dataset_get_class_name (a, 7), ==, "7");
  assert_stats_computed (a);
  g_assert_cmpstr (ncfm_dataset_get_name (b), ==, "fashion-mnist");
  g_assert_cmpstr (ncfm_dataset_get_class_name (b, 0), ==, "T-shirt/top");
  g_assert_cmpstr (ncfm_dataset_get_class_name (b, 9), ==, "Ankle boot");
  g_assert_cmpfloat (ncfm_dataset_get_mean (b, 0), ==, 0.2861f);
  g_assert_cmpfloat (ncfm_dataset_get_std (b, 0), ==, 0.3530f);
  load_fails (raw, NCFM_DATASET_FORMAT_IDX, "val", 0, 0, NCFM_DATASET_ERROR_NOT_FOUND, "val");
  load_fails (raw, NCFM_DATASET_FORMAT_IDX, NULL, 32, 0, NCFM_DATASET_ERROR_FORMAT, raw);
}

/* One bad IDX pair per case: wrong magic, truncated, trailing bytes, count
 * mismatch, label out of range, absurd dims, missing file, corrupt gzip. */
static void
test_idx_errors (void)
{
  g_autofree gchar *dir = make_idx ("idx-bad", FALSE);
  g_autofree gchar *img = g_build_filename (dir, "train-images-idx3-ubyte", NULL);
  g_autofree gchar *lab = g_build_filename (dir, "train-labels-idx1-ubyte", NULL);
  g_autoptr (GBytes) good_img = read_file (img), good_lab = read_file (lab);
  gsize len;
  const guint8 *gi = g_bytes_get_data (good_img, &len);
  const guint8 bad_labels[IDX_N] = { 1, 2, 10, 3, 4 };
  struct { guint32 magic, n, h, w; } dims[] = {
    { 0x804, IDX_N, IDX_H, IDX_W }, { 0x803, IDX_N, 0, IDX_W }, { 0x803, IDX_N, 100000, 4 },
    { 0x803, 0xffffffffu, 4096, 4096 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (dims); i++) {
    g_autoptr (GBytes) b = idx_images (dims[i].magic, 1, 1, 1);
    guint8 *hdr = g_memdup2 (g_bytes_get_data (b, NULL), 16);
    ncfm_test_put_be32 (hdr + 4, dims[i].n);
    ncfm_test_put_be32 (hdr + 8, dims[i].h);
    ncfm_test_put_be32 (hdr + 12, dims[i].w);
    write_file (img, hdr, 16);
    g_free (hdr);
    load_fails (dir, NCFM_DATASET_FORMAT_IDX, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, img);
  }
  write_file (img, gi, len - 1);
  load_fails (dir, NCFM_DATASET_FORMAT_IDX, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, img);
  write_file (img, gi, 10);
  load_fails (dir, NCFM_DATASET_FORMAT_IDX, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, img);
  {
    g_autofree guint8 *longer = g_malloc0 (len + 3);
    memcpy (longer, gi, len);
    write_file (img, longer, len + 3);
    load_fails (dir, NCFM_DATASET_FORMAT_IDX, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, img);
  }
  write_file (img, gi, len);
  {
    g_autoptr (GBytes) b = idx_labels_file (0x801, IDX_N - 1, idx_labels);
    write_file (lab, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
    load_fails (dir, NCFM_DATASET_FORMAT_IDX, NULL, 0, 0, NCFM_DATASET_ERROR_LABELS, lab);
  }
  {
    g_autoptr (GBytes) b = idx_labels_file (0x801, IDX_N, bad_labels);
    write_file (lab, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
    load_fails (dir, NCFM_DATASET_FORMAT_IDX, NULL, 0, 0, NCFM_DATASET_ERROR_LABELS, lab);
    g_autoptr (GBytes) m = idx_labels_file (0x803, IDX_N, idx_labels);
    write_file (lab, g_bytes_get_data (m, NULL), g_bytes_get_size (m));
    load_fails (dir, NCFM_DATASET_FORMAT_IDX, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, lab);
  }
  g_unlink (lab);
  load_fails (dir, NCFM_DATASET_FORMAT_IDX, NULL, 0, 0, NCFM_DATASET_ERROR_NOT_FOUND,
      "train-labels-idx1");
  write_file (lab, g_bytes_get_data (good_lab, NULL), g_bytes_get_size (good_lab));
  /* a corrupt gzip stream */
  g_autofree gchar *gzdir = make_idx ("idx-badgz", TRUE);
  g_autofree gchar *gzimg = g_build_filename (gzdir, "train-images-idx3-ubyte.gz", NULL);
  g_autoptr (GBytes) gzb = read_file (gzimg);
  gsize gzlen = g_bytes_get_size (gzb);
  guint8 *z = g_memdup2 (g_bytes_get_data (gzb, NULL), gzlen);
  for (gsize i = 12; i < gzlen - 8; i++)
    z[i] ^= 0x5a;
  write_file (gzimg, z, gzlen);
  load_fails (gzdir, NCFM_DATASET_FORMAT_IDX, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, gzimg);
  write_file (gzimg, g_bytes_get_data (gzb, NULL), gzlen / 2);
  load_fails (gzdir, NCFM_DATASET_FORMAT_IDX, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, gzimg);
  g_free (z);
}

/* ---- CIFAR ------------------------------------------------------------- */

#define CIFAR_REC 3072

static guint8
cifar_pixel (guint record, guint p)
{
  return (guint8) (record * 13 + p * 3);
}

/* @n records of @label_bytes labels (from @labels, two per record for CIFAR-100). */
static void
write_cifar (const gchar *path, guint first, guint n, guint label_bytes, const guint8 *labels)
{
  const gsize rec = label_bytes + CIFAR_REC;
  g_autofree guint8 *b = g_malloc (rec * n);
  for (guint r = 0; r < n; r++) {
    memcpy (b + r * rec, labels + r * label_bytes, label_bytes);
    for (guint p = 0; p < CIFAR_REC; p++)
      b[r * rec + label_bytes + p] = cifar_pixel (first + r, p);
  }
  write_file (path, b, rec * n);
}

static gchar *
make_cifar10 (const gchar *name)
{
  gchar *dir = make_dir (name);
  for (guint k = 1; k <= 5; k++) {
    g_autofree gchar *p = g_strdup_printf ("%s/data_batch_%u.bin", dir, k);
    const guint8 labels[2] = { (guint8) (2 * k - 2), (guint8) (2 * k - 1) };
    write_cifar (p, 2 * (k - 1), 2, 1, labels);
  }
  g_autofree gchar *t = g_build_filename (dir, "test_batch.bin", NULL);
  write_cifar (t, 100, 3, 1, (const guint8[]) { 9, 8, 7 });
  return dir;
}

static void
test_cifar10 (void)
{
  g_autofree gchar *dir = make_cifar10 ("c10");
  g_autoptr (NcfmDataset) tr = load_ok (dir, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, NULL);
  g_autoptr (NcfmDataset) te = load_ok (dir, NCFM_DATASET_FORMAT_CIFAR10, "test", 32, 0, NULL);
  g_autofree gchar *b3 = g_build_filename (dir, "data_batch_3.bin", NULL);
  g_autofree gchar *meta = g_build_filename (dir, "batches.meta.txt", NULL);

  g_assert_cmpuint (ncfm_dataset_get_format (tr), ==, NCFM_DATASET_FORMAT_CIFAR10);
  g_assert_cmpstr (ncfm_dataset_get_name (tr), ==, "cifar10");
  g_assert_cmpuint (ncfm_dataset_get_n_images (tr), ==, 10);
  g_assert_cmpuint (ncfm_dataset_get_channels (tr), ==, 3);
  g_assert_cmpuint (ncfm_dataset_get_num_classes (tr), ==, 10);
  g_assert_cmpstr (ncfm_dataset_get_class_name (tr, 0), ==, "airplane");
  g_assert_cmpstr (ncfm_dataset_get_class_name (tr, 9), ==, "truck");
  for (guint i = 0; i < 10; i++) {
    const guint8 *px = ncfm_dataset_peek_image (tr, i);
    g_assert_cmpint (ncfm_dataset_get_label (tr, i), ==, i);
    g_assert_cmpuint (px[0], ==, cifar_pixel (i, 0));
    g_assert_cmpuint (px[1024 + 33], ==, cifar_pixel (i, 1024 + 33));   /* green (1, 1) */
  }
  g_assert_cmpfloat (ncfm_dataset_get_mean (tr, 2), ==, 0.4465f);
  g_assert_cmpfloat (ncfm_dataset_get_std (tr, 0), ==, 0.2023f);
  g_assert_cmpuint (ncfm_dataset_get_n_images (te), ==, 3);
  g_assert_cmpint (ncfm_dataset_get_label (te, 2), ==, 7);
  g_assert_cmpuint (((const guint8 *) ncfm_dataset_peek_image (te, 1))[5], ==,
      cifar_pixel (101, 5));

  write_file (meta, "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n", 21);
  {
    g_autoptr (NcfmDataset) named = load_ok (dir, NCFM_DATASET_FORMAT_CIFAR10, NULL, 0, 0, NULL);
    g_assert_cmpstr (ncfm_dataset_get_class_name (named, 9), ==, "j");
  }
  write_file (meta, "a\nb\n", 4);
  load_fails (dir, NCFM_DATASET_FORMAT_CIFAR10, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, meta);
  g_unlink (meta);

  /* a stray byte, a label out of range, a missing batch */
  g_autoptr (GBytes) good = read_file (b3);
  g_autofree guint8 *bad = g_malloc (g_bytes_get_size (good) + 1);
  memcpy (bad, g_bytes_get_data (good, NULL), g_bytes_get_size (good));
  write_file (b3, bad, g_bytes_get_size (good) + 1);
  load_fails (dir, NCFM_DATASET_FORMAT_CIFAR10, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, b3);
  bad[3073] = 10;
  write_file (b3, bad, g_bytes_get_size (good));
  load_fails (dir, NCFM_DATASET_FORMAT_CIFAR10, NULL, 0, 0, NCFM_DATASET_ERROR_LABELS,
      "data_batch_3.bin: label 10 of record 1 (offset 3073)");
  g_unlink (b3);
  load_fails (dir, NCFM_DATASET_FORMAT_CIFAR10, NULL, 0, 0, NCFM_DATASET_ERROR_NOT_FOUND, b3);
}

static void
test_cifar100 (void)
{
  g_autofree gchar *dir = make_dir ("c100");
  g_autofree gchar *tr = g_build_filename (dir, "train.bin", NULL);
  g_autofree gchar *te = g_build_filename (dir, "test.bin", NULL);
  const guint8 labels[] = { 0, 99, 19, 0, 7, 42 };   /* (coarse, fine) per record */

  write_cifar (tr, 0, 3, 2, labels);
  write_cifar (te, 50, 1, 2, labels + 2);
  g_autoptr (NcfmDataset) fine = load_ok (dir, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, NULL);
  g_autoptr (NcfmDataset) coarse = load_ok (dir, NCFM_DATASET_FORMAT_CIFAR100, NULL, 0,
      NCFM_DATASET_FLAGS_COARSE_LABELS, NULL);
  g_autoptr (NcfmDataset) test = load_ok (dir, NCFM_DATASET_FORMAT_CIFAR100, "test", 0, 0, NULL);

  g_assert_cmpuint (ncfm_dataset_get_format (fine), ==, NCFM_DATASET_FORMAT_CIFAR100);
  g_assert_cmpuint (ncfm_dataset_get_num_classes (fine), ==, 100);
  g_assert_cmpuint (ncfm_dataset_get_num_classes (coarse), ==, 20);
  g_assert_cmpstr (ncfm_dataset_get_class_name (fine, 0), ==, "apple");
  g_assert_cmpstr (ncfm_dataset_get_class_name (fine, 99), ==, "worm");
  g_assert_cmpstr (ncfm_dataset_get_class_name (coarse, 19), ==, "vehicles_2");
  for (guint i = 0; i < 3; i++) {
    g_assert_cmpint (ncfm_dataset_get_label (fine, i), ==, labels[2 * i + 1]);
    g_assert_cmpint (ncfm_dataset_get_label (coarse, i), ==, labels[2 * i]);
    g_assert_cmpuint (((const guint8 *) ncfm_dataset_peek_image (fine, i))[3071], ==,
        cifar_pixel (i, 3071));
  }
  g_assert_cmpint (ncfm_dataset_get_label (test, 0), ==, 0);
  g_assert_cmpfloat (ncfm_dataset_get_mean (fine, 1), ==, 0.4822f);

  write_cifar (tr, 0, 3, 2, (const guint8[]) { 0, 1, 2, 100, 3, 4 });
  load_fails (dir, NCFM_DATASET_FORMAT_CIFAR100, NULL, 0, 0, NCFM_DATASET_ERROR_LABELS,
      "train.bin: label 100 of record 1 (offset 3075)");
  write_cifar (tr, 0, 3, 2, (const guint8[]) { 0, 1, 20, 1, 3, 4 });
  load_fails (dir, NCFM_DATASET_FORMAT_CIFAR100, NULL, 0, 0, NCFM_DATASET_ERROR_LABELS, tr);
  write_file (tr, "", 0);
  load_fails (dir, NCFM_DATASET_FORMAT_CIFAR100, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, tr);
}

/* ---- ImageFolder: JPEG and PNG writers --------------------------------- */

static void
write_jpeg (const gchar *path, guint w, guint h, const guint8 *rgb)
{
  struct jpeg_compress_struct ci;
  struct jpeg_error_mgr jerr;
  unsigned char *out = NULL;
  unsigned long out_len = 0;

  ci.err = jpeg_std_error (&jerr);
  jpeg_create_compress (&ci);
  jpeg_mem_dest (&ci, &out, &out_len);
  ci.image_width = w;
  ci.image_height = h;
  ci.input_components = 3;
  ci.in_color_space = JCS_RGB;
  jpeg_set_defaults (&ci);
  jpeg_set_quality (&ci, 100, TRUE);
  jpeg_start_compress (&ci, TRUE);
  for (guint y = 0; y < h; y++) {
    JSAMPROW row = (JSAMPROW) rgb + (gsize) y * w * 3;
    jpeg_write_scanlines (&ci, &row, 1);
  }
  jpeg_finish_compress (&ci);
  jpeg_destroy_compress (&ci);
  write_file (path, out, out_len);
  free (out);
}

/* @data rows of w * channels samples of bit_depth bits (16-bit big-endian). */
static void
write_png (const gchar *path, guint w, guint h, int bit_depth, int color, const guint8 *data,
    const png_color *palette, int n_palette)
{
  FILE *f = fopen (path, "wb");
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  int channels = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGBA ? 4
      : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
  gsize stride = (gsize) w * channels * (bit_depth == 16 ? 2 : 1);

  g_assert_nonnull (f);
  png_init_io (png, f);
  png_set_IHDR (png, info, w, h, bit_depth, color, PNG_INTERLACE_NONE,
      PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette)
    png_set_PLTE (png, info, palette, n_palette);
  png_write_info (png, info);
  for (guint y = 0; y < h; y++)
    png_write_row (png, data + y * stride);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  fclose (f);
}

/* ---- ImageFolder ------------------------------------------------------- */

/* Test images, 4x4: RGB pattern, gradient grey, palette, RGBA, grey+alpha, 16-bit. */
static guint8
rgb_pattern (guint y, guint x, guint ch)
{
  return (guint8) (y * 40 + x * 10 + ch * 70 + 5);
}

static guint8
gradient (guint y, guint x)
{
  return (guint8) (10 * y + 20 * x);
}

static const png_color palette[3] = { { 255, 0, 0 }, { 0, 128, 0 }, { 1, 2, 3 } };

static void
write_test_png (const gchar *path, const gchar *kind, guint side)
{
  guint8 buf[16 * 16 * 8];
  for (guint y = 0; y < side; y++)
    for (guint x = 0; x < side; x++) {
      guint p = y * side + x;
      if (strcmp (kind, "rgb") == 0 || strcmp (kind, "rgba") == 0) {
        guint c = kind[3] ? 4 : 3;
        for (guint ch = 0; ch < 3; ch++)
          buf[p * c + ch] = rgb_pattern (y, x, ch);
        if (c == 4)
          buf[p * c + 3] = (guint8) (p * 16);
      } else if (strcmp (kind, "gray") == 0) {
        buf[p] = gradient (y, x);
      } else if (strcmp (kind, "ga") == 0) {
        buf[2 * p] = gradient (y, x);
        buf[2 * p + 1] = (guint8) (255 - p);
      } else if (strcmp (kind, "pal") == 0) {
        buf[p] = (guint8) (p % 3);
      } else {                  /* rgb16: big-endian samples, high byte = the pattern */
        for (guint ch = 0; ch < 3; ch++) {
          buf[6 * p + 2 * ch] = rgb_pattern (y, x, ch);
          buf[6 * p + 2 * ch + 1] = 0x7f;
        }
      }
    }
  if (strcmp (kind, "rgb") == 0)
    write_png (path, side, side, 8, PNG_COLOR_TYPE_RGB, buf, NULL, 0);
  else if (strcmp (kind, "rgba") == 0)
    write_png (path, side, side, 8, PNG_COLOR_TYPE_RGBA, buf, NULL, 0);
  else if (strcmp (kind, "gray") == 0)
    write_png (path, side, side, 8, PNG_COLOR_TYPE_GRAY, buf, NULL, 0);
  else if (strcmp (kind, "ga") == 0)
    write_png (path, side, side, 8, PNG_COLOR_TYPE_GRAY_ALPHA, buf, NULL, 0);
  else if (strcmp (kind, "pal") == 0)
    write_png (path, side, side, 8, PNG_COLOR_TYPE_PALETTE, buf, palette, 3);
  else
    write_png (path, side, side, 16, PNG_COLOR_TYPE_RGB, buf, NULL, 0);
}

static void
write_test_jpeg (const gchar *path)
{
  guint8 rgb[4 * 4 * 3];
  for (guint p = 0; p < 16; p++) {
    rgb[3 * p] = 200;
    rgb[3 * p + 1] = 100;
    rgb[3 * p + 2] = 50;
  }
  write_jpeg (path, 4, 4, rgb);
}

/* root/train/{a_cat,b_dog,c_owl}: 7 images, created in reverse order. */
static gchar *
make_tree (const gchar *name)
{
  gchar *root = make_dir (name);
  static const gchar *const files[][2] = {
    { "c_owl/rgba.png", "rgba" }, { "c_owl/h16.png", "rgb16" }, { "c_owl/ga.png", "ga" },
    { "b_dog/p.png", "pal" }, { "b_dog/g.png", "gray" }, { "a_cat/2.jpg", "jpeg" },
    { "a_cat/1.png", "rgb" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree gchar *p = g_build_filename (root, "train", files[i][0], NULL);
    g_autofree gchar *d = g_path_get_dirname (p);
    g_mkdir_with_parents (d, 0755);
    if (strcmp (files[i][1], "jpeg") == 0)
      write_test_jpeg (p);
    else
      write_test_png (p, files[i][1], 4);
  }
  return root;
}

static guint8
px (NcfmDataset *ds, guint i, guint ch, guint y, guint x)
{
  const guint h = ncfm_dataset_get_height (ds), w = ncfm_dataset_get_width (ds);
  return ((const guint8 *) ncfm_dataset_peek_image (ds, i))[(ch * h + y) * w + x];
}

static void
test_imagefolder (void)
{
  g_autofree gchar *root = make_tree ("folder");
  g_autofree gchar *cache = g_build_filename (tmp_root, "cache-folder", NULL);
  g_autoptr (NcfmDataset) ds = load_ok (root, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, cache);
  g_autoptr (NcfmDataset) small = load_ok (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, "train", 2,
      0, cache);
  g_autoptr (NcfmDataset) big = load_ok (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, "train", 8, 0,
      cache);
  const gint32 labels[7] = { 0, 0, 1, 1, 2, 2, 2 };

  g_assert_cmpuint (ncfm_dataset_get_format (ds), ==, NCFM_DATASET_FORMAT_IMAGEFOLDER);
  g_assert_cmpstr (ncfm_dataset_get_name (ds), ==, "folder");
  g_assert_cmpuint (ncfm_dataset_get_n_images (ds), ==, 7);
  g_assert_cmpuint (ncfm_dataset_get_channels (ds), ==, 3);
  g_assert_cmpuint (ncfm_dataset_get_height (ds), ==, 4);
  g_assert_cmpuint (ncfm_dataset_get_num_classes (ds), ==, 3);
  g_assert_cmpstr (ncfm_dataset_get_class_name (ds, 0), ==, "a_cat");
  g_assert_cmpstr (ncfm_dataset_get_class_name (ds, 2), ==, "c_owl");
  g_assert_cmpuint (ncfm_dataset_get_n_skipped (ds), ==, 0);
  for (guint i = 0; i < 7; i++)
    g_assert_cmpint (ncfm_dataset_get_label (ds, i), ==, labels[i]);
  for (guint y = 0; y < 4; y++)
    for (guint x = 0; x < 4; x++) {
      guint p = y * 4 + x;
      for (guint ch = 0; ch < 3; ch++) {
        g_assert_cmpuint (px (ds, 0, ch, y, x), ==, rgb_pattern (y, x, ch));     /* RGB */
        g_assert_cmpuint (px (ds, 2, ch, y, x), ==, gradient (y, x));            /* grey */
        const guint8 pal[3] = { palette[p % 3].red, palette[p % 3].green, palette[p % 3].blue };
        g_assert_cmpuint (px (ds, 3, ch, y, x), ==, pal[ch]);                    /* palette */
        g_assert_cmpuint (px (ds, 4, ch, y, x), ==, gradient (y, x));            /* grey+alpha */
        g_assert_cmpuint (px (ds, 5, ch, y, x), ==, rgb_pattern (y, x, ch));     /* 16-bit */
        g_assert_cmpuint (px (ds, 6, ch, y, x), ==, rgb_pattern (y, x, ch));     /* RGBA */
      }
    }
  /* the JPEG: a flat (200, 100, 50) survives quality 100 within rounding */
  g_assert_cmpint (abs (px (ds, 1, 0, 2, 2) - 200), <=, 2);
  g_assert_cmpint (abs (px (ds, 1, 1, 2, 2) - 100), <=, 2);
  g_assert_cmpint (abs (px (ds, 1, 2, 2, 2) - 50), <=, 2);
  assert_stats_computed (ds);

  /* bilinear, align_corners=False: 4 -> 2 averages 2x2 blocks; 4 -> 8 at the corner */
  const guint8 want[2][2] = { { 15, 55 }, { 35, 75 } };
  for (guint y = 0; y < 2; y++)
    for (guint x = 0; x < 2; x++)
      for (guint ch = 0; ch < 3; ch++)
        g_assert_cmpuint (px (small, 2, ch, y, x), ==, want[y][x]);
  g_assert_cmpuint (ncfm_dataset_get_width (big), ==, 8);
  g_assert_cmpuint (px (big, 2, 0, 0, 0), ==, 0);
  g_assert_cmpuint (px (big, 2, 0, 0, 1), ==, 5);    /* src x 0.25: 0.75 * 0 + 0.25 * 20 */
  g_assert_cmpuint (px (big, 2, 0, 7, 7), ==, gradient (3, 3));

  load_fails (root, NCFM_DATASET_FORMAT_AUTO, "val", 0, 0, NCFM_DATASET_ERROR_NOT_FOUND, "val");
}

static void
test_imagefolder_errors (void)
{
  g_autofree gchar *root = make_dir ("bad");
  g_autofree gchar *cache = g_build_filename (tmp_root, "cache-bad", NULL);
  g_autofree gchar *a = g_build_filename (root, "train", "a", NULL);
  g_autofree gchar *b = g_build_filename (root, "train", "b", NULL);
  g_autofree gchar *ok_a = g_build_filename (a, "ok.png", NULL);
  g_autofree gchar *ok_b = g_build_filename (b, "ok.png", NULL);
  g_autofree gchar *corrupt = g_build_filename (a, "zz.jpg", NULL);
  g_autofree gchar *text = g_build_filename (b, "readme.txt", NULL);
  g_autofree gchar *odd = g_build_filename (b, "odd.png", NULL);
  g_autofree gchar *c = g_build_filename (root, "train", "c", NULL);
  GError *error = NULL;

  g_mkdir_with_parents (a, 0755);
  g_mkdir_with_parents (b, 0755);
  write_test_png (ok_a, "rgb", 4);
  write_test_png (ok_b, "gray", 4);
  write_test_jpeg (corrupt);
  {
    g_autoptr (GBytes) j = read_file (corrupt);
    write_file (corrupt, g_bytes_get_data (j, NULL), g_bytes_get_size (j) / 2);
  }
  write_file (text, "not an image\n", 13);

  /* lenient: both skipped, warned about by name, counted */
  {
    g_autoptr (NcfmDataset) ds = load_ok (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0, 0,
        cache);
    g_assert_cmpuint (ncfm_dataset_get_n_images (ds), ==, 2);
    g_assert_cmpuint (ncfm_dataset_get_n_skipped (ds), ==, 2);
    g_assert_cmpint (ncfm_dataset_get_label (ds, 1), ==, 1);
    g_assert_cmpuint (take_warnings ("zz.jpg"), ==, 2);
    g_autoptr (NcfmDataset) again = load_ok (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0, 0,
        cache);
    g_assert_true (ncfm_dataset_get_from_cache (again));
    g_assert_cmpuint (ncfm_dataset_get_n_skipped (again), ==, 2);
  }
  g_assert_cmpuint (take_warnings (NULL), ==, 0);
  /* strict: the first bad file is the error (the lenient cache is not trusted) */
  error = NULL;
  g_assert_null (ncfm_dataset_load (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0,
          NCFM_DATASET_FLAGS_STRICT, cache, &error));
  assert_error (&error, NCFM_DATASET_ERROR_IMAGE, corrupt);
  g_unlink (corrupt);
  g_assert_null (ncfm_dataset_load (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0,
          NCFM_DATASET_FLAGS_STRICT | NCFM_DATASET_FLAGS_NO_CACHE, NULL, &error));
  assert_error (&error, NCFM_DATASET_ERROR_IMAGE, text);
  g_unlink (text);

  /* sizes differ: an error with image_size 0, resized otherwise */
  write_test_png (odd, "rgb", 5);
  load_fails (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0, NCFM_DATASET_FLAGS_NO_CACHE,
      NCFM_DATASET_ERROR_IMAGE, odd);
  {
    g_autoptr (NcfmDataset) ds = load_ok (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 4, 0,
        cache);
    g_assert_cmpuint (ncfm_dataset_get_n_images (ds), ==, 3);
  }
  /* a class folder whose only file is not an image */
  write_file (ok_b, "junk", 4);
  g_unlink (odd);
  load_fails (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0, NCFM_DATASET_FLAGS_NO_CACHE,
      NCFM_DATASET_ERROR_EMPTY, b);
  take_warnings ("ok.png");
  write_test_png (ok_b, "gray", 4);
  /* an empty class folder */
  g_mkdir_with_parents (c, 0755);
  load_fails (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0, NCFM_DATASET_FLAGS_NO_CACHE,
      NCFM_DATASET_ERROR_EMPTY, c);
  g_rmdir (c);
  /* a split without class folders */
  g_autofree gchar *t = g_build_filename (root, "test", NULL);
  g_mkdir_with_parents (t, 0755);
  load_fails (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, "test", 0, NCFM_DATASET_FLAGS_NO_CACHE,
      NCFM_DATASET_ERROR_EMPTY, t);
  /* a cache folder that cannot be created */
  g_autofree gchar *blocker = g_build_filename (tmp_root, "blocker", NULL);
  g_autofree gchar *under = g_build_filename (blocker, "sub", NULL);
  write_file (blocker, "x", 1);
  g_assert_null (ncfm_dataset_load (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0, 0, under,
          &error));
  assert_error (&error, NCFM_DATASET_ERROR_CACHE, under);
}

/* ---- the decoded cache ------------------------------------------------- */

static gchar *
only_cache_file (const gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *e;
  gchar *found = NULL;
  guint n = 0;
  while (d && (e = g_dir_read_name (d)))
    if (e[0] != '.') {
      n++;
      g_free (found);
      found = g_build_filename (dir, e, NULL);
    }
  g_assert_cmpuint (n, ==, 1);
  return found;
}

/* Loads the tree, asserts where the pixels came from and that they are @ref's. */
static void
load_cached (const gchar *root, const gchar *cache, gboolean want_hit, NcfmDataset *ref)
{
  g_autoptr (NcfmDataset) ds = load_ok (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0, 0,
      cache);
  g_autoptr (GBytes) a = ncfm_dataset_get_images (ds), b = ncfm_dataset_get_images (ref);
  g_autoptr (GBytes) la = ncfm_dataset_get_labels (ds), lb = ncfm_dataset_get_labels (ref);
  g_assert_cmpint (ncfm_dataset_get_from_cache (ds), ==, want_hit);
  g_assert_true (g_bytes_equal (a, b));
  g_assert_true (g_bytes_equal (la, lb));
  for (guint k = 0; k < ncfm_dataset_get_num_classes (ref); k++)
    g_assert_cmpstr (ncfm_dataset_get_class_name (ds, k), ==,
        ncfm_dataset_get_class_name (ref, k));
  for (guint ch = 0; ch < 3; ch++) {
    g_assert_cmpfloat (ncfm_dataset_get_mean (ds, ch), ==, ncfm_dataset_get_mean (ref, ch));
    g_assert_cmpfloat (ncfm_dataset_get_std (ds, ch), ==, ncfm_dataset_get_std (ref, ch));
  }
}

static void
set_mtime (const gchar *path, const struct timespec *when)
{
  struct timespec t[2] = { *when, *when };
  g_assert_cmpint (utimensat (AT_FDCWD, path, t, 0), ==, 0);
}

static void
test_cache (void)
{
  g_autofree gchar *root = make_tree ("cached");
  g_autofree gchar *cache = g_build_filename (tmp_root, "cache-cached", NULL);
  g_autofree gchar *img = g_build_filename (root, "train", "b_dog", "g.png", NULL);
  g_autoptr (NcfmDataset) ref = load_ok (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0,
      NCFM_DATASET_FLAGS_NO_CACHE, cache);
  GStatBuf st;

  g_assert_false (g_file_test (cache, G_FILE_TEST_EXISTS));    /* NO_CACHE writes nothing */
  load_cached (root, cache, FALSE, ref);
  g_autofree gchar *file = only_cache_file (cache);
  load_cached (root, cache, TRUE, ref);

  /* a hit does not decode: same-size garbage with the old mtime goes unnoticed */
  g_autoptr (GBytes) orig = read_file (img);
  g_assert_cmpint (g_stat (img, &st), ==, 0);
  g_autofree guint8 *zeros = g_malloc0 (g_bytes_get_size (orig));
  write_file (img, zeros, g_bytes_get_size (orig));
  set_mtime (img, &st.st_mtim);
  load_cached (root, cache, TRUE, ref);
  write_file (img, g_bytes_get_data (orig, NULL), g_bytes_get_size (orig));

  /* stale: a touched file, an added file */
  struct timespec later = st.st_mtim;
  later.tv_sec += 10;
  set_mtime (img, &later);
  load_cached (root, cache, FALSE, ref);
  load_cached (root, cache, TRUE, ref);
  g_autofree gchar *extra = g_build_filename (root, "train", "c_owl", "zzz.png", NULL);
  write_test_png (extra, "gray", 4);
  {
    g_autoptr (NcfmDataset) ds = load_ok (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0, 0,
        cache);
    g_assert_false (ncfm_dataset_get_from_cache (ds));
    g_assert_cmpuint (ncfm_dataset_get_n_images (ds), ==, 8);
  }
  g_unlink (extra);
  load_cached (root, cache, FALSE, ref);
  {
    g_autofree gchar *same = only_cache_file (cache);
    g_assert_cmpstr (same, ==, file);                     /* rebuilt in place */
  }

  /* corrupt: a payload byte, a header byte, truncations */
  g_autoptr (GBytes) good = read_file (file);
  gsize len = g_bytes_get_size (good);
  g_autofree guint8 *bad = g_memdup2 (g_bytes_get_data (good, NULL), len);
  const gsize flips[] = { len - 1, len / 2, 130, 20, 0, 104 };
  for (guint i = 0; i < G_N_ELEMENTS (flips); i++) {
    bad[flips[i]] ^= 0x10;
    write_file (file, bad, len);
    bad[flips[i]] ^= 0x10;
    load_cached (root, cache, FALSE, ref);
    load_cached (root, cache, TRUE, ref);
  }
  const gsize cuts[] = { 0, 50, 128, len / 2, len - 1 };
  for (guint i = 0; i < G_N_ELEMENTS (cuts); i++) {
    write_file (file, bad, cuts[i]);
    load_cached (root, cache, FALSE, ref);
  }

  /* the default location: $XDG_CACHE_HOME/gst-ncfm (set in main) */
  g_autofree gchar *xdg = g_build_filename (g_get_user_cache_dir (), "gst-ncfm", NULL);
  g_autoptr (NcfmDataset) d = load_ok (root, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0, 0, NULL);
  g_free (only_cache_file (xdg));
}

/* ---- synthetic sets ---------------------------------------------------- */

/* An independent bilinear (align_corners=False) of one plane. */
static float
bilinear_at (const float *x, int h_in, int w_in, int h_out, int w_out, int oy, int ox)
{
  float sy = MAX ((oy + 0.5f) * h_in / h_out - 0.5f, 0.0f);
  float sx = MAX ((ox + 0.5f) * w_in / w_out - 0.5f, 0.0f);
  int y0 = MIN ((int) sy, h_in - 1), x0 = MIN ((int) sx, w_in - 1);
  int y1 = MIN (y0 + 1, h_in - 1), x1 = MIN (x0 + 1, w_in - 1);
  float fy = sy - y0, fx = sx - x0;
  return (1 - fy) * ((1 - fx) * x[y0 * w_in + x0] + fx * x[y0 * w_in + x1])
      + fy * ((1 - fx) * x[y1 * w_in + x0] + fx * x[y1 * w_in + x1]);
}

static gchar *
write_synset (const gchar *name, const gchar *factor, NcfmDType label_dtype,
    const gchar *format, gint64 bad_label)
{
  g_autoptr (NcfmSafetensors) st = ncfm_safetensors_new ();
  g_autoptr (GError) error = NULL;
  const gint64 ishape[4] = { 2, 2, 4, 4 }, lshape[1] = { 2 };
  float images[2 * 2 * 16];
  gint64 l64[2] = { 1, bad_label };
  gint32 l32[2] = { 1, (gint32) bad_label };
  gchar *path = g_build_filename (tmp_root, name, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (images); i++)
    images[i] = (float) i / G_N_ELEMENTS (images);
  ncfm_safetensors_set (st, "images", NCFM_DTYPE_F32, ishape, 4, images, sizeof images);
  if (label_dtype == NCFM_DTYPE_I64)
    ncfm_safetensors_set (st, "labels", NCFM_DTYPE_I64, lshape, 1, l64, sizeof l64);
  else
    ncfm_safetensors_set (st, "labels", NCFM_DTYPE_I32, lshape, 1, l32, sizeof l32);
  ncfm_safetensors_set_metadata (st, "ncfm.format", format);
  ncfm_safetensors_set_metadata (st, "ncfm.format_version", "1");
  ncfm_safetensors_set_metadata (st, "ncfm.class_names", "[\"zero\", \"one\", \"two\"]");
  ncfm_safetensors_set_metadata (st, "ncfm.mean", "[0.25, 0.5]");
  ncfm_safetensors_set_metadata (st, "ncfm.std", "[0.125, 1]");
  ncfm_safetensors_set_metadata (st, "ncfm.factor", factor);
  ncfm_safetensors_set_metadata (st, "ncfm.dataset", "toy");
  g_assert_true (ncfm_safetensors_save (st, path, &error));
  g_assert_no_error (error);
  return path;
}

static void
test_synset (void)
{
  g_autofree gchar *one = write_synset ("syn1.safetensors", "1", NCFM_DTYPE_I64, "synset", 2);
  g_autofree gchar *two = write_synset ("syn2.safetensors", "2", NCFM_DTYPE_I32, "synset", 0);
  g_autoptr (NcfmDataset) a = load_ok (one, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, NULL);
  g_autoptr (NcfmDataset) b = load_ok (two, NCFM_DATASET_FORMAT_SYNSET, NULL, 0, 0, NULL);

  g_assert_cmpuint (ncfm_dataset_get_format (a), ==, NCFM_DATASET_FORMAT_SYNSET);
  g_assert_cmpint (ncfm_dataset_get_dtype (a), ==, NCFM_DTYPE_F32);
  g_assert_cmpstr (ncfm_dataset_get_name (a), ==, "toy");
  g_assert_cmpuint (ncfm_dataset_get_n_images (a), ==, 2);
  g_assert_cmpuint (ncfm_dataset_get_num_classes (a), ==, 3);
  g_assert_cmpstr (ncfm_dataset_get_class_name (a, 2), ==, "two");
  g_assert_cmpint (ncfm_dataset_get_label (a, 1), ==, 2);
  g_assert_cmpfloat (ncfm_dataset_get_mean (a, 1), ==, 0.5f);
  g_assert_cmpfloat (ncfm_dataset_get_std (a, 0), ==, 0.125f);
  g_assert_cmpfloat (((const float *) ncfm_dataset_peek_image (a, 1))[5], ==, 37.0f / 64);

  /* factor 2: every stored image -> its 4 tiles (2x2 each) upsampled to 4x4 */
  g_assert_cmpuint (ncfm_dataset_get_n_images (b), ==, 8);
  g_assert_cmpuint (ncfm_dataset_get_height (b), ==, 4);
  for (guint i = 0; i < 8; i++) {
    const float *got = ncfm_dataset_peek_image (b, i);
    const float *src = (const float *) ncfm_dataset_peek_image (a, 0);   /* same pixels */
    guint img = i / 4, t = i % 4, ty = t / 2, tx = t % 2;
    g_assert_cmpint (ncfm_dataset_get_label (b, i), ==, img ? 0 : 1);
    for (guint ch = 0; ch < 2; ch++) {
      float tile[4];
      for (guint y = 0; y < 2; y++)
        for (guint x = 0; x < 2; x++)
          tile[y * 2 + x] = src[((img * 2 + ch) * 4 + ty * 2 + y) * 4 + tx * 2 + x];
      for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
          g_assert_cmpfloat_with_epsilon (got[(ch * 4 + y) * 4 + x],
              bilinear_at (tile, 2, 2, 4, 4, y, x), 1e-6);
    }
  }

  g_autofree gchar *fmt = write_synset ("bad1.safetensors", "1", NCFM_DTYPE_I64, "weights", 0);
  load_fails (fmt, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, fmt);
  g_autofree gchar *lab = write_synset ("bad2.safetensors", "1", NCFM_DTYPE_I64, "synset", 3);
  load_fails (lab, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, NCFM_DATASET_ERROR_LABELS, lab);
  g_autofree gchar *fac = write_synset ("bad3.safetensors", "3", NCFM_DTYPE_I64, "synset", 0);
  load_fails (fac, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, fac);
  g_autofree gchar *missing = g_build_filename (tmp_root, "none.safetensors", NULL);
  load_fails (missing, NCFM_DATASET_FORMAT_SYNSET, NULL, 0, 0, NCFM_DATASET_ERROR_NOT_FOUND,
      missing);
}

/* ---- in memory, format guessing, the real Fashion-MNIST --------------- */

static void
test_new_from_data (void)
{
  const guint8 pixels[3 * 4] = { 0, 255, 0, 255, 10, 10, 10, 10, 1, 2, 3, 4 };
  const gint32 labels[3] = { 2, 0, 2 };
  g_autoptr (GBytes) im = g_bytes_new_static (pixels, sizeof pixels);
  g_autoptr (GBytes) lb = g_bytes_new_static (labels, sizeof labels);
  g_autoptr (GBytes) short_im = g_bytes_new_static (pixels, 11);
  const gchar *const names[] = { "x", NULL };
  const gfloat mean[4] = { 0.5f }, std[4] = { 0.25f };
  GError *error = NULL;
  guint n;

  g_autoptr (NcfmDataset) ds = ncfm_dataset_new_from_data ("mem", NCFM_DTYPE_U8, 3, 1, 2, 2,
      im, lb, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ncfm_dataset_get_num_classes (ds), ==, 3);
  g_assert_cmpstr (ncfm_dataset_get_class_name (ds, 1), ==, "1");
  g_assert_null (ncfm_dataset_get_class_name (ds, 3));
  g_autofree guint *twos = ncfm_dataset_get_class_indices (ds, 2, &n);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (twos[1], ==, 2);
  g_assert_null (ncfm_dataset_get_class_indices (ds, 1, &n));
  g_assert_cmpuint (n, ==, 0);
  assert_stats_computed (ds);
  g_autoptr (NcfmDataset) given = ncfm_dataset_new_from_data ("mem", NCFM_DTYPE_U8, 3, 1, 2, 2,
      im, lb, NULL, mean, std, &error);
  g_assert_cmpfloat (ncfm_dataset_get_std (given, 0), ==, 0.25f);

  g_assert_null (ncfm_dataset_new_from_data ("mem", NCFM_DTYPE_U8, 3, 1, 2, 2, short_im, lb,
          NULL, NULL, NULL, &error));
  assert_error (&error, NCFM_DATASET_ERROR_FORMAT, "mem");
  g_assert_null (ncfm_dataset_new_from_data ("mem", NCFM_DTYPE_U8, 3, 1, 2, 2, im, lb, names,
          NULL, NULL, &error));
  assert_error (&error, NCFM_DATASET_ERROR_LABELS, "mem");
  g_assert_null (ncfm_dataset_new_from_data ("mem", NCFM_DTYPE_I64, 3, 1, 2, 2, im, lb, NULL,
          NULL, NULL, &error));
  assert_error (&error, NCFM_DATASET_ERROR_FORMAT, "mem");
}

static void
test_guess (void)
{
  g_autofree gchar *empty = make_dir ("nothing");
  g_autofree gchar *missing = g_build_filename (tmp_root, "missing", NULL);
  g_autofree gchar *plain = g_build_filename (tmp_root, "plain.txt", NULL);
  NcfmDatasetFormat f;

  write_file (plain, "x", 1);
  load_fails (missing, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, NCFM_DATASET_ERROR_NOT_FOUND,
      missing);
  load_fails (empty, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, NCFM_DATASET_ERROR_NOT_FOUND, empty);
  load_fails (plain, NCFM_DATASET_FORMAT_AUTO, NULL, 0, 0, NCFM_DATASET_ERROR_FORMAT, plain);
  for (guint i = 0; i <= NCFM_DATASET_FORMAT_SYNSET; i++) {
    g_assert_true (ncfm_dataset_format_from_string (ncfm_dataset_format_to_string (i), &f));
    g_assert_cmpuint (f, ==, i);
  }
  g_assert_false (ncfm_dataset_format_from_string ("jpeg", &f));
}

static void
test_fashion_mnist (void)
{
  if (!g_file_test (NCFM_DEFAULT_DATASET, G_FILE_TEST_IS_DIR)) {
    g_test_skip ("no " NCFM_DEFAULT_DATASET " (apt-get install dataset-fashion-mnist)");
    return;
  }
  g_autoptr (NcfmDataset) tr = load_ok (NCFM_DEFAULT_DATASET, NCFM_DATASET_FORMAT_AUTO, NULL,
      0, 0, NULL);
  g_autoptr (NcfmDataset) te = load_ok (NCFM_DEFAULT_DATASET, NCFM_DATASET_FORMAT_IDX, "test",
      28, 0, NULL);
  float mean[1], std[1];
  guint n;

  g_assert_cmpstr (ncfm_dataset_get_name (tr), ==, "fashion-mnist");
  g_assert_cmpuint (ncfm_dataset_get_n_images (tr), ==, 60000);
  g_assert_cmpuint (ncfm_dataset_get_n_images (te), ==, 10000);
  g_assert_cmpuint (ncfm_dataset_get_channels (tr), ==, 1);
  g_assert_cmpuint (ncfm_dataset_get_height (tr), ==, 28);
  g_assert_cmpuint (ncfm_dataset_get_width (tr), ==, 28);
  g_assert_cmpuint (ncfm_dataset_get_num_classes (tr), ==, 10);
  g_assert_cmpint (ncfm_dataset_get_label (tr, 0), ==, 9);
  g_assert_cmpint (ncfm_dataset_get_label (tr, 1), ==, 0);
  g_assert_cmpstr (ncfm_dataset_get_class_name (tr, 9), ==, "Ankle boot");
  for (guint k = 0; k < 10; k++) {
    g_autofree guint *idx = ncfm_dataset_get_class_indices (tr, k, &n);
    g_assert_cmpuint (n, ==, 6000);
  }
  g_assert_cmpfloat_with_epsilon (ncfm_dataset_get_mean (tr, 0), 0.2861, 1e-6);
  g_autoptr (GBytes) px = ncfm_dataset_get_images (tr);
  g_autoptr (GBytes) lb = ncfm_dataset_get_labels (tr);
  g_autoptr (NcfmDataset) computed = ncfm_dataset_new_from_data ("f", NCFM_DTYPE_U8, 60000, 1,
      28, 28, px, lb, NULL, NULL, NULL, NULL);
  mean[0] = ncfm_dataset_get_mean (computed, 0);
  std[0] = ncfm_dataset_get_std (computed, 0);
  g_test_message ("Fashion-MNIST train mean %.4f std %.4f", mean[0], std[0]);
  g_assert_cmpfloat_with_epsilon (mean[0], 0.2860, 5e-4);
  g_assert_cmpfloat_with_epsilon (std[0], 0.3530, 5e-4);
}

/* ---- fuzz: truncations and seeded byte flips never crash ------------- */

typedef gboolean (*Mutated) (const gchar *dir, gpointer data);

static void
fuzz_file (const gchar *path, const gchar *dir, guint cut_step, guint n_flips, Mutated check,
    gpointer data)
{
  g_autoptr (GBytes) good = read_file (path);
  gsize len = g_bytes_get_size (good);
  g_autofree guint8 *buf = g_memdup2 (g_bytes_get_data (good, NULL), len);
  g_autoptr (GRand) rng = g_rand_new_with_seed (1234);
  guint ok = 0, failed = 0;

  for (gsize cut = 0; cut < len; cut += cut_step) {
    write_file (path, buf, cut);
    check (dir, data) ? ok++ : failed++;
  }
  for (guint i = 0; i < n_flips; i++) {
    guint n = g_rand_int_range (rng, 1, 4);
    gsize at[3];
    guint8 old[3];
    for (guint k = 0; k < n; k++) {
      /* mostly the first 200 bytes, where the headers are */
      at[k] = g_rand_boolean (rng) ? g_rand_int_range (rng, 0, MIN (len, 200))
          : g_rand_int_range (rng, 0, len);
      old[k] = buf[at[k]];
      buf[at[k]] ^= (guint8) g_rand_int_range (rng, 1, 256);
    }
    write_file (path, buf, len);
    check (dir, data) ? ok++ : failed++;
    for (guint k = n; k-- > 0;)
      buf[at[k]] = old[k];
  }
  write_file (path, buf, len);
  g_test_message ("fuzz %s: %u loads succeeded, %u failed cleanly", path, ok, failed);
}

static gboolean
try_load (const gchar *dir, gpointer data)
{
  GError *error = NULL;
  NcfmDataset *ds = ncfm_dataset_load (dir, GPOINTER_TO_INT (data), NULL, 0, 0, NULL, &error);
  if (!ds) {
    g_assert_true (error && error->domain == NCFM_DATASET_ERROR);
    g_clear_error (&error);
    return FALSE;
  }
  g_object_unref (ds);
  return TRUE;
}

static gboolean
cache_load (const gchar *dir, gpointer data)
{
  NcfmDataset *ref = data;
  g_autofree gchar *cache = g_build_filename (tmp_root, "cache-fuzz", NULL);
  load_cached (dir, cache, FALSE, ref);
  return TRUE;
}

static void
test_fuzz (void)
{
  g_autofree gchar *idx = make_idx ("fuzz-idx", FALSE);
  g_autofree gchar *gz = make_idx ("fuzz-gz", TRUE);
  g_autofree gchar *c10 = make_cifar10 ("fuzz-c10");
  g_autofree gchar *tree = make_tree ("fuzz-tree");
  g_autofree gchar *cache = g_build_filename (tmp_root, "cache-fuzz", NULL);
  g_autofree gchar *a = g_build_filename (idx, "train-images-idx3-ubyte", NULL);
  g_autofree gchar *b = g_build_filename (idx, "train-labels-idx1-ubyte", NULL);
  g_autofree gchar *c = g_build_filename (gz, "train-images-idx3-ubyte.gz", NULL);
  g_autofree gchar *d = g_build_filename (c10, "data_batch_2.bin", NULL);

  fuzz_file (a, idx, 1, 300, try_load, GINT_TO_POINTER (NCFM_DATASET_FORMAT_IDX));
  fuzz_file (b, idx, 1, 300, try_load, GINT_TO_POINTER (NCFM_DATASET_FORMAT_IDX));
  fuzz_file (c, gz, 1, 300, try_load, GINT_TO_POINTER (NCFM_DATASET_FORMAT_IDX));
  fuzz_file (d, c10, 61, 300, try_load, GINT_TO_POINTER (NCFM_DATASET_FORMAT_CIFAR10));

  g_autoptr (NcfmDataset) ref = load_ok (tree, NCFM_DATASET_FORMAT_IMAGEFOLDER, NULL, 0, 0,
      cache);
  g_autofree gchar *file = only_cache_file (cache);
  fuzz_file (file, tree, 13, 300, cache_load, ref);
  g_assert_cmpuint (take_warnings (NULL), ==, 0);
}

int
main (int argc, char **argv)
{
  int rc;

  warnings = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (capture_writer, NULL, NULL);
  tmp_root = g_dir_make_tmp ("ncfm-dataset-XXXXXX", NULL);
  g_assert_nonnull (tmp_root);
  {
    /* keep the default cache location inside the scratch folder */
    g_autofree gchar *xdg = g_build_filename (tmp_root, "xdg-cache", NULL);
    g_setenv ("XDG_CACHE_HOME", xdg, TRUE);
  }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dataset/idx", test_idx);
  g_test_add_func ("/dataset/idx/errors", test_idx_errors);
  g_test_add_func ("/dataset/cifar10", test_cifar10);
  g_test_add_func ("/dataset/cifar100", test_cifar100);
  g_test_add_func ("/dataset/imagefolder", test_imagefolder);
  g_test_add_func ("/dataset/imagefolder/errors", test_imagefolder_errors);
  g_test_add_func ("/dataset/imagefolder/cache", test_cache);
  g_test_add_func ("/dataset/synset", test_synset);
  g_test_add_func ("/dataset/new-from-data", test_new_from_data);
  g_test_add_func ("/dataset/guess", test_guess);
  g_test_add_func ("/dataset/fashion-mnist", test_fashion_mnist);
  g_test_add_func ("/dataset/fuzz", test_fuzz);
  rc = g_test_run ();
  ncfm_test_remove_tree (tmp_root);
  g_free (tmp_root);
  g_ptr_array_unref (warnings);
  return rc;
}
