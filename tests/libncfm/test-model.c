/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What NcfmModel promises for every architecture: a batch's features in
 * parts equal the features of the whole batch (ncfm_model_forward_features),
 * and a frozen model's forward leaves the model untouched (shared between
 * an extractor's and a distiller's threads); and the device lock's race
 * detector that guards such sharing. */
#include <math.h>
#include <string.h>
#include "libncfm-test.h"

/* the wide ConvNet's 16-channel layers take the Winograd path */
typedef enum { ARCH_CONVNET, ARCH_CONVNET_WIDE, ARCH_RESNET } Arch;

static NcfmModel *
make_model (NcfmDevice *dev, Arch arch, NcfmNorm norm)
{
  g_autoptr (GError) error = NULL;
  NcfmModel *m = arch == ARCH_CONVNET
      ? NCFM_MODEL (ncfm_convnet_new (dev, 3, 16, 16, 10, 2, 8, norm, 7, &error))
      : arch == ARCH_CONVNET_WIDE
      ? NCFM_MODEL (ncfm_convnet_new (dev, 3, 16, 16, 10, 3, 16, norm, 7, &error))
      : NCFM_MODEL (ncfm_resnet_new (dev, 3, 16, 16, 10, 10, 4, norm, 7, &error));
  g_assert_no_error (error);
  return m;
}

static NcfmTensor *
random_images (NcfmDevice *dev, gint64 n, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  gint64 shape[4] = { n, 3, 16, 16 };
  NcfmTensor *x = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 4, NULL);
  ncfm_test_fill_normal (rand, ncfm_tensor_f32 (x), (gsize) n * 3 * 16 * 16, 1.0f);
  return x;
}

static double
max_abs_diff (const float *a, const float *b, gsize n, double *scale)
{
  double worst = 0, big = 0;
  for (gsize i = 0; i < n; i++) {
    worst = fmax (worst, fabs ((double) a[i] - b[i]));
    big = fmax (big, fabs ((double) b[i]));
  }
  *scale = big;
  return worst;
}

/* 10 images in parts of at most 1, 2, 3, 4 or 11 images (0: whole) against
 * one forward of all 10, for every norm.  Whole, the features are bitwise
 * those of forward (the ConvNet's fused blocks promise it). */
static void
test_forward_features (gconstpointer data)
{
  const Arch arch = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const NcfmNorm norms[3] = { NCFM_NORM_NONE, NCFM_NORM_INSTANCE, NCFM_NORM_BATCH };
  for (guint k = 0; k < 3; k++) {
    g_autoptr (NcfmModel) m = make_model (dev, arch, norms[k]);
    ncfm_model_set_frozen (m, TRUE);
    g_autoptr (NcfmTensor) x = random_images (dev, 10, 3);
    g_autoptr (NcfmActivations) whole = ncfm_activations_new ();
    g_assert_true (ncfm_model_forward (m, x, whole, &error));
    g_assert_no_error (error);
    const guint d = ncfm_model_get_feature_dim (m);
    g_autofree float *ref = ncfm_test_tensor_host (ncfm_activations_get_features (whole));

    g_assert_cmpint (ncfm_model_get_samples_independent (m), ==, norms[k] != NCFM_NORM_BATCH);
    g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
    for (gint64 chunk = 0; chunk <= 11; chunk += (chunk < 4 ? 1 : 7)) {
      g_autoptr (NcfmTensor) f = ncfm_model_forward_features (m, x, chunk, acts, &error);
      g_assert_no_error (error);
      g_assert_cmpint (ncfm_tensor_get_dim (f, 0), ==, 10);
      g_assert_cmpint (ncfm_tensor_get_dim (f, 1), ==, d);
      g_autofree float *got = ncfm_test_tensor_host (f);
      double scale;
      const double diff = max_abs_diff (got, ref, (gsize) 10 * d, &scale);
      g_test_message ("%s norm %u chunk %" G_GINT64_FORMAT ": max |diff| %g of max %g",
          arch == ARCH_RESNET ? "resnet" : "convnet", k, chunk, diff, scale);
      /* the same arithmetic per image; only GEMM blocking may differ */
      g_assert_cmpfloat (diff, <=, 1e-5 * fmax (scale, 1.0));
      if (chunk == 0 || chunk >= 10)
        g_assert_cmpfloat (diff, ==, 0.0);
    }
    /* BatchNorm in training mode couples the images: never split (bitwise) */
    if (norms[k] == NCFM_NORM_BATCH) {
      g_autoptr (NcfmTensor) f = ncfm_model_forward_features (m, x, 3, acts, &error);
      g_autofree float *got = ncfm_test_tensor_host (f);
      g_assert_cmpmem (got, (gsize) 10 * d * sizeof (float), ref, (gsize) 10 * d * sizeof (float));
    }
  }
  /* no images: an error, not a crash */
  g_autoptr (NcfmModel) m = make_model (dev, arch, NCFM_NORM_INSTANCE);
  gint64 shape[1] = { 0 };
  g_autoptr (NcfmTensor) empty = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 1, NULL);
  if (empty) {
    g_autoptr (NcfmActivations) acts = ncfm_activations_new ();
    g_autoptr (NcfmTensor) f = ncfm_model_forward_features (m, empty, 4, acts, &error);
    g_assert_null (f);
    g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
  }
}

