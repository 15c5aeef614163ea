/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:ncfm-augment
 * @title: NcfmAugment
 * @short_description: differentiable siamese augmentation (DSA) with replayable parameters
 *
 * An #NcfmAugment parses a DSA strategy such as
 * "color_crop_cutout_flip_scale_rotate" (tokens color, crop, cutout, flip,
 * scale, rotate, applied in the order listed; "" or "none" is the identity)
 * and draws #NcfmAugmentParams from a seed (method card section 6, with u ~
 * U(0, 1), one each):
 *
 * - color: brightness x + (u - 0.5), saturation m + (x - m) 2u (m the mean
 *   over channels at each pixel), contrast m + (x - m) (u + 0.5) (m the mean
 *   of the image);
 * - crop: translate by whole pixels in [-s, s], s = round(0.125 size) per
 *   axis, zero padding;
 * - cutout: zero a box of side round(0.5 size) per axis centred anywhere
 *   (clipped to the image);
 * - flip: left-right with probability 0.5;
 * - scale: F.affine_grid/F.grid_sample with diag(sx, sy), each in [1/1.2, 1.2];
 * - rotate: the same with a rotation by up to +-15 degrees.
 *
 * The parameters are an immutable, refcounted value: replaying them with
 * ncfm_augment_params_apply() gives the identical transform on any batch of
 * the same image size (the real and the synthetic batch of one matching
 * step), and ncfm_augment_params_backward() the gradient wrt the input of
 * that transform: every op is linear in the images (brightness affine), so
 * the backward is the composition of the adjoints in reverse order and needs
 * no saved activations.  Draws are Philox4x32-10 (kernels/philox.h) keyed by
 * the seed, so a seed reproduces its parameters on every machine.
 */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-augment-private.h"

#include <math.h>
#include <string.h>

#include "philox.h"

#define BRIGHTNESS 1.0
#define SATURATION 2.0
#define CONTRAST 0.5
#define CROP_RATIO 0.125
#define CUTOUT_RATIO 0.5
#define FLIP_PROB 0.5
#define SCALE_RATIO 1.2
#define ROTATE_DEGREES 15.0

static const gchar *token_names[N_TOKENS] = {
  "color", "crop", "cutout", "flip", "scale", "rotate"
};

struct _NcfmAugment {
  GObject parent;
  gchar *strategy;              /* canonical: the tokens joined by '_' */
  NcfmAugmentToken tokens[N_TOKENS];
  guint n_tokens;
  NcfmAugmentMode mode;
};

G_DEFINE_FINAL_TYPE (NcfmAugment, ncfm_augment, G_TYPE_OBJECT)

static const gchar *mode_names[] = { "shared", "per-sample" };

/**
 * ncfm_augment_mode_to_string:
 * @mode: a #NcfmAugmentMode
 *
 * Returns: (transfer none): "shared" or "per-sample"
 */
const gchar *
ncfm_augment_mode_to_string (NcfmAugmentMode mode)
{
  return (guint) mode < G_N_ELEMENTS (mode_names) ? mode_names[mode] : "invalid";
}

/**
 * ncfm_augment_mode_from_string:
 * @name: "shared" or "per-sample"
 * @mode: (out): the parsed value
 *
 * Returns: %TRUE if @name is known
 */
gboolean
ncfm_augment_mode_from_string (const gchar *name, NcfmAugmentMode *mode)
{
  for (guint i = 0; name && i < G_N_ELEMENTS (mode_names); i++)
    if (g_str_equal (name, mode_names[i])) {
      *mode = (NcfmAugmentMode) i;
      return TRUE;
    }
  return FALSE;
}

/* ---- random numbers: Philox keyed by the seed, one counter per draw ---- */

typedef struct {
  guint64 key, counter;
} Rng;

