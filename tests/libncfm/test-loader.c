/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-loader.c: NcfmLoader on a small in-memory dataset: normalised values
 * (bit-exact against the same float formula), per-class batches (one class
 * each, round-robin over the subset), mixed epochs covering the set exactly
 * once, the end of the epochs, seeking, reproducibility per seed, errors. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "libncfm-test.h"

/* 3 classes of 7, 5 and 3 images (labels interleaved), 2 channels of 2 x 3.
 * Pixel 0 of image i is i, so a delivered image names itself. */
#define N_IMAGES 15
#define C 2
#define H 2
#define W 3
#define CHW (C * H * W)

static const gint32 dataset_labels[N_IMAGES] = { 0, 1, 0, 2, 0, 1, 0, 1, 2, 0, 0, 1, 0, 2, 1 };
static const guint class_size[3] = { 7, 5, 3 };
static const gfloat dataset_mean[4] = { 0.25f, 0.6f, 0, 0 };
static const gfloat dataset_std[4] = { 0.3f, 0.15f, 1, 1 };

static guint8
pixel (guint i, guint p)
{
  return p == 0 ? (guint8) i : (guint8) ((i * 37 + p * 11) % 256);
}

static NcfmDataset *
make_dataset (NcfmDType dtype)
{
  g_autoptr (GError) error = NULL;
  const gchar *names[] = { "zero", "one", "two", NULL };
  gsize elem = dtype == NCFM_DTYPE_U8 ? 1 : sizeof (float);
  guint8 *px = g_malloc (N_IMAGES * CHW * elem);
  for (guint i = 0; i < N_IMAGES; i++)
    for (guint p = 0; p < CHW; p++) {
      if (dtype == NCFM_DTYPE_U8)
        px[i * CHW + p] = pixel (i, p);
      else
        ((float *) px)[i * CHW + p] = pixel (i, p) / 255.0f;
    }
  g_autoptr (GBytes) images = g_bytes_new_take (px, N_IMAGES * CHW * elem);
  g_autoptr (GBytes) labels = g_bytes_new (dataset_labels, sizeof dataset_labels);
  NcfmDataset *ds = ncfm_dataset_new_from_data ("tiny", dtype, N_IMAGES, C, H, W, images, labels,
      names, dataset_mean, dataset_std, &error);
  g_assert_no_error (error);
  return ds;
}

static NcfmLoader *
make_loader (NcfmDataset *ds, guint batch, NcfmLoaderMode mode, guint64 seed, guint epochs,
    gboolean shuffle, const guint *classes, guint n_classes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  NcfmLoader *loader = ncfm_loader_new (ds, dev, batch, mode, seed, epochs, shuffle, classes,
      n_classes, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loader);
  return loader;
}

/* The next batch as image indices (from pixel 0) and labels; returns its
 * size, 0 at the end.  Checks shapes and dtypes on the way. */
static guint
next_batch (NcfmLoader *loader, guint *index, gint32 *label)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) x = NULL;
  g_autoptr (NcfmTensor) y = NULL;
  if (!ncfm_loader_next (loader, &x, &y, &error)) {
    g_assert_no_error (error);
    g_assert_null (x);
    g_assert_null (y);
    return 0;
  }
  g_assert_cmpint (ncfm_tensor_get_dtype (x), ==, NCFM_DTYPE_F32);
  g_assert_cmpint (ncfm_tensor_get_dtype (y), ==, NCFM_DTYPE_I32);
  guint m = ncfm_tensor_get_dim (x, 0);
  gint64 shape[4] = { m, C, H, W };
  g_assert_true (ncfm_tensor_has_shape (x, shape, 4));
  g_assert_true (ncfm_tensor_has_shape (y, shape, 1));
  g_autofree float *hx = ncfm_test_tensor_host (x);
  ncfm_tensor_download (y, label, m * sizeof (gint32));
  for (guint i = 0; i < m; i++) {
    double u = (hx[i * CHW] * dataset_std[0] + dataset_mean[0]) * 255.0;
    index[i] = (guint) lround (u);
    g_assert_cmpfloat (fabs (u - index[i]), <, 1e-3);
    g_assert_cmpuint (index[i], <, N_IMAGES);
    g_assert_cmpint (label[i], ==, dataset_labels[index[i]]);
  }
  return m;
}

/* Every value is u * (1/255) * (1/std) + (-mean/std) in float (the ops'
 * formula, so bit-exact), within 2 float roundings of (u/255 - mean)/std. */
