/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-augment.c: NcfmAugment / NcfmAugmentParams: strategy parsing, seeded
 * draws, replay of one parameter set on different batches (against the
 * kernels called by hand), shared vs per-sample drawing, the backward
 * through a full chain by finite differences, serialization and CutMix. */
#include "libncfm-test.h"

#include <math.h>
#include <string.h>

#define FULL "color_crop_cutout_flip_scale_rotate"

static NcfmTensor *
new_images (NcfmDevice *dev, gint64 n, gint64 c, gint64 h, gint64 w, const float *data)
{
  g_autoptr (GError) error = NULL;
  const gint64 shape[4] = { n, c, h, w };
  NcfmTensor *t = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_F32, shape, 4,
      (const guint8 *) data, (gsize) (n * c * h * w) * sizeof (float), &error);
  g_assert_no_error (error);
  return t;
}

static NcfmAugment *
new_augment (const gchar *strategy, NcfmAugmentMode mode)
{
  g_autoptr (GError) error = NULL;
  NcfmAugment *a = ncfm_augment_new (strategy, mode, &error);
  g_assert_no_error (error);
  return a;
}

static NcfmAugmentParams *
draw (NcfmAugment *a, guint64 seed, gint64 n, gint64 h, gint64 w)
{
  g_autoptr (GError) error = NULL;
  NcfmAugmentParams *p = ncfm_augment_draw (a, seed, n, h, w, &error);
  g_assert_no_error (error);
  return p;
}

/* The op names of the serialized steps, joined by ' '. */
static gchar *
step_names (NcfmAugmentParams *p)
{
  g_autoptr (GVariant) v = ncfm_augment_params_serialize (p);
  g_autoptr (GVariant) steps = g_variant_get_child_value (v, 7);
  GString *s = g_string_new (NULL);
  for (gsize k = 0; k < g_variant_n_children (steps); k++) {
    const gchar *name;
    g_variant_get_child (steps, k, "(&sadai)", &name, NULL, NULL);
    g_string_append_printf (s, "%s%s", k ? " " : "", name);
  }
  return g_string_free (s, FALSE);
}