/* Uniform in [0, 1) with 53 random bits. */
static double
rng_uniform (Rng *r)
{
  NcfmPhilox4 v = ncfm_philox4x32_10 (r->counter++, r->key);
  return ((double) (v.v[0] >> 5) * 67108864.0 + (double) (v.v[1] >> 6)) / 9007199254740992.0;
}

/* Uniform integer in [lo, hi]. */
static gint32
rng_int (Rng *r, gint32 lo, gint32 hi)
{
  gint64 span = (gint64) hi - lo + 1;
  gint64 k = (gint64) (rng_uniform (r) * (double) span);
  return (gint32) (lo + MIN (k, span - 1));
}

/* ---- strategy ---- */

gboolean
ncfm_augment_parse_strategy (const gchar *strategy, NcfmAugmentToken *tokens, guint *n_tokens,
    GError **error)
{
  *n_tokens = 0;
  if (!strategy || !*strategy || g_ascii_strcasecmp (strategy, "none") == 0)
    return TRUE;
  g_auto (GStrv) parts = g_strsplit (strategy, "_", -1);
  guint seen = 0;
  for (guint p = 0; parts[p]; p++) {
    guint t = 0;
    while (t < N_TOKENS && !g_str_equal (parts[p], token_names[t]))
      t++;
    if (t == N_TOKENS || (seen & (1u << t))) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
          "augmentation strategy \"%s\": %s token \"%s\" (known: color, crop, cutout, flip, "
          "scale, rotate, joined by '_')", strategy, t == N_TOKENS ? "unknown" : "repeated",
          parts[p]);
      return FALSE;
    }
    seen |= 1u << t;
    tokens[(*n_tokens)++] = (NcfmAugmentToken) t;
  }
  return TRUE;
}

static void
ncfm_augment_finalize (GObject *object)
{
  g_free (NCFM_AUGMENT (object)->strategy);
  G_OBJECT_CLASS (ncfm_augment_parent_class)->finalize (object);
}

static void
ncfm_augment_class_init (NcfmAugmentClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_augment_finalize;
}

static void
ncfm_augment_init (NcfmAugment *self)
{
  (void) self;
}

/**
 * ncfm_augment_new:
 * @strategy: (nullable): tokens color, crop, cutout, flip, scale, rotate
 *   joined by '_' (e.g. "color_crop_cutout"); %NULL, "" or "none": no augmentation
 * @mode: how parameters are drawn (shared per batch or per sample)
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the augmentation, or %NULL (with @error naming
 *   the token) if @strategy has an unknown or repeated token
 */
NcfmAugment *
ncfm_augment_new (const gchar *strategy, NcfmAugmentMode mode, GError **error)
{
  if ((guint) mode >= G_N_ELEMENTS (mode_names)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "unknown augmentation mode %d", mode);
    return NULL;
  }
  NcfmAugmentToken tokens[N_TOKENS];
  guint n = 0;
  if (!ncfm_augment_parse_strategy (strategy, tokens, &n, error))
    return NULL;
  NcfmAugment *self = g_object_new (NCFM_TYPE_AUGMENT, NULL);
  memcpy (self->tokens, tokens, sizeof tokens);
  self->n_tokens = n;
  self->mode = mode;
  GString *s = g_string_new (n ? NULL : "none");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%s", i ? "_" : "", token_names[tokens[i]]);
  self->strategy = g_string_free (s, FALSE);
  return self;
}

/**
 * ncfm_augment_get_strategy:
 * @self: a #NcfmAugment
 *
 * Returns: (transfer none): the strategy in canonical form ("none" when empty)
 */
const gchar *
ncfm_augment_get_strategy (NcfmAugment *self)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT (self), NULL);
  return self->strategy;
}

/**
 * ncfm_augment_get_mode:
 * @self: a #NcfmAugment
 *
 * Returns: how @self draws parameters
 */
NcfmAugmentMode
ncfm_augment_get_mode (NcfmAugment *self)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT (self), NCFM_AUGMENT_SHARED);
  return self->mode;
}

