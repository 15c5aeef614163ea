/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-multiformation.c: multi-formation decode against a naive double
 * computation, finite differences of its backward, reuse of the work
 * buffers, the three initialisations of a synthetic set, and errors. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "libncfm-test.h"

/* ---- decode ---- */

/* PyTorch's bilinear formula (align_corners=False) in double, one plane. */
static double
bilinear_at (const float *plane, int hi, int wi, int ho, int wo, int oh, int ow)
{
  double sh = fmax (((double) hi / ho) * (oh + 0.5) - 0.5, 0.0);
  double sw = fmax (((double) wi / wo) * (ow + 0.5) - 0.5, 0.0);
  int h0 = (int) sh, w0 = (int) sw;
  int h1 = h0 < hi - 1 ? h0 + 1 : h0, w1 = w0 < wi - 1 ? w0 + 1 : w0;
  double lh = sh - h0, lw = sw - w0;
  return (1 - lh) * ((1 - lw) * plane[h0 * wi + w0] + lw * plane[h0 * wi + w1])
      + lh * ((1 - lw) * plane[h1 * wi + w0] + lw * plane[h1 * wi + w1]);
}

/* Naive decode: tile (ty, tx) of channel ch of image i cut out explicitly,
 * then resized to h x w. */
static void
naive_decode (int n, int c, int h, int w, int rho, const float *x, float *y)
{
  const int th = h / rho, tw = w / rho;
  g_autofree float *tile = g_new (float, th * tw);
  for (int i = 0; i < n; i++)
    for (int t = 0; t < rho * rho; t++)
      for (int ch = 0; ch < c; ch++) {
        const int ty = t / rho, tx = t % rho;
        for (int r = 0; r < th; r++)
          for (int q = 0; q < tw; q++)
            tile[r * tw + q] = x[(((size_t) i * c + ch) * h + ty * th + r) * w + tx * tw + q];
        float *out = y + (((size_t) i * rho * rho + t) * c + ch) * h * w;
        for (int oh = 0; oh < h; oh++)
          for (int ow = 0; ow < w; ow++)
            out[oh * w + ow] = (float) bilinear_at (tile, th, tw, h, w, oh, ow);
      }
}

typedef struct { int n, c, h, w, rho; } Shape;

static const Shape shapes[] = {
  { 2, 3, 8, 6, 2 },
  { 1, 2, 9, 6, 3 },
  { 3, 1, 4, 4, 1 },     /* factor 1: a copy */
  { 1, 3, 8, 8, 4 },     /* 2 x 2 tiles, upsampled 4x */
};

static NcfmTensor *
new_tensor (NcfmDevice *dev, NcfmDType dtype, const gint64 *shape, guint nd)
{
  g_autoptr (GError) error = NULL;
  NcfmTensor *t = ncfm_tensor_new (dev, dtype, shape, nd, &error);
  g_assert_no_error (error);
  return t;
}

/* Inputs in [0, 1]: each output is 4 products and 3 sums of terms <= 1 (8
 * FLT_EPSILON), and the float source coordinate moves the weights by about
 * in FLT_EPSILON times a difference of inputs <= 1. */
static void
test_decode_vs_naive (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (51);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmActivations) work = ncfm_activations_new ();
  g_autoptr (GError) error = NULL;
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const Shape *sh = &shapes[s];
    gint64 shape[4] = { sh->n, sh->c, sh->h, sh->w };
    g_autoptr (NcfmTensor) x = new_tensor (dev, NCFM_DTYPE_F32, shape, 4);
    const size_t nin = ncfm_tensor_get_numel (x), nout = nin * sh->rho * sh->rho;
    ncfm_test_fill_uniform (rand, ncfm_tensor_f32 (x), nin, 0.0f, 1.0f);
    NcfmTensor *y = ncfm_multiformation_decode (x, sh->rho, work, &error);
    g_assert_no_error (error);
    gint64 want_shape[4] = { sh->n * sh->rho * sh->rho, sh->c, sh->h, sh->w };
    g_assert_true (ncfm_tensor_has_shape (y, want_shape, 4));
    g_autofree float *want = g_new (float, nout);
    naive_decode (sh->n, sh->c, sh->h, sh->w, sh->rho, ncfm_tensor_f32 (x), want);
    g_autofree float *got = ncfm_test_tensor_host (y);
    double coord = 2.0 * MAX (sh->h, sh->w) * FLT_EPSILON;
    ncfm_test_assert_close ("decode vs naive", got, want, nout, 0, 8 * FLT_EPSILON + coord);
    if (sh->rho == 1)
      ncfm_test_assert_close ("factor 1 is a copy", got, ncfm_tensor_f32 (x), nin, 0, 0);

    /* the work buffers are reused while the shape stays */
    NcfmTensor *again = ncfm_multiformation_decode (x, sh->rho, work, &error);
    g_assert_no_error (error);
    g_assert_true (again == y);
  }
}