static void
test_normalisation (gconstpointer data)
{
  NcfmDType dtype = GPOINTER_TO_INT (data);
  g_autoptr (NcfmDataset) ds = make_dataset (dtype);
  g_autoptr (NcfmLoader) loader = make_loader (ds, 4, NCFM_LOADER_MODE_MIXED, 1, 1, FALSE, NULL, 0);
  g_autoptr (GError) error = NULL;
  guint seen = 0;
  for (;;) {
    g_autoptr (NcfmTensor) x = NULL;
    g_autoptr (NcfmTensor) y = NULL;
    if (!ncfm_loader_next (loader, &x, &y, &error))
      break;
    guint m = ncfm_tensor_get_dim (x, 0);
    g_autofree float *hx = ncfm_test_tensor_host (x);
    gint32 labels[4];
    ncfm_tensor_download (y, labels, m * sizeof (gint32));
    for (guint i = 0; i < m; i++) {
      guint img = seen + i;   /* no shuffle: dataset order */
      g_assert_cmpint (labels[i], ==, dataset_labels[img]);
      for (guint p = 0; p < CHW; p++) {
        guint ch = p / (H * W);
        float s = 1.0f / dataset_std[ch], t = -dataset_mean[ch] / dataset_std[ch];
        float x01 = dtype == NCFM_DTYPE_U8 ? (float) pixel (img, p) * (1.0f / 255.0f)
            : pixel (img, p) / 255.0f;
        float want = x01 * s + t;
        g_assert_cmpfloat (hx[i * CHW + p], ==, want);
        double exact = (pixel (img, p) / 255.0 - dataset_mean[ch]) / dataset_std[ch];
        g_assert_cmpfloat (fabs (hx[i * CHW + p] - exact), <=, 4 * FLT_EPSILON * (fabs (exact) + 4));
      }
    }
    seen += m;
  }
  g_assert_no_error (error);
  g_assert_cmpuint (seen, ==, N_IMAGES);
}

/* Per-class batches over the subset {2, 0}: classes alternate 2, 0, 2, ...;
 * a batch holds distinct images of its class; class 2 (3 images < B = 4)
 * gives all of its images; 3 epochs of 2 batches, then the end. */
static void
test_per_class (void)
{
  g_autoptr (NcfmDataset) ds = make_dataset (NCFM_DTYPE_U8);
  const guint subset[] = { 2, 0 };
  g_autoptr (NcfmLoader) loader = make_loader (ds, 4, NCFM_LOADER_MODE_PER_CLASS, 7, 3, TRUE,
      subset, 2);
  g_assert_cmpuint (ncfm_loader_get_batches_per_epoch (loader), ==, 2);
  g_assert_cmpint (ncfm_loader_get_total (loader), ==, 6);
  g_assert_cmpuint (ncfm_loader_get_images_per_epoch (loader), ==, 3 + 4);
  guint n_cls;
  const guint *cls = ncfm_loader_get_classes (loader, &n_cls);
  g_assert_cmpuint (n_cls, ==, 2);
  g_assert_cmpuint (cls[0], ==, 2);
  guint index[4];
  gint32 label[4];
  for (guint b = 0; b < 6; b++) {
    g_assert_cmpuint (ncfm_loader_get_position (loader), ==, b);
    g_assert_cmpuint (ncfm_loader_get_epoch (loader), ==, b / 2);
    guint m = next_batch (loader, index, label);
    guint want_class = subset[b % 2];
    g_assert_cmpuint (m, ==, MIN (4, class_size[want_class]));
    guint64 mask = 0;
    for (guint i = 0; i < m; i++) {
      g_assert_cmpint (label[i], ==, (gint32) want_class);
      g_assert_false (mask & (G_GUINT64_CONSTANT (1) << index[i]));   /* distinct */
      mask |= G_GUINT64_CONSTANT (1) << index[i];
    }
    if (want_class == 2)   /* the whole class: images 3, 8, 13 */
      g_assert_cmphex (mask, ==, (1u << 3) | (1u << 8) | (1u << 13));
  }
  g_assert_cmpuint (next_batch (loader, index, label), ==, 0);
  g_assert_cmpuint (next_batch (loader, index, label), ==, 0);   /* and stays at the end */
  g_assert_cmpuint (ncfm_loader_get_position (loader), ==, 6);
}

/* Without a subset every class takes its turn; with shuffle off a class's
 * batches walk its images in dataset order, wrapping around. */
static void
test_per_class_in_order (void)
{
  g_autoptr (NcfmDataset) ds = make_dataset (NCFM_DTYPE_U8);
  g_autoptr (NcfmLoader) loader = make_loader (ds, 4, NCFM_LOADER_MODE_PER_CLASS, 7, 2, FALSE,
      NULL, 0);
  static const guint want[6][4] = {
    { 0, 2, 4, 6 }, { 1, 5, 7, 11 }, { 3, 8, 13 },        /* round 0 */
    { 9, 10, 12, 0 }, { 14, 1, 5, 7 }, { 8, 13, 3 },      /* round 1: wrapped */
  };
  guint index[4];
  gint32 label[4];
  for (guint b = 0; b < 6; b++) {
    guint m = next_batch (loader, index, label);
    g_assert_cmpuint (m, ==, b % 3 == 2 ? 3 : 4);
    for (guint i = 0; i < m; i++)
      g_assert_cmpuint (index[i], ==, want[b][i]);
  }
  g_assert_cmpuint (next_batch (loader, index, label), ==, 0);
}