/* One token's steps, drawn for every parameter set in turn. */
static void
draw_token (NcfmAugmentParams *p, NcfmAugmentToken tok, Rng *r)
{
  const gint32 h = (gint32) p->height, w = (gint32) p->width;
  const gint64 n = p->sets;
  switch (tok) {
    case TOK_COLOR: {
      NcfmAugmentStep *b = ncfm_augment_params_add_step (p, OP_BRIGHTNESS);
      for (gint64 k = 0; k < n; k++)
        b->f[k] = (gfloat) ((rng_uniform (r) - 0.5) * BRIGHTNESS);
      NcfmAugmentStep *s = ncfm_augment_params_add_step (p, OP_SATURATION);
      for (gint64 k = 0; k < n; k++)
        s->f[k] = (gfloat) (rng_uniform (r) * SATURATION);
      NcfmAugmentStep *c = ncfm_augment_params_add_step (p, OP_CONTRAST);
      for (gint64 k = 0; k < n; k++)
        c->f[k] = (gfloat) (rng_uniform (r) + CONTRAST);
      break;
    }
    case TOK_CROP: {
      const gint32 sh = (gint32) (h * CROP_RATIO + 0.5), sw = (gint32) (w * CROP_RATIO + 0.5);
      NcfmAugmentStep *s = ncfm_augment_params_add_step (p, OP_CROP);
      for (gint64 k = 0; k < n; k++) {
        s->i[2 * k] = rng_int (r, -sh, sh);
        s->i[2 * k + 1] = rng_int (r, -sw, sw);
      }
      break;
    }
    case TOK_CUTOUT: {
      /* the DSA reference: centre in [0, size - side % 2], box clipped */
      const gint32 ch = (gint32) (h * CUTOUT_RATIO + 0.5), cw = (gint32) (w * CUTOUT_RATIO + 0.5);
      NcfmAugmentStep *s = ncfm_augment_params_add_step (p, OP_CUTOUT);
      for (gint64 k = 0; k < n; k++) {
        gint32 y0 = rng_int (r, 0, h - ch % 2) - ch / 2, x0 = rng_int (r, 0, w - cw % 2) - cw / 2;
        gint32 *b = s->i + 4 * k;
        b[0] = CLAMP (y0, 0, h);
        b[1] = CLAMP (y0 + ch, 0, h);
        b[2] = CLAMP (x0, 0, w);
        b[3] = CLAMP (x0 + cw, 0, w);
      }
      break;
    }
    case TOK_FLIP: {
      NcfmAugmentStep *s = ncfm_augment_params_add_step (p, OP_FLIP);
      for (gint64 k = 0; k < n; k++)
        s->i[k] = rng_uniform (r) < FLIP_PROB;
      break;
    }
    case TOK_SCALE: {
      NcfmAugmentStep *s = ncfm_augment_params_add_step (p, OP_SCALE);
      for (gint64 k = 0; k < n; k++) {
        double sx = rng_uniform (r) * (SCALE_RATIO - 1.0 / SCALE_RATIO) + 1.0 / SCALE_RATIO;
        double sy = rng_uniform (r) * (SCALE_RATIO - 1.0 / SCALE_RATIO) + 1.0 / SCALE_RATIO;
        const gfloat t[6] = { (gfloat) sx, 0, 0, 0, (gfloat) sy, 0 };
        memcpy (s->f + 6 * k, t, sizeof t);
      }
      break;
    }
    case TOK_ROTATE: {
      NcfmAugmentStep *s = ncfm_augment_params_add_step (p, OP_ROTATE);
      for (gint64 k = 0; k < n; k++) {
        double a = (rng_uniform (r) - 0.5) * 2.0 * ROTATE_DEGREES * G_PI / 180.0;
        const gfloat t[6] = { (gfloat) cos (a), (gfloat) -sin (a), 0, (gfloat) sin (a),
            (gfloat) cos (a), 0 };
        memcpy (s->f + 6 * k, t, sizeof t);
      }
      break;
    }
    case N_TOKENS:
      g_assert_not_reached ();
  }
}