/* BatchNorm in training mode: unfrozen, forward moves the running statistics;
 * frozen, it leaves every named tensor bitwise as it was and still gives the
 * same outputs (batch statistics). */
static void
test_frozen (gconstpointer data)
{
  const Arch arch = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  g_autoptr (NcfmModel) live = make_model (dev, arch, NCFM_NORM_BATCH);
  g_autoptr (NcfmModel) frozen = make_model (dev, arch, NCFM_NORM_BATCH);
  ncfm_model_set_frozen (frozen, TRUE);
  g_autoptr (NcfmTensor) x = random_images (dev, 6, 9);
  const guint n_params = ncfm_model_get_n_parameters (frozen);
  g_autoptr (GPtrArray) before = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n_params; i++)
    g_ptr_array_add (before, ncfm_test_tensor_host (ncfm_model_get_parameter (frozen,
                ncfm_model_get_parameter_name (frozen, i))));

  g_autoptr (NcfmActivations) a_live = ncfm_activations_new ();
  g_autoptr (NcfmActivations) a_frozen = ncfm_activations_new ();
  for (int rep = 0; rep < 2; rep++) {
    g_assert_true (ncfm_model_forward (live, x, a_live, &error));
    g_assert_true (ncfm_model_forward (frozen, x, a_frozen, &error));
    g_assert_no_error (error);
  }
  guint moved_live = 0;
  for (guint i = 0; i < n_params; i++) {
    const gchar *name = ncfm_model_get_parameter_name (frozen, i);
    NcfmTensor *t = ncfm_model_get_parameter (frozen, name);
    const gsize bytes = ncfm_tensor_get_n_bytes (t);
    g_autofree float *now = ncfm_test_tensor_host (t);
    g_assert_cmpmem (now, bytes, before->pdata[i], bytes);
    if (g_str_has_suffix (name, "running_mean")) {
      g_autofree float *l = ncfm_test_tensor_host (ncfm_model_get_parameter (live, name));
      moved_live += memcmp (l, before->pdata[i], bytes) != 0;
    }
  }
  g_assert_cmpuint (moved_live, >, 0);   /* the unfrozen twin did update them */
  NcfmTensor *fl = ncfm_activations_get_features (a_live);
  g_autofree float *f1 = ncfm_test_tensor_host (fl);
  g_autofree float *f2 = ncfm_test_tensor_host (ncfm_activations_get_features (a_frozen));
  g_assert_cmpmem (f1, ncfm_tensor_get_n_bytes (fl), f2, ncfm_tensor_get_n_bytes (fl));
}