/* Mixed: each epoch delivers every image exactly once, in 4 + 4 + 4 + 3;
 * the orders of two epochs differ; a subset keeps only its classes. */
static void
test_mixed_epochs (void)
{
  g_autoptr (NcfmDataset) ds = make_dataset (NCFM_DTYPE_U8);
  g_autoptr (NcfmLoader) loader = make_loader (ds, 4, NCFM_LOADER_MODE_MIXED, 3, 2, TRUE, NULL, 0);
  g_assert_cmpuint (ncfm_loader_get_batches_per_epoch (loader), ==, 4);
  g_assert_cmpint (ncfm_loader_get_total (loader), ==, 8);
  guint order[2][N_IMAGES], index[4];
  gint32 label[4];
  for (guint e = 0; e < 2; e++) {
    guint count[N_IMAGES] = { 0 }, at = 0;
    for (guint b = 0; b < 4; b++) {
      guint m = next_batch (loader, index, label);
      g_assert_cmpuint (m, ==, b < 3 ? 4 : 3);
      for (guint i = 0; i < m; i++) {
        count[index[i]]++;
        order[e][at++] = index[i];
      }
    }
    for (guint i = 0; i < N_IMAGES; i++)
      g_assert_cmpuint (count[i], ==, 1);
  }
  g_assert_true (memcmp (order[0], order[1], sizeof order[0]) != 0);
  g_assert_cmpuint (next_batch (loader, index, label), ==, 0);

  /* subset {1}: 5 images, batches of 2 -> 2 + 2 + 1 */
  const guint one[] = { 1 };
  g_autoptr (NcfmLoader) sub = make_loader (ds, 2, NCFM_LOADER_MODE_MIXED, 3, 1, TRUE, one, 1);
  g_assert_cmpuint (ncfm_loader_get_images_per_epoch (sub), ==, 5);
  guint total = 0, m;
  while ((m = next_batch (sub, index, label)) > 0) {
    for (guint i = 0; i < m; i++)
      g_assert_cmpint (label[i], ==, 1);
    total += m;
  }
  g_assert_cmpuint (total, ==, 5);
}

/* Digest of the next `batches` batches' image indices. */
static void
run_digest (NcfmLoader *loader, guint batches, guint *out)
{
  guint index[4];
  gint32 label[4];
  for (guint b = 0; b < batches; b++) {
    guint m = next_batch (loader, index, label);
    g_assert_cmpuint (m, >, 0);
    for (guint i = 0; i < 4; i++)
      out[b * 4 + i] = i < m ? index[i] : G_MAXUINT;
  }
}

static void
test_reproducible (void)
{
  g_autoptr (NcfmDataset) ds = make_dataset (NCFM_DTYPE_U8);
  const NcfmLoaderMode modes[] = { NCFM_LOADER_MODE_PER_CLASS, NCFM_LOADER_MODE_MIXED };
  for (guint k = 0; k < G_N_ELEMENTS (modes); k++) {
    guint a[12 * 4], b[12 * 4], c[12 * 4];
    g_autoptr (NcfmLoader) la = make_loader (ds, 4, modes[k], 42, 0, TRUE, NULL, 0);
    g_autoptr (NcfmLoader) lb = make_loader (ds, 4, modes[k], 42, 0, TRUE, NULL, 0);
    g_autoptr (NcfmLoader) lc = make_loader (ds, 4, modes[k], 43, 0, TRUE, NULL, 0);
    g_assert_cmpint (ncfm_loader_get_total (la), ==, -1);   /* loops forever */
    run_digest (la, 12, a);
    run_digest (lb, 12, b);
    run_digest (lc, 12, c);
    g_assert_true (memcmp (a, b, sizeof a) == 0);
    g_assert_true (memcmp (a, c, sizeof a) != 0);

    /* seeking replays the same batches */
    g_autoptr (GError) error = NULL;
    g_assert_true (ncfm_loader_seek (lb, 5, &error));
    g_assert_no_error (error);
    run_digest (lb, 7, b);
    g_assert_true (memcmp (a + 5 * 4, b, 7 * 4 * sizeof (guint)) == 0);
  }
}

/* A class shard delivers, at each of its positions, the batch a whole
 * loader delivers there (the same images), skips the others and ends at
 * the whole run's end; a mixed loader or an empty shard is refused. */