/**
 * ncfm_augment_draw:
 * @self: a #NcfmAugment
 * @seed: the draw's seed (the same seed gives the same parameters)
 * @batch: number of images (per-sample mode; ignored in shared mode, whose
 *   one parameter set fits any batch)
 * @height: image height
 * @width: image width
 * @error: return location for a #GError
 *
 * Draws the parameters of one augmentation.  Per-sample mode chooses one of
 * the strategy's crop/scale/rotate for the whole batch and leaves cutout to
 * ncfm_augment_cutmix().
 *
 * Returns: (transfer full): the parameters, or %NULL if a size is out of range
 */
NcfmAugmentParams *
ncfm_augment_draw (NcfmAugment *self, guint64 seed, gint64 batch, gint64 height, gint64 width,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT (self), NULL);
  const gboolean shared = self->mode == NCFM_AUGMENT_SHARED;
  if (height < 1 || width < 1 || height > G_MAXINT32 / 4 || width > G_MAXINT32 / 4
      || (!shared && (batch < 1 || batch > G_MAXINT32))) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "cannot draw augmentation parameters for %" G_GINT64_FORMAT " images of %"
        G_GINT64_FORMAT "x%" G_GINT64_FORMAT, batch, height, width);
    return NULL;
  }
  NcfmAugmentParams *p = ncfm_augment_params_new_empty (self->strategy, self->mode, seed,
      shared ? 1 : batch, height, width);
  Rng r = { seed, 0 };
  NcfmAugmentToken chosen = N_TOKENS;
  if (!shared) {
    NcfmAugmentToken geo[3];
    guint n_geo = 0;
    for (guint k = 0; k < self->n_tokens; k++)
      if (self->tokens[k] == TOK_CROP || self->tokens[k] == TOK_SCALE
          || self->tokens[k] == TOK_ROTATE)
        geo[n_geo++] = self->tokens[k];
    if (n_geo)
      chosen = geo[rng_int (&r, 0, (gint32) n_geo - 1)];
  }
  for (guint k = 0; k < self->n_tokens; k++) {
    NcfmAugmentToken t = self->tokens[k];
    gboolean geometric = t == TOK_CROP || t == TOK_SCALE || t == TOK_ROTATE;
    if (!shared && (t == TOK_CUTOUT || (geometric && t != chosen)))
      continue;
    draw_token (p, t, &r);
  }
  return p;
}

/* ---- CutMix ---- */

/**
 * ncfm_augment_cutmix:
 * @x: F32 [N, C, H, W] images
 * @y: F32 output like @x, not sharing its memory
 * @seed: the draw's seed
 * @prob: probability of mixing at all (0.5 in the method)
 * @perm: (out) (optional) (array length=n_perm) (transfer full): image i's box
 *   comes from image perm[i] (the identity when no mix happened)
 * @n_perm: (out) (optional): N
 * @lam: (out) (optional): the share of each image that is its own (1 without a mix)
 * @error: return location for a #GError
 *
 * CutMix as the training of the method uses it instead of cutout: with
 * probability @prob, lambda ~ Beta(1, 1), a random permutation, and one box
 * for the whole batch of side sqrt(1 - lambda) size per axis centred anywhere
 * (clipped), copied from image perm[i] into image i.  The targets mix the
 * same way: loss = lam CE(labels) + (1 - lam) CE(labels[perm]), with @lam
 * recomputed from the clipped box as in the reference.  Forward only.
 *
 * Returns: %TRUE on success; %FALSE if the tensors are unusable
 */