/* ncfm_tensor_new_rows: a window on the outermost dimension, sharing memory. */
static void
test_rows (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  gint64 shape[2] = { 5, 3 };
  g_autoptr (NcfmTensor) t = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, 2, &error);
  float *v = ncfm_tensor_f32 (t);
  for (int i = 0; i < 15; i++)
    v[i] = (float) i;
  g_autoptr (NcfmTensor) r = ncfm_tensor_new_rows (t, 1, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ncfm_tensor_get_dim (r, 0), ==, 3);
  g_assert_cmpint (ncfm_tensor_get_dim (r, 1), ==, 3);
  g_assert_cmpfloat (ncfm_tensor_f32 (r)[0], ==, 3.0f);
  ncfm_tensor_f32 (r)[8] = -1.0f;
  g_assert_cmpfloat (v[11], ==, -1.0f);
  g_autoptr (NcfmTensor) again = ncfm_tensor_new_rows (r, 2, 1, &error);   /* of a view */
  g_assert_cmpfloat (ncfm_tensor_f32 (again)[0], ==, 9.0f);
  g_clear_object (&t);   /* the views keep the memory */
  g_assert_cmpfloat (ncfm_tensor_f32 (again)[2], ==, -1.0f);
  const gint64 bad[][2] = { { -1, 2 }, { 0, 0 }, { 2, 4 }, { 5, 1 } };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) e = NULL;
    g_assert_null (ncfm_tensor_new_rows (r, bad[i][0], bad[i][1], &e));
    g_assert_error (e, NCFM_ERROR, NCFM_ERROR_SHAPE);
  }
}

/* ---- the device lock's race detector ---- */

typedef struct {
  NcfmDevice *dev;
  GMutex m;
  GCond c;
  gboolean locked, release;
} Holder;

/* Holds the device lock until told to let go. */
static gpointer
hold_device (gpointer data)
{
  Holder *h = data;
  ncfm_device_lock (h->dev);
  g_mutex_lock (&h->m);
  h->locked = TRUE;
  g_cond_broadcast (&h->c);
  while (!h->release)
    g_cond_wait (&h->c, &h->m);
  g_mutex_unlock (&h->m);
  ncfm_device_unlock (h->dev);
  return NULL;
}

/* Starts a thread that holds the device lock until holder_release(). */
static GThread *
holder_start (Holder *h, NcfmDevice *dev)
{
  *h = (Holder) { .dev = dev };
  g_mutex_init (&h->m);
  g_cond_init (&h->c);
  GThread *t = g_thread_new ("holder", hold_device, h);
  g_mutex_lock (&h->m);
  while (!h->locked)
    g_cond_wait (&h->c, &h->m);
  g_mutex_unlock (&h->m);
  return t;
}

static void
holder_release (Holder *h, GThread *t)
{
  g_mutex_lock (&h->m);
  h->release = TRUE;
  g_cond_broadcast (&h->c);
  g_mutex_unlock (&h->m);
  g_thread_join (t);
  g_mutex_clear (&h->m);
  g_cond_clear (&h->c);
}

/* Scratch memory asked for by a thread without the device lock while another
 * thread holds it is reported (g_critical, fatal in tests: checked in a
 * subprocess); with the lock, or with nobody holding it, it is not. */
static void
test_race_detector (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  NcfmBackend *be = ncfm_device_get_backend (dev);
  Holder h;
  if (g_test_subprocess ()) {
    GThread *t = holder_start (&h, dev);
    ncfm_backend_scratch (be, 64);     /* the race: reported, and fatal here */
    holder_release (&h, t);
    return;
  }
  g_assert_nonnull (ncfm_backend_scratch (be, 64));      /* nobody holds it */
  ncfm_device_lock (dev);
  ncfm_device_lock (dev);                                 /* recursive */
  g_assert_nonnull (ncfm_backend_scratch (be, 64));
  ncfm_device_unlock (dev);
  g_assert_nonnull (ncfm_backend_scratch (be, 64));      /* still held by us */
  ncfm_device_unlock (dev);
  GThread *t = holder_start (&h, dev);
  holder_release (&h, t);
  g_assert_nonnull (ncfm_backend_scratch (be, 64));      /* held and let go */

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*does not hold its device lock while another thread holds it*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/model/forward-features/convnet", GINT_TO_POINTER (ARCH_CONVNET),
      test_forward_features);
  g_test_add_data_func ("/model/forward-features/convnet-wide",
      GINT_TO_POINTER (ARCH_CONVNET_WIDE), test_forward_features);
  g_test_add_data_func ("/model/forward-features/resnet", GINT_TO_POINTER (ARCH_RESNET),
      test_forward_features);
  g_test_add_data_func ("/model/frozen/convnet", GINT_TO_POINTER (ARCH_CONVNET), test_frozen);
  g_test_add_data_func ("/model/frozen/resnet", GINT_TO_POINTER (ARCH_RESNET), test_frozen);
  g_test_add_func ("/model/rows", test_rows);
  g_test_add_func ("/device/race-detector", test_race_detector);
  return g_test_run ();
}