static void
test_strategy (void)
{
  const struct { const gchar *in, *canonical; } ok[] = {
    { FULL, FULL }, { "color_crop_cutout", "color_crop_cutout" }, { "rotate_flip", "rotate_flip" },
    { "", "none" }, { NULL, "none" }, { "none", "none" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (ok); i++) {
    g_autoptr (NcfmAugment) a = new_augment (ok[i].in, NCFM_AUGMENT_SHARED);
    g_assert_cmpstr (ncfm_augment_get_strategy (a), ==, ok[i].canonical);
    g_assert_cmpint (ncfm_augment_get_mode (a), ==, NCFM_AUGMENT_SHARED);
  }
  const struct { const gchar *in, *named; } bad[] = {
    { "color_crop_colour", "\"colour\"" }, { "color__crop", "\"\"" }, { "crop_crop", "repeated" },
    { "Color", "\"Color\"" }, { "color_crop_", "\"\"" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (NcfmAugment) a = ncfm_augment_new (bad[i].in, NCFM_AUGMENT_SHARED, &error);
    g_assert_null (a);
    g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
    g_assert_nonnull (strstr (error->message, bad[i].named));
  }
  NcfmAugmentMode m;
  g_assert_true (ncfm_augment_mode_from_string ("per-sample", &m));
  g_assert_cmpint (m, ==, NCFM_AUGMENT_PER_SAMPLE);
  g_assert_cmpstr (ncfm_augment_mode_to_string (NCFM_AUGMENT_SHARED), ==, "shared");
  g_assert_false (ncfm_augment_mode_from_string ("batch", &m));
  /* impossible sizes */
  g_autoptr (NcfmAugment) a = new_augment (FULL, NCFM_AUGMENT_PER_SAMPLE);
  g_autoptr (GError) error = NULL;
  g_assert_null (ncfm_augment_draw (a, 1, 0, 32, 32, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
}

static void
test_reproducible (void)
{
  g_autoptr (NcfmAugment) a = new_augment (FULL, NCFM_AUGMENT_SHARED);
  g_autoptr (NcfmAugmentParams) p1 = draw (a, 1234, 8, 32, 32);
  g_autoptr (NcfmAugmentParams) p2 = draw (a, 1234, 99, 32, 32);   /* batch: ignored */
  g_autoptr (NcfmAugmentParams) p3 = draw (a, 1235, 8, 32, 32);
  g_autoptr (GVariant) v1 = ncfm_augment_params_serialize (p1);
  g_autoptr (GVariant) v2 = ncfm_augment_params_serialize (p2);
  g_autoptr (GVariant) v3 = ncfm_augment_params_serialize (p3);
  g_assert_true (g_variant_equal (v1, v2));
  g_assert_false (g_variant_equal (v1, v3));
  g_autofree gchar *d1 = ncfm_augment_params_describe (p1);
  g_autofree gchar *d3 = ncfm_augment_params_describe (p3);
  g_test_message ("%s", d1);
  g_test_message ("%s", d3);
  g_assert_nonnull (strstr (d1, "seed 1234 32x32"));
  g_assert_cmpstr (d1, !=, d3);
  g_autofree gchar *names = step_names (p1);
  g_assert_cmpstr (names, ==, "brightness saturation contrast crop cutout flip scale rotate");
  g_assert_cmpint (ncfm_augment_params_get_batch (p1), ==, 0);
  g_assert_cmpint (ncfm_augment_params_get_seed (p1), ==, 1234);
  g_assert_cmpint (ncfm_augment_params_get_height (p1), ==, 32);
  g_assert_cmpstr (ncfm_augment_params_get_strategy (p1), ==, FULL);
}

/* The serialized steps applied by hand with the backend's kernels, each
 * set repeated per image for shared parameters. */
static void
apply_by_hand (NcfmAugmentParams *p, NcfmBackend *be, int n, int c, int h, int w, float *x)
{
  g_autoptr (GVariant) v = ncfm_augment_params_serialize (p);
  g_autoptr (GVariant) steps = g_variant_get_child_value (v, 7);
  gint64 sets = 0;
  g_variant_get_child (v, 4, "x", &sets);
  const size_t nx = (size_t) n * c * h * w;
  g_autofree float *tmp = g_new (float, nx);
  for (gsize k = 0; k < g_variant_n_children (steps); k++) {
    const gchar *name;
    g_autoptr (GVariant) fv = NULL, iv = NULL;
    g_variant_get_child (steps, k, "(&s@ad@ai)", &name, &fv, &iv);
    gsize nf, ni;
    const gdouble *d = g_variant_get_fixed_array (fv, &nf, sizeof (gdouble));
    const gint32 *iw = g_variant_get_fixed_array (iv, &ni, sizeof (gint32));
    const gsize pf = nf / sets, pi = ni / sets;
    g_autofree float *f = g_new0 (float, (gsize) n * pf + 1);
    g_autofree int32_t *i = g_new0 (int32_t, (gsize) n * pi + 1);
    for (int s = 0; s < n; s++) {
      const gint64 src = sets == 1 ? 0 : s;
      for (gsize j = 0; j < pf; j++)
        f[s * pf + j] = (float) d[src * pf + j];
      for (gsize j = 0; j < pi; j++)
        i[s * pi + j] = iw[src * pi + j];
    }
    if (g_str_equal (name, "brightness"))
      be->ops->dsa_brightness (be, n, c * h * w, f, x, tmp);
    else if (g_str_equal (name, "saturation"))
      be->ops->dsa_saturation (be, n, c, h * w, f, x, tmp);
    else if (g_str_equal (name, "contrast"))
      be->ops->dsa_contrast (be, n, c * h * w, f, x, tmp);
    else if (g_str_equal (name, "crop"))
      be->ops->dsa_translate (be, n, c, h, w, i, 1, x, tmp);
    else if (g_str_equal (name, "cutout"))
      be->ops->dsa_cutout (be, n, c, h, w, i, x, tmp);
    else if (g_str_equal (name, "flip"))
      be->ops->dsa_flip (be, n, c, h, w, i, x, tmp);
    else if (g_str_equal (name, "scale") || g_str_equal (name, "rotate"))
      be->ops->dsa_affine_forward (be, n, c, h, w, f, x, tmp);
    else
      g_assert_not_reached ();
    memcpy (x, tmp, nx * sizeof (float));
  }
}

static float *
apply_host (NcfmAugmentParams *p, NcfmDevice *dev, int n, int c, int h, int w, const float *x)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NcfmTensor) tx = new_images (dev, n, c, h, w, x);
  g_autoptr (NcfmTensor) ty = new_images (dev, n, c, h, w, x);
  g_assert_true (ncfm_augment_params_apply (p, tx, ty, NULL, &error));
  g_assert_no_error (error);
  return ncfm_test_tensor_host (ty);
}

/* One shared draw replayed on a real-like batch of 6 and a synthetic-like
 * batch of 2 gives exactly the kernels applied by hand, and image k of a
 * batch is transformed as it would be alone (the siamese property). */
static void
test_replay (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  NcfmBackend *be = ncfm_device_get_backend (dev);
  g_autoptr (NcfmAugment) a = new_augment (FULL, NCFM_AUGMENT_SHARED);
  const int c = 3, h = 12, w = 10;
  const size_t img = (size_t) c * h * w;
  for (guint64 seed = 1; seed <= 5; seed++) {
    g_autoptr (NcfmAugmentParams) p = draw (a, seed, 0, h, w);
    const int sizes[2] = { 6, 2 };
    for (int b = 0; b < 2; b++) {
      const int n = sizes[b];
      g_autofree float *x = ncfm_test_new_uniform (rand, n * img, -2.0f, 2.0f);
      g_autofree float *got = apply_host (p, dev, n, c, h, w, x);
      g_autofree float *want = g_memdup2 (x, n * img * sizeof (float));
      apply_by_hand (p, be, n, c, h, w, want);
      ncfm_test_assert_close ("replay vs by hand", got, want, n * img, 0, 0);
      for (int k = 0; k < n; k++) {
        g_autofree float *alone = apply_host (p, dev, 1, c, h, w, x + k * img);
        ncfm_test_assert_close ("image alone", alone, got + k * img, img, 0, 0);
      }
    }
  }
  /* a batch of another image size is refused */
  g_autoptr (NcfmAugmentParams) p = draw (a, 9, 0, h, w);
  g_autofree float *x = g_new0 (float, 2 * c * h * h);
  g_autoptr (NcfmTensor) t = new_images (dev, 2, c, h, h, x);
  g_autoptr (GError) error = NULL;
  g_assert_false (ncfm_augment_params_apply (p, t, t, NULL, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
}

/* Shared: identical images stay identical.  Per-sample: they differ; the
 * params need their batch size; one geometric op per batch, no cutout. */
static void
test_shared_vs_per_sample (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (8);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const int n = 4, c = 3, h = 16, w = 16;
  const size_t img = (size_t) c * h * w;
  g_autofree float *one = ncfm_test_new_uniform (rand, img, -2.0f, 2.0f);
  g_autofree float *x = g_new (float, n * img);
  for (int k = 0; k < n; k++)
    memcpy (x + k * img, one, img * sizeof (float));

  g_autoptr (NcfmAugment) sa = new_augment (FULL, NCFM_AUGMENT_SHARED);
  g_autoptr (NcfmAugmentParams) sp = draw (sa, 3, n, h, w);
  g_autofree float *ys = apply_host (sp, dev, n, c, h, w, x);
  for (int k = 1; k < n; k++)
    ncfm_test_assert_close ("shared: same transform", ys + k * img, ys, img, 0, 0);

  g_autoptr (NcfmAugment) pa = new_augment (FULL, NCFM_AUGMENT_PER_SAMPLE);
  guint chosen[3] = { 0, 0, 0 };
  for (guint64 seed = 0; seed < 30; seed++) {
    g_autoptr (NcfmAugmentParams) pp = draw (pa, seed, n, h, w);
    g_assert_cmpint (ncfm_augment_params_get_batch (pp), ==, n);
    g_autofree gchar *names = step_names (pp);
    const gchar *geo[3] = { "crop", "scale", "rotate" };
    guint n_geo = 0;
    for (guint g = 0; g < 3; g++)
      if (strstr (names, geo[g])) {
        chosen[g]++;
        n_geo++;
      }
    g_assert_cmpuint (n_geo, ==, 1);
    g_assert_null (strstr (names, "cutout"));
    g_assert_true (g_str_has_prefix (names, "brightness saturation contrast "));
    g_assert_nonnull (strstr (names, "flip"));
    if (seed == 0) {
      g_autofree float *yp = apply_host (pp, dev, n, c, h, w, x);
      for (int k = 1; k < n; k++) {
        double diff = 0;
        for (size_t j = 0; j < img; j++)
          diff = fmax (diff, fabs (yp[k * img + j] - yp[j]));
        g_assert_cmpfloat (diff, >, 1e-3);
      }
      /* per-sample parameters only fit their own batch size */
      g_autoptr (NcfmTensor) t3 = new_images (dev, n - 1, c, h, w, x);
      g_autoptr (GError) error = NULL;
      g_assert_false (ncfm_augment_params_apply (pp, t3, t3, NULL, &error));
      g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
      g_assert_nonnull (strstr (error->message, "per-sample"));
    }
  }
  for (guint g = 0; g < 3; g++)
    g_assert_cmpuint (chosen[g], >, 0);
}

typedef struct {
  NcfmAugmentParams *p;
  NcfmTensor *x, *y;
  float *xh, *r;
  size_t nx;
} ChainCtx;

static double
chain_loss (gpointer data)
{
  ChainCtx *c = data;
  g_autoptr (GError) error = NULL;
  g_assert_true (ncfm_tensor_set_data (c->x, (const guint8 *) c->xh, c->nx * sizeof (float),
      &error));
  g_assert_true (ncfm_augment_params_apply (c->p, c->x, c->y, NULL, &error));
  g_autofree float *y = ncfm_test_tensor_host (c->y);
  return ncfm_test_dot (y, c->r, c->nx);
}

/* With the parameters fixed, every step is linear in the images (brightness
 * affine): crop, cutout and flip move or zero pixels, the colour ops and the
 * bilinear grid_sample are linear maps.  The boxes of cutout/crop and the
 * flip depend on the parameters, not on x, so they put no kinks in L: the
 * map is piecewise linear only in the parameters, and exactly linear in x.
 * So central differences of L = <apply(x), r> have no truncation error at
 * any step, and a large step h = 1 is as exact as a small one while dividing
 * the float rounding of L (nx ~ 300 terms of size ~1-4: noise ~ sqrt(nx) 4
 * FLT_EPSILON ~ 1e-5 at worst, ~5e-7 observed) by 2h = 2.  Against the
 * helper's floor of 1e-3 max|g| (~2e-3, for entries cutout zeroed or that
 * sample few taps) that is <= 5e-3 worst case, ~2.5e-4 typical: tolerance
 * 1e-3 relative, with the floor raised to 1e-2 max|g| (the helper's knob for
 * deep float32 chains) so the worst-case bound also fits. */
static void
test_backward_gradcheck (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const int c = 3, h = 11, w = 9;
  const struct { NcfmAugmentMode mode; int n; guint64 seed; } cases[] = {
    { NCFM_AUGMENT_SHARED, 2, 11 }, { NCFM_AUGMENT_SHARED, 3, 12 },
    { NCFM_AUGMENT_PER_SAMPLE, 3, 13 }, { NCFM_AUGMENT_PER_SAMPLE, 2, 14 },
    { NCFM_AUGMENT_PER_SAMPLE, 2, 15 },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
    g_autoptr (NcfmAugment) a = new_augment (FULL, cases[k].mode);
    const int n = cases[k].n;
    ChainCtx ctx = { .nx = (size_t) n * c * h * w };
    ctx.p = draw (a, cases[k].seed, n, h, w);
    g_autofree gchar *d = ncfm_augment_params_describe (ctx.p);
    g_test_message ("chain: %s", d);
    ctx.xh = ncfm_test_new_uniform (rand, ctx.nx, -2.0f, 2.0f);
    ctx.r = ncfm_test_new_uniform (rand, ctx.nx, -1.0f, 1.0f);
    ctx.x = new_images (dev, n, c, h, w, ctx.xh);
    ctx.y = new_images (dev, n, c, h, w, ctx.xh);
    g_autoptr (NcfmTensor) dy = new_images (dev, n, c, h, w, ctx.r);
    g_autoptr (NcfmTensor) dx = new_images (dev, n, c, h, w, ctx.xh);   /* overwritten */
    g_autoptr (GError) error = NULL;
    g_assert_true (ncfm_augment_params_backward (ctx.p, dy, dx, NULL, &error));
    g_autofree float *g = ncfm_test_tensor_host (dx);
    ncfm_test_gradcheck_floor ("augment chain", ctx.xh, g, ctx.nx, chain_loss, &ctx, 1.0, 1e-3,
        150, rand, 1e-2);

    /* in place, with a work activations object, gives the same both ways */
    g_autoptr (NcfmActivations) work = ncfm_activations_new ();
    g_assert_true (ncfm_augment_params_backward (ctx.p, dy, dy, work, &error));
    g_autofree float *g2 = ncfm_test_tensor_host (dy);
    ncfm_test_assert_close ("backward in place", g2, g, ctx.nx, 0, 0);
    g_assert_true (ncfm_tensor_set_data (ctx.x, (const guint8 *) ctx.xh,
        ctx.nx * sizeof (float), &error));
    g_assert_true (ncfm_augment_params_apply (ctx.p, ctx.x, ctx.y, NULL, &error));
    g_assert_true (ncfm_augment_params_apply (ctx.p, ctx.x, ctx.x, work, &error));
    g_assert_no_error (error);
    g_autofree float *y1 = ncfm_test_tensor_host (ctx.y), *y2 = ncfm_test_tensor_host (ctx.x);
    ncfm_test_assert_close ("apply in place", y2, y1, ctx.nx, 0, 0);

    g_object_unref (ctx.p);
    g_object_unref (ctx.x);
    g_object_unref (ctx.y);
    g_free (ctx.xh);
    g_free (ctx.r);
  }
}

static void
test_serialize (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (10);
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const int n = 3, c = 3, h = 8, w = 8;
  g_autofree float *x = ncfm_test_new_uniform (rand, (size_t) n * c * h * w, -2.0f, 2.0f);
  for (NcfmAugmentMode mode = NCFM_AUGMENT_SHARED; mode <= NCFM_AUGMENT_PER_SAMPLE; mode++) {
    g_autoptr (NcfmAugment) a = new_augment (FULL, mode);
    g_autoptr (NcfmAugmentParams) p = draw (a, 77, n, h, w);
    g_autoptr (GVariant) v = ncfm_augment_params_serialize (p);
    g_autoptr (GError) error = NULL;
    g_autoptr (NcfmAugmentParams) q = ncfm_augment_params_new_from_variant (v, &error);
    g_assert_no_error (error);
    g_autoptr (GVariant) v2 = ncfm_augment_params_serialize (q);
    g_assert_true (g_variant_equal (v, v2));
    g_autofree gchar *text = g_variant_print (v, FALSE);
    g_test_message ("%s params: %zu bytes serialized, %zu as text",
        ncfm_augment_mode_to_string (mode), g_variant_get_size (v), strlen (text));
    g_autofree float *y1 = apply_host (p, dev, n, c, h, w, x);
    g_autofree float *y2 = apply_host (q, dev, n, c, h, w, x);
    ncfm_test_assert_close ("replay after round trip", y2, y1, (size_t) n * c * h * w, 0, 0);
  }
  /* bad variants */
  const gchar *bad[] = {
    "(uint32 1, 'color', uint32 0, uint64 1, int64 1, 8, 8, [('colour', [0.5], @ai [])])",
    "(uint32 1, 'color', uint32 0, uint64 1, int64 1, 8, 8, [('brightness', [0.5, 0.1], @ai [])])",
    "(uint32 1, 'crop', uint32 0, uint64 1, int64 1, 8, 8, [('crop', @ad [], [100, 0])])",
    "(uint32 2, 'color', uint32 0, uint64 1, int64 1, 8, 8, @a(sadai) [])",
    "(uint32 1, 'blur', uint32 0, uint64 1, int64 1, 8, 8, @a(sadai) [])",
    "(1, 2)",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) v = g_variant_ref_sink (g_variant_parse (NULL, bad[i], NULL, NULL,
        &error));
    g_assert_no_error (error);
    g_autoptr (NcfmAugmentParams) p = ncfm_augment_params_new_from_variant (v, &error);
    g_assert_null (p);
    g_assert_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT);
  }
}

/* Images filled with their own index: after CutMix, image i holds i outside
 * the box and perm[i] inside it, and lambda is the share it kept. */
static void
test_cutmix (void)
{
  g_autoptr (NcfmDevice) dev = ncfm_test_cpu_device ();
  const int n = 6, c = 2, h = 10, w = 12, hw = h * w;
  g_autofree float *x = g_new (float, n * c * hw);
  for (int i = 0; i < n * c * hw; i++)
    x[i] = (float) (i / (c * hw));
  g_autoptr (NcfmTensor) tx = new_images (dev, n, c, h, w, x);
  g_autoptr (NcfmTensor) ty = new_images (dev, n, c, h, w, x);
  guint mixed = 0;
  for (guint64 seed = 0; seed < 200; seed++) {
    g_autoptr (GError) error = NULL;
    g_autofree gint32 *perm = NULL;
    gsize n_perm = 0;
    gfloat lam = -1;
    g_assert_true (ncfm_augment_cutmix (tx, ty, seed, seed < 100 ? 0.5f : 1.0f, &perm, &n_perm,
        &lam, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (n_perm, ==, n);
    g_autofree float *y = ncfm_test_tensor_host (ty);
    gboolean seen[6] = { FALSE };
    for (int i = 0; i < n; i++) {
      g_assert_true (perm[i] >= 0 && perm[i] < n && !seen[perm[i]]);
      seen[perm[i]] = TRUE;
    }
    /* the box, found from pixels not equal to the image's own index */
    int area = 0, kept_same = 0;
    for (int i = 0; i < n; i++) {
      int own = 0;
      for (int ch = 0; ch < c; ch++)
        for (int p = 0; p < hw; p++) {
          float v = y[(i * c + ch) * hw + p];
          g_assert_true (v == (float) i || v == (float) perm[i]);
          own += v == (float) i;
        }
      if (perm[i] != i)
        area = MAX (area, (c * hw - own) / c);
      else
        kept_same++;
    }
    if (lam < 1.0f) {
      mixed++;
      if (kept_same < n)   /* (a permutation with no moves hides the box) */
        g_assert_cmpfloat_with_epsilon (lam, 1.0 - (double) area / hw, 1e-6);
    } else {
      for (int i = 0; i < n; i++)   /* no mix: the identity */
        g_assert_cmpint (perm[i], ==, i);
      g_assert_cmpint (area, ==, 0);
    }
    /* reproducible */
    g_autofree gint32 *perm2 = NULL;
    gfloat lam2;
    g_assert_true (ncfm_augment_cutmix (tx, ty, seed, seed < 100 ? 0.5f : 1.0f, &perm2, NULL,
        &lam2, &error));
    g_assert_cmpfloat (lam2, ==, lam);
    g_assert_cmpmem (perm2, n * sizeof (gint32), perm, n * sizeof (gint32));
  }
  g_test_message ("CutMix mixed %u of 200 batches (100 at p 0.5, 100 at p 1)", mixed);
  g_assert_cmpuint (mixed, >=, 100 + 30);
  g_assert_cmpuint (mixed, <=, 100 + 70);
  /* in place is refused */
  g_autoptr (GError) error = NULL;
  g_assert_false (ncfm_augment_cutmix (tx, tx, 1, 1.0f, NULL, NULL, NULL, &error));
  g_assert_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/libncfm/augment/strategy", test_strategy);
  g_test_add_func ("/libncfm/augment/reproducible", test_reproducible);
  g_test_add_func ("/libncfm/augment/replay", test_replay);
  g_test_add_func ("/libncfm/augment/shared-vs-per-sample", test_shared_vs_per_sample);
  g_test_add_func ("/libncfm/augment/backward-gradcheck", test_backward_gradcheck);
  g_test_add_func ("/libncfm/augment/serialize", test_serialize);
  g_test_add_func ("/libncfm/augment/cutmix", test_cutmix);
  return g_test_run ();
}