gboolean
ncfm_augment_cutmix (NcfmTensor *x, NcfmTensor *y, guint64 seed, gfloat prob, gint32 **perm,
    gsize *n_perm, gfloat *lam, GError **error)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (x) && NCFM_IS_TENSOR (y), FALSE);
  guint n_dims;
  const gint64 *s = ncfm_tensor_get_shape (x, &n_dims);
  if (ncfm_tensor_get_dtype (x) != NCFM_DTYPE_F32 || n_dims != 4 || s[0] < 1 || s[0] > G_MAXINT32
      || ncfm_tensor_get_numel (x) / s[0] > G_MAXINT32
      || ncfm_tensor_get_dtype (y) != NCFM_DTYPE_F32 || !ncfm_tensor_has_shape (y, s, 4)
      || ncfm_tensor_get_device (x) != ncfm_tensor_get_device (y)
      || ncfm_tensor_get_data (x) == ncfm_tensor_get_data (y)) {
    g_autofree gchar *a = ncfm_tensor_describe (x);
    g_autofree gchar *b = ncfm_tensor_describe (y);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "CutMix needs F32 [N, C, H, W] input and a separate output of the same shape on the "
        "same device, got %s and %s", a, b);
    return FALSE;
  }
  const gint32 n = (gint32) s[0], h = (gint32) s[2], w = (gint32) s[3];
  Rng r = { seed, 0 };
  g_autofree gint32 *pm = g_new (gint32, n);
  for (gint32 i = 0; i < n; i++)
    pm[i] = i;
  gint32 box[4] = { 0, 0, 0, 0 };
  double l = 1.0;
  gboolean ok = TRUE;
  if (rng_uniform (&r) < prob) {
    const double cut = sqrt (1.0 - rng_uniform (&r));   /* lambda ~ Beta(1, 1) = U(0, 1) */
    for (gint32 i = n - 1; i > 0; i--) {
      gint32 j = rng_int (&r, 0, i), t = pm[i];
      pm[i] = pm[j];
      pm[j] = t;
    }
    const gint32 ch = (gint32) (h * cut), cw = (gint32) (w * cut);
    const gint32 cy = rng_int (&r, 0, h - 1), cx = rng_int (&r, 0, w - 1);
    box[0] = CLAMP (cy - ch / 2, 0, h);
    box[1] = CLAMP (cy + ch / 2, 0, h);
    box[2] = CLAMP (cx - cw / 2, 0, w);
    box[3] = CLAMP (cx + cw / 2, 0, w);
    l = 1.0 - (double) (box[1] - box[0]) * (box[3] - box[2]) / ((double) h * w);
  }
  if (l == 1.0) {   /* no mix, or an empty box (lambda near 1) */
    for (gint32 i = 0; i < n; i++)
      pm[i] = i;
    ok = ncfm_tensor_copy_from (y, x, error);
  } else {
    NcfmDevice *dev = ncfm_tensor_get_device (x);
    const gint64 pshape[1] = { n }, bshape[1] = { 4 };
    g_autoptr (NcfmTensor) tp = ncfm_tensor_new_from_data (dev, NCFM_DTYPE_I32, pshape, 1,
        (const guint8 *) pm, (gsize) n * sizeof (gint32), error);
    g_autoptr (NcfmTensor) tb = tp ? ncfm_tensor_new_from_data (dev, NCFM_DTYPE_I32, bshape, 1,
        (const guint8 *) box, sizeof box, error) : NULL;
    ok = tb != NULL;
    if (ok) {
      NcfmBackend *be = ncfm_device_get_backend (dev);
      be->ops->cutmix (be, n, (gint) s[1], h, w, ncfm_tensor_get_data (tp),
          ncfm_tensor_get_data (tb), ncfm_tensor_f32 (x), ncfm_tensor_f32 (y));
    }   /* freeing tp and tb waits for the kernel (cudaFree is synchronous) */
  }
  if (!ok)
    return FALSE;
  if (n_perm)
    *n_perm = (gsize) n;
  if (lam)
    *lam = (gfloat) l;
  if (perm)
    *perm = g_steal_pointer (&pm);
  return TRUE;
}