static void
test_class_shard (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDataset) ds = make_dataset (NCFM_DTYPE_U8);
  guint whole[6 * 4];
  g_autoptr (NcfmLoader) lw = make_loader (ds, 4, NCFM_LOADER_MODE_PER_CLASS, 42, 2, TRUE,
      NULL, 0);
  run_digest (lw, 6, whole);
  for (guint r = 0; r < 2; r++) {
    g_autoptr (NcfmLoader) ls = make_loader (ds, 4, NCFM_LOADER_MODE_PER_CLASS, 42, 2, TRUE,
        NULL, 0);
    g_assert_true (ncfm_loader_set_class_shard (ls, r, 2, &error));
    g_assert_no_error (error);
    g_assert_cmpint (ncfm_loader_get_total (ls), ==, 6);
    guint n = 0, got[4];
    for (guint64 pos = ncfm_loader_get_position (ls); pos < 6;
        pos = ncfm_loader_get_position (ls), n++) {
      g_assert_cmpuint (pos % 3 % 2, ==, r);   /* classes r, r + 2 of 3 */
      run_digest (ls, 1, got);
      g_assert_true (memcmp (got, whole + pos * 4, sizeof got) == 0);
    }
    g_assert_cmpuint (n, ==, r ? 2 : 4);
    guint index[4];
    gint32 label[4];
    g_assert_cmpuint (next_batch (ls, index, label), ==, 0);
    /* a seek lands on the shard's next batch */
    g_assert_true (ncfm_loader_seek (ls, 3, &error));
    g_assert_cmpuint (ncfm_loader_get_position (ls), ==, r ? 4 : 3);
  }
  g_autoptr (NcfmLoader) ls = make_loader (ds, 4, NCFM_LOADER_MODE_PER_CLASS, 42, 2, TRUE,
      NULL, 0);
  g_assert_false (ncfm_loader_set_class_shard (ls, 3, 4, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "class shard 3 of 4 holds no class"));
  g_clear_error (&error);
  g_autoptr (NcfmLoader) lm = make_loader (ds, 4, NCFM_LOADER_MODE_MIXED, 42, 2, TRUE, NULL, 0);
  g_assert_false (ncfm_loader_set_class_shard (lm, 0, 2, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "needs a per-class loader"));
}

static void
test_errors (void)
{
  g_autoptr (NcfmDataset) ds = make_dataset (NCFM_DTYPE_U8);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  NcfmLoader *l = ncfm_loader_new (ds, dev, 0, NCFM_LOADER_MODE_MIXED, 0, 1, TRUE, NULL, 0, &error);
  g_assert_null (l);
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "batch size"));
  g_clear_error (&error);

  const guint bad[] = { 0, 3 };
  l = ncfm_loader_new (ds, dev, 4, NCFM_LOADER_MODE_PER_CLASS, 0, 1, TRUE, bad, 2, &error);
  g_assert_null (l);
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "class 3"));
  g_clear_error (&error);

  const guint twice[] = { 1, 1 };
  l = ncfm_loader_new (ds, dev, 4, NCFM_LOADER_MODE_MIXED, 0, 1, TRUE, twice, 2, &error);
  g_assert_null (l);
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_clear_error (&error);

  g_autoptr (NcfmLoader) ok = make_loader (ds, 4, NCFM_LOADER_MODE_MIXED, 0, 2, TRUE, NULL, 0);
  g_assert_false (ncfm_loader_seek (ok, 9, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (ncfm_loader_seek (ok, 8, &error));   /* the end itself */
  g_assert_false (ncfm_loader_next (ok, NULL, NULL, &error));
  g_assert_no_error (error);

  NcfmLoaderMode mode;
  g_assert_true (ncfm_loader_mode_from_string ("mixed", &mode));
  g_assert_cmpint (mode, ==, NCFM_LOADER_MODE_MIXED);
  g_assert_cmpstr (ncfm_loader_mode_to_string (NCFM_LOADER_MODE_PER_CLASS), ==, "per-class");
  g_assert_false (ncfm_loader_mode_from_string ("random", &mode));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/loader/normalisation/u8", GINT_TO_POINTER (NCFM_DTYPE_U8),
      test_normalisation);
  g_test_add_data_func ("/loader/normalisation/f32", GINT_TO_POINTER (NCFM_DTYPE_F32),
      test_normalisation);
  g_test_add_func ("/loader/per-class", test_per_class);
  g_test_add_func ("/loader/per-class-in-order", test_per_class_in_order);
  g_test_add_func ("/loader/mixed-epochs", test_mixed_epochs);
  g_test_add_func ("/loader/reproducible", test_reproducible);
  g_test_add_func ("/loader/class-shard", test_class_shard);
  g_test_add_func ("/loader/errors", test_errors);
  return g_test_run ();
}