typedef struct {
  NcfmActivations *work;
  NcfmTensor *x;
  const float *r;
  guint rho;
} DecodeCtx;

static double
decode_loss (gpointer data)
{
  DecodeCtx *c = data;
  g_autoptr (GError) error = NULL;
  NcfmTensor *y = ncfm_multiformation_decode (c->x, c->rho, c->work, &error);
  g_assert_no_error (error);
  return ncfm_test_dot (ncfm_tensor_f32 (y), c->r, ncfm_tensor_get_numel (y));
}

/* decode is linear, so central differences carry only the rounding of
 * L = <y, r> (nout terms of size <= 1: ~sqrt(nout) 6e-8 < 1e-6) over 2h =
 * 0.2, against gradients of order rho^2 (each input feeds ~rho^2 outputs):
 * tolerance 1e-3.  The adjoint identity <decode(x), r> = <x, backward(r)>
 * is checked too. */
static void
test_backward (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (52);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmActivations) work = ncfm_activations_new ();
  g_autoptr (GError) error = NULL;
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const Shape *sh = &shapes[s];
    gint64 shape[4] = { sh->n, sh->c, sh->h, sh->w };
    gint64 dshape[4] = { sh->n * sh->rho * sh->rho, sh->c, sh->h, sh->w };
    g_autoptr (NcfmTensor) x = new_tensor (dev, NCFM_DTYPE_F32, shape, 4);
    g_autoptr (NcfmTensor) r = new_tensor (dev, NCFM_DTYPE_F32, dshape, 4);
    const size_t nin = ncfm_tensor_get_numel (x), nout = ncfm_tensor_get_numel (r);
    ncfm_test_fill_uniform (rand, ncfm_tensor_f32 (x), nin, 0.0f, 1.0f);
    ncfm_test_fill_uniform (rand, ncfm_tensor_f32 (r), nout, -1.0f, 1.0f);
    NcfmTensor *gx = ncfm_multiformation_backward (r, sh->rho, work, &error);
    g_assert_no_error (error);
    g_assert_true (ncfm_tensor_has_shape (gx, shape, 4));
    g_autofree float *grad = ncfm_test_tensor_host (gx);

    DecodeCtx c = { work, x, ncfm_tensor_f32 (r), sh->rho };
    double lhs = decode_loss (&c), rhs = ncfm_test_dot (ncfm_tensor_f32 (x), grad, nin);
    g_assert_cmpfloat_with_epsilon (lhs, rhs, 4.0 * nout * 2 * FLT_EPSILON);
    ncfm_test_gradcheck ("multiformation backward", ncfm_tensor_f32 (x), grad, nin, decode_loss,
        &c, 0.1, 1e-3, 200, rand);

    /* backward overwrites: a second call gives the same gradient */
    ncfm_tensor_fill (gx, NAN, NULL);
    NcfmTensor *gx2 = ncfm_multiformation_backward (r, sh->rho, work, &error);
    g_assert_true (gx2 == gx);
    g_autofree float *grad2 = ncfm_test_tensor_host (gx2);
    ncfm_test_assert_close ("backward again", grad2, grad, nin, 0, 0);
  }
}

static void
test_decode_errors (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmActivations) work = ncfm_activations_new ();
  g_autoptr (GError) error = NULL;
  gint64 shape[4] = { 2, 3, 8, 6 };
  g_autoptr (NcfmTensor) x = new_tensor (dev, NCFM_DTYPE_F32, shape, 4);
  g_assert_null (ncfm_multiformation_decode (x, 0, work, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (ncfm_multiformation_decode (x, 4, work, &error));   /* 6 % 4 */
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "divisible"));
  g_clear_error (&error);
  g_autoptr (NcfmTensor) flat = new_tensor (dev, NCFM_DTYPE_F32, shape, 2);
  g_assert_null (ncfm_multiformation_decode (flat, 2, work, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  g_clear_error (&error);
  g_autoptr (NcfmTensor) ints = new_tensor (dev, NCFM_DTYPE_I32, shape, 4);
  g_assert_null (ncfm_multiformation_decode (ints, 2, work, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  g_clear_error (&error);
  /* 2 * 3 decoded images are not a multiple of 4 */
  gint64 odd[4] = { 6, 3, 8, 6 };
  g_autoptr (NcfmTensor) g = new_tensor (dev, NCFM_DTYPE_F32, odd, 4);
  g_assert_null (ncfm_multiformation_backward (g, 2, work, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
}

/* ---- initialisation ---- */

/* 3 classes (sizes 6, 4, 2; the fourth class "empty" only when asked), 3
 * channels of 4 x 6, uint8 pixels unique per image. */
#define N_IMAGES 12
#define C 3
#define H 4
#define W 6
#define CHW (C * H * W)

static const gint32 init_labels[N_IMAGES] = { 0, 1, 0, 2, 0, 1, 0, 1, 0, 2, 0, 1 };

static guint8
init_pixel (guint i, guint p)
{
  return (guint8) ((i * 53 + p * 29 + (p * p) % 7) % 256);
}

static NcfmDataset *
make_init_dataset (gboolean with_empty_class)
{
  g_autoptr (GError) error = NULL;
  const gchar *names[] = { "ant", "bee", "cat", "dog", NULL };
  if (!with_empty_class)
    names[3] = NULL;
  guint8 *px = g_malloc (N_IMAGES * CHW);
  for (guint i = 0; i < N_IMAGES; i++)
    for (guint p = 0; p < CHW; p++)
      px[i * CHW + p] = init_pixel (i, p);
  g_autoptr (GBytes) images = g_bytes_new_take (px, N_IMAGES * CHW);
  g_autoptr (GBytes) labels = g_bytes_new (init_labels, sizeof init_labels);
  const gfloat mean[4] = { 0.5f, 0.5f, 0.5f, 0 }, std[4] = { 0.25f, 0.25f, 0.25f, 1 };
  NcfmDataset *ds = ncfm_dataset_new_from_data ("init", NCFM_DTYPE_U8, N_IMAGES, C, H, W, images,
      labels, names, mean, std, &error);
  g_assert_no_error (error);
  return ds;
}

static void
init_ok (NcfmDataset *ds, guint ipc, guint factor, NcfmSynsetInit mode, guint64 seed,
    float **images, gint32 **labels)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) x = NULL;
  g_autoptr (NcfmTensor) y = NULL;
  g_assert_true (ncfm_multiformation_init (ds, ipc, factor, mode, seed, dev, &x, &y, &error));
  g_assert_no_error (error);
  const guint n = ncfm_dataset_get_num_classes (ds) * ipc;
  gint64 shape[4] = { n, C, H, W };
  g_assert_true (ncfm_tensor_has_shape (x, shape, 4));
  g_assert_true (ncfm_tensor_has_shape (y, shape, 1));
  g_assert_cmpint (ncfm_tensor_get_dtype (y), ==, NCFM_DTYPE_I32);
  *images = ncfm_test_tensor_host (x);
  *labels = g_new (gint32, n);
  ncfm_tensor_download (y, *labels, n * sizeof (gint32));
  for (guint i = 0; i < n; i++)
    g_assert_cmpint ((*labels)[i], ==, (gint32) (i / ipc));
  for (gsize i = 0; i < (gsize) n * CHW; i++) {
    g_assert_cmpfloat ((*images)[i], >=, 0.0f);
    g_assert_cmpfloat ((*images)[i], <=, 1.0f);
  }
}

/* The dataset image whose pixels / 255, resized to th x tw, equal `got`
 * (a [C, th, tw] block with row stride `stride`); -1 if none. */
static int
find_real (int th, int tw, const float *got, int stride, int plane_stride)
{
  float img[CHW];
  for (int i = 0; i < N_IMAGES; i++) {
    for (int p = 0; p < CHW; p++)
      img[p] = (float) init_pixel (i, p) * (1.0f / 255.0f);
    gboolean same = TRUE;
    for (int ch = 0; ch < C && same; ch++)
      for (int r = 0; r < th && same; r++)
        for (int q = 0; q < tw && same; q++) {
          double want = bilinear_at (img + ch * H * W, H, W, th, tw, r, q);
          same = fabs (got[ch * plane_stride + r * stride + q] - want) <= 8 * FLT_EPSILON;
        }
    if (same)
      return i;
  }
  return -1;
}

static void
test_init_real (void)
{
  g_autoptr (NcfmDataset) ds = make_init_dataset (FALSE);
  const guint ipc = 3;   /* class 2 has only 2 images: one repeats */
  g_autofree float *x = NULL;
  g_autofree gint32 *y = NULL;
  init_ok (ds, ipc, 2, NCFM_SYNSET_INIT_REAL, 5, &x, &y);
  for (guint c = 0; c < 3; c++) {
    guint used = 0;
    for (guint s = 0; s < ipc; s++) {
      const float *img = x + ((gsize) c * ipc + s) * CHW;
      int i = find_real (H, W, img, W, H * W);
      g_assert_cmpint (i, >=, 0);
      g_assert_cmpint (init_labels[i], ==, (gint32) c);
      for (int p = 0; p < CHW; p++)   /* exactly u8 / 255 */
        g_assert_cmpfloat (img[p], ==, (float) init_pixel (i, p) * (1.0f / 255.0f));
      g_assert_true (c == 2 || !(used & (1u << i)));   /* distinct where possible */
      used |= 1u << i;
    }
    if (c == 2)   /* both images of the small class are used */
      g_assert_cmphex (used, ==, (1u << 3) | (1u << 9));
  }
  /* reproducible, and another seed picks differently */
  g_autofree float *x2 = NULL, *x3 = NULL;
  g_autofree gint32 *y2 = NULL, *y3 = NULL;
  init_ok (ds, ipc, 2, NCFM_SYNSET_INIT_REAL, 5, &x2, &y2);
  init_ok (ds, ipc, 2, NCFM_SYNSET_INIT_REAL, 6, &x3, &y3);
  g_assert_true (memcmp (x, x2, 9 * CHW * sizeof (float)) == 0);
  g_assert_true (memcmp (x, x3, 9 * CHW * sizeof (float)) != 0);
}

static void
test_init_mix (void)
{
  g_autoptr (NcfmDataset) ds = make_init_dataset (FALSE);
  const guint ipc = 1, rho = 2, th = H / rho, tw = W / rho;
  g_autofree float *x = NULL;
  g_autofree gint32 *y = NULL;
  init_ok (ds, ipc, rho, NCFM_SYNSET_INIT_MIX, 9, &x, &y);
  for (guint c = 0; c < 3; c++) {
    guint used = 0;
    for (guint t = 0; t < rho * rho; t++) {
      const guint ty = t / rho, tx = t % rho;
      const float *tile = x + (gsize) c * CHW + ty * th * W + tx * tw;
      int i = find_real (th, tw, tile, W, H * W);
      g_assert_cmpint (i, >=, 0);
      g_assert_cmpint (init_labels[i], ==, (gint32) c);
      /* class 0 (6 images) and 1 (4) give 4 distinct tiles; class 2 has 2 */
      g_assert_true (c == 2 || !(used & (1u << i)));
      used |= 1u << i;
    }
    if (c == 2)
      g_assert_cmphex (used, ==, (1u << 3) | (1u << 9));
  }
  g_autofree float *x2 = NULL;
  g_autofree gint32 *y2 = NULL;
  init_ok (ds, ipc, rho, NCFM_SYNSET_INIT_MIX, 9, &x2, &y2);
  g_assert_true (memcmp (x, x2, 3 * CHW * sizeof (float)) == 0);
}

static void
test_init_noise (void)
{
  g_autoptr (NcfmDataset) ds = make_init_dataset (TRUE);   /* noise needs no images */
  const guint ipc = 20, n = 4 * ipc * CHW;
  g_autofree float *a = NULL, *b = NULL, *c = NULL;
  g_autofree gint32 *la = NULL, *lb = NULL, *lc = NULL;
  init_ok (ds, ipc, 1, NCFM_SYNSET_INIT_NOISE, 1, &a, &la);
  init_ok (ds, ipc, 1, NCFM_SYNSET_INIT_NOISE, 1, &b, &lb);
  init_ok (ds, ipc, 1, NCFM_SYNSET_INIT_NOISE, 2, &c, &lc);
  g_assert_true (memcmp (a, b, n * sizeof (float)) == 0);
  g_assert_true (memcmp (a, c, n * sizeof (float)) != 0);
  /* uniform [0, 1): mean 1/2 and variance 1/12, within 5 standard errors */
  double sum = 0, sq = 0;
  for (guint i = 0; i < n; i++) {
    g_assert_cmpfloat (a[i], <, 1.0f);
    sum += a[i];
    sq += (a[i] - 0.5) * (a[i] - 0.5);
  }
  g_assert_cmpfloat (fabs (sum / n - 0.5), <, 5 * sqrt (1.0 / 12 / n));
  g_assert_cmpfloat (fabs (sq / n - 1.0 / 12), <, 5 * sqrt (1.0 / 180 / n));
}

static void
test_init_errors (void)
{
  g_autoptr (NcfmDataset) ds = make_init_dataset (FALSE);
  g_autoptr (NcfmDataset) holes = make_init_dataset (TRUE);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (GError) error = NULL;
  NcfmTensor *x = NULL, *y = NULL;
  g_assert_false (ncfm_multiformation_init (ds, 0, 2, NCFM_SYNSET_INIT_REAL, 0, dev, &x, &y, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_assert_null (x);
  g_clear_error (&error);
  g_assert_false (ncfm_multiformation_init (ds, 1, 0, NCFM_SYNSET_INIT_MIX, 0, dev, &x, &y, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (ncfm_multiformation_init (ds, 1, 4, NCFM_SYNSET_INIT_MIX, 0, dev, &x, &y, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);   /* W = 6 */
  g_clear_error (&error);
  g_assert_false (ncfm_multiformation_init (holes, 1, 2, NCFM_SYNSET_INIT_REAL, 0, dev, &x, &y,
        &error));
  g_assert_error (error, NCFM_DATASET_ERROR, NCFM_DATASET_ERROR_EMPTY);
  g_assert_nonnull (strstr (error->message, "class 3 (dog)"));
  g_assert_null (x);
  g_assert_null (y);

  NcfmSynsetInit mode;
  g_assert_true (ncfm_synset_init_from_string ("mix", &mode));
  g_assert_cmpint (mode, ==, NCFM_SYNSET_INIT_MIX);
  g_assert_cmpstr (ncfm_synset_init_to_string (NCFM_SYNSET_INIT_NOISE), ==, "noise");
  g_assert_false (ncfm_synset_init_from_string ("zeros", &mode));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/multiformation/decode-vs-naive", test_decode_vs_naive);
  g_test_add_func ("/multiformation/backward", test_backward);
  g_test_add_func ("/multiformation/decode-errors", test_decode_errors);
  g_test_add_func ("/multiformation/init-real", test_init_real);
  g_test_add_func ("/multiformation/init-mix", test_init_mix);
  g_test_add_func ("/multiformation/init-noise", test_init_noise);
  g_test_add_func ("/multiformation/init-errors", test_init_errors);
  return g_test_run ();
}
