/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-augment-params.c: NcfmAugmentParams, the drawn parameters of one
 * augmentation as an immutable value: replay forward and backward on any
 * device (uploaded lazily per device and batch size), a description for
 * logs, and a GVariant serialization.  See ncfm-augment.c for the ops. */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-augment-private.h"

#include <math.h>
#include <string.h>

#define SERIAL_VERSION 1u
#define SERIAL_FORMAT "(usutxiia(sadai))"
#define MAX_CACHED 4      /* (device, batch) uploads kept per parameter set */

const NcfmAugmentOpInfo ncfm_augment_op_info[N_OPS] = {
  [OP_BRIGHTNESS] = { "brightness", 1, 0, TRUE },
  [OP_SATURATION] = { "saturation", 1, 0, TRUE },
  [OP_CONTRAST] = { "contrast", 1, 0, TRUE },
  [OP_CROP] = { "crop", 0, 2, FALSE },
  [OP_CUTOUT] = { "cutout", 0, 4, TRUE },
  [OP_FLIP] = { "flip", 0, 1, FALSE },
  [OP_SCALE] = { "scale", 6, 0, FALSE },
  [OP_ROTATE] = { "rotate", 6, 0, FALSE },
};

/* The parameters of every step uploaded to one device for one batch size
 * (shared parameters are repeated per image there). */
typedef struct {
  NcfmDevice *device;
  gint64 batch;
  NcfmTensor *t[NCFM_AUGMENT_MAX_STEPS];
} DeviceParams;

G_DEFINE_FINAL_TYPE (NcfmAugmentParams, ncfm_augment_params, G_TYPE_OBJECT)

static void
device_params_clear (gpointer data)
{
  DeviceParams *dp = data;
  for (guint k = 0; k < NCFM_AUGMENT_MAX_STEPS; k++)
    g_clear_object (&dp->t[k]);
  g_clear_object (&dp->device);
}

static void
device_params_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, device_params_clear);
}

static void
ncfm_augment_params_finalize (GObject *object)
{
  NcfmAugmentParams *self = NCFM_AUGMENT_PARAMS (object);
  for (guint k = 0; k < self->n_steps; k++) {
    g_free (self->steps[k].f);
    g_free (self->steps[k].i);
  }
  g_ptr_array_unref (self->cache);
  g_mutex_clear (&self->lock);
  g_free (self->strategy);
  G_OBJECT_CLASS (ncfm_augment_params_parent_class)->finalize (object);
}

static void
ncfm_augment_params_class_init (NcfmAugmentParamsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ncfm_augment_params_finalize;
}

static void
ncfm_augment_params_init (NcfmAugmentParams *self)
{
  g_mutex_init (&self->lock);
  self->cache = g_ptr_array_new_with_free_func (device_params_release);
}

NcfmAugmentParams *
ncfm_augment_params_new_empty (const gchar *strategy, NcfmAugmentMode mode, guint64 seed,
    gint64 sets, gint64 height, gint64 width)
{
  NcfmAugmentParams *p = g_object_new (NCFM_TYPE_AUGMENT_PARAMS, NULL);
  p->strategy = g_strdup (strategy);
  p->mode = mode;
  p->seed = seed;
  p->sets = sets;
  p->height = height;
  p->width = width;
  return p;
}

NcfmAugmentStep *
ncfm_augment_params_add_step (NcfmAugmentParams *p, NcfmAugmentOp op)
{
  g_assert (p->n_steps < NCFM_AUGMENT_MAX_STEPS);
  NcfmAugmentStep *s = &p->steps[p->n_steps++];
  s->op = op;
  const gsize nf = (gsize) p->sets * ncfm_augment_op_info[op].n_f;
  const gsize ni = (gsize) p->sets * ncfm_augment_op_info[op].n_i;
  s->f = nf ? g_new0 (gfloat, nf) : NULL;
  s->i = ni ? g_new0 (gint32, ni) : NULL;
  return s;
}

/* ---- replay ---- */

static const gint64 *
shape_of (NcfmTensor *t)
{
  guint n_dims;
  return ncfm_tensor_get_shape (t, &n_dims);
}

static gboolean
check_images (NcfmAugmentParams *self, NcfmTensor *x, NcfmTensor *y, const gchar *xn,
    const gchar *yn, GError **error)
{
  NcfmTensor *ts[2] = { x, y };
  const gchar *names[2] = { xn, yn };
  for (guint k = 0; k < 2; k++) {
    NcfmTensor *t = ts[k];
    gint64 n = ncfm_tensor_get_dim (t, 0);
    if (ncfm_tensor_get_dtype (t) != NCFM_DTYPE_F32 || ncfm_tensor_get_n_dims (t) != 4
        || ncfm_tensor_get_dim (t, 2) != self->height || ncfm_tensor_get_dim (t, 3) != self->width
        || n < 1 || n > G_MAXINT32
        || ncfm_tensor_get_numel (t) / n > G_MAXINT32) {
      g_autofree gchar *d = ncfm_tensor_describe (t);
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
          "augmentation %s must be F32 [N, C, %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "], got %s",
          names[k], self->height, self->width, d);
      return FALSE;
    }
  }
  if (!ncfm_tensor_has_shape (y, shape_of (x), 4)
      || ncfm_tensor_get_device (x) != ncfm_tensor_get_device (y)) {
    g_autofree gchar *a = ncfm_tensor_describe (x);
    g_autofree gchar *b = ncfm_tensor_describe (y);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "augmentation %s %s on %s and %s %s on %s differ", xn, a,
        ncfm_device_get_name (ncfm_tensor_get_device (x)), yn, b,
        ncfm_device_get_name (ncfm_tensor_get_device (y)));
    return FALSE;
  }
  if (self->mode == NCFM_AUGMENT_PER_SAMPLE && ncfm_tensor_get_dim (x, 0) != self->sets) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "per-sample augmentation parameters drawn for %" G_GINT64_FORMAT " images cannot be "
        "replayed on a batch of %" G_GINT64_FORMAT, self->sets, ncfm_tensor_get_dim (x, 0));
    return FALSE;
  }
  return TRUE;
}

/* The parameters on `device` for a batch of n, uploaded on first use.
 * Returns a reference (device_params_release) or NULL. */
static DeviceParams *
device_params (NcfmAugmentParams *self, NcfmDevice *device, gint64 n, GError **error)
{
  g_mutex_lock (&self->lock);
  for (guint k = 0; k < self->cache->len; k++) {
    DeviceParams *dp = g_ptr_array_index (self->cache, k);
    if (dp->device == device && dp->batch == n) {
      dp = g_atomic_rc_box_acquire (dp);
      g_mutex_unlock (&self->lock);
      return dp;
    }
  }
  DeviceParams *dp = g_atomic_rc_box_new0 (DeviceParams);
  dp->device = g_object_ref (device);
  dp->batch = n;
  for (guint k = 0; k < self->n_steps; k++) {
    const NcfmAugmentStep *s = &self->steps[k];
    const gboolean is_f = ncfm_augment_op_info[s->op].n_f > 0;
    const guint per = is_f ? ncfm_augment_op_info[s->op].n_f : ncfm_augment_op_info[s->op].n_i;
    const gsize bytes = (gsize) per * 4;
    g_autofree guint8 *host = g_malloc ((gsize) n * bytes);
    for (gint64 i = 0; i < n; i++)   /* shared: the one set for every image */
      memcpy (host + i * bytes, (is_f ? (guint8 *) s->f : (guint8 *) s->i)
          + (self->sets == 1 ? 0 : i) * bytes, bytes);
    const gint64 shape[2] = { n, per };
    dp->t[k] = ncfm_tensor_new_from_data (device, is_f ? NCFM_DTYPE_F32 : NCFM_DTYPE_I32, shape,
        2, host, (gsize) n * bytes, error);
    if (!dp->t[k]) {
      g_mutex_unlock (&self->lock);
      device_params_release (dp);
      return NULL;
    }
  }
  if (self->cache->len >= MAX_CACHED)
    g_ptr_array_remove_index (self->cache, 0);
  g_ptr_array_add (self->cache, g_atomic_rc_box_acquire (dp));
  g_mutex_unlock (&self->lock);
  return dp;
}

/* One op (or its adjoint) from src into dst. */
static void
run_op (NcfmBackend *be, NcfmAugmentOp op, gboolean adjoint, NcfmTensor *param, gint n, gint c,
    gint h, gint w, const float *src, float *dst)
{
  const float *f = ncfm_tensor_f32 (param);
  const int32_t *iv = (const int32_t *) ncfm_tensor_get_data (param);
  switch (op) {
    case OP_BRIGHTNESS:   /* its adjoint, the identity, never gets here */
      be->ops->dsa_brightness (be, n, c * h * w, f, src, dst);
      break;
    case OP_SATURATION:
      be->ops->dsa_saturation (be, n, c, h * w, f, src, dst);
      break;
    case OP_CONTRAST:
      be->ops->dsa_contrast (be, n, c * h * w, f, src, dst);
      break;
    case OP_CROP:
      be->ops->dsa_translate (be, n, c, h, w, iv, adjoint ? -1 : 1, src, dst);
      break;
    case OP_CUTOUT:
      be->ops->dsa_cutout (be, n, c, h, w, iv, src, dst);
      break;
    case OP_FLIP:
      be->ops->dsa_flip (be, n, c, h, w, iv, src, dst);
      break;
    case OP_SCALE:
    case OP_ROTATE:
      if (adjoint)
        be->ops->dsa_affine_backward (be, n, c, h, w, f, src, dst);
      else
        be->ops->dsa_affine_forward (be, n, c, h, w, f, src, dst);
      break;
    case N_OPS:
      g_assert_not_reached ();
  }
}

/* A work buffer shaped like `like` other than `avoid`: slots 0 and 1 of
 * `work`, or tensors owned by `own`. */
static NcfmTensor *
work_buffer (NcfmTensor *own[2], NcfmActivations *work, NcfmTensor *like, NcfmTensor *avoid,
    GError **error)
{
  for (guint k = 0; k < 2; k++) {
    NcfmTensor *t = work ? ncfm_activations_peek (work, k) : own[k];
    if (t && t == avoid)
      continue;
    if (work)
      return ncfm_activations_ensure (work, k, ncfm_tensor_get_device (like), NCFM_DTYPE_F32,
          shape_of (like), 4, error);
    if (!own[k])
      own[k] = ncfm_tensor_new (ncfm_tensor_get_device (like), NCFM_DTYPE_F32,
          shape_of (like), 4, error);
    return own[k];
  }
  g_assert_not_reached ();
}

/* y is x, or a view of the same memory */
static gboolean
same_memory (NcfmTensor *a, NcfmTensor *b)
{
  return ncfm_tensor_get_data (a) == ncfm_tensor_get_data (b);
}

/* The steps in order (forward) or their adjoints in reverse order, from x
 * into y; x is only read (unless it is y). */
static gboolean
run_chain (NcfmAugmentParams *self, NcfmTensor *x, NcfmTensor *y, NcfmActivations *work,
    gboolean adjoint, GError **error)
{
  if (!check_images (self, x, y, adjoint ? "dy" : "x", adjoint ? "dx" : "y", error))
    return FALSE;
  guint order[NCFM_AUGMENT_MAX_STEPS], n_active = 0;
  for (guint k = 0; k < self->n_steps; k++) {
    guint s = adjoint ? self->n_steps - 1 - k : k;
    if (!(adjoint && self->steps[s].op == OP_BRIGHTNESS))
      order[n_active++] = s;
  }
  if (n_active == 0)
    return same_memory (x, y) || ncfm_tensor_copy_from (y, x, error);
  NcfmDevice *dev = ncfm_tensor_get_device (x);
  const gint64 *shape = shape_of (x);
  DeviceParams *dp = device_params (self, dev, shape[0], error);
  if (!dp)
    return FALSE;
  NcfmBackend *be = ncfm_device_get_backend (dev);
  NcfmTensor *own[2] = { NULL, NULL }, *src = x;
  gboolean ok = TRUE;
  for (guint j = 0; j < n_active && ok; j++) {
    const NcfmAugmentStep *s = &self->steps[order[j]];
    NcfmTensor *dst = y;
    if (j + 1 < n_active || (same_memory (src, y) && !ncfm_augment_op_info[s->op].in_place))
      dst = work_buffer (own, work, x, src, error);
    if (!(ok = dst != NULL))
      break;
    run_op (be, s->op, adjoint, dp->t[order[j]], (gint) shape[0], (gint) shape[1],
        (gint) shape[2], (gint) shape[3], ncfm_tensor_f32 (src), ncfm_tensor_f32 (dst));
    src = dst;
  }
  if (ok && !same_memory (src, y))
    ok = ncfm_tensor_copy_from (y, src, error);
  g_clear_object (&own[0]);
  g_clear_object (&own[1]);
  device_params_release (dp);
  return ok;
}

/**
 * ncfm_augment_params_apply:
 * @self: a #NcfmAugmentParams
 * @x: F32 [N, C, H, W] images (normalised space), H and W those of the draw;
 *   any N for shared parameters, the drawn batch size for per-sample ones
 * @y: F32 output like @x (may be @x, or a view of the same memory)
 * @work: (nullable): holds the intermediate images (slots 0 and 1: give it a
 *   dedicated #NcfmActivations, not a model's); %NULL allocates them per call
 * @error: return location for a #GError
 *
 * Replays the augmentation: the same parameters give the same transform on
 * any batch.
 *
 * Returns: %TRUE on success; %FALSE if the tensors do not fit the parameters
 */
gboolean
ncfm_augment_params_apply (NcfmAugmentParams *self, NcfmTensor *x, NcfmTensor *y,
    NcfmActivations *work, GError **error)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (self), FALSE);
  g_return_val_if_fail (NCFM_IS_TENSOR (x) && NCFM_IS_TENSOR (y), FALSE);
  g_return_val_if_fail (work == NULL || NCFM_IS_ACTIVATIONS (work), FALSE);
  return run_chain (self, x, y, work, FALSE, error);
}

/**
 * ncfm_augment_params_backward:
 * @self: a #NcfmAugmentParams
 * @dy: F32 [N, C, H, W], the gradient wrt the output of ncfm_augment_params_apply()
 * @dx: F32 like @dy, overwritten with the gradient wrt its input (may be @dy)
 * @work: (nullable): as for ncfm_augment_params_apply()
 * @error: return location for a #GError
 *
 * The adjoints of the steps in reverse order (brightness: the identity;
 * saturation, contrast, cutout, flip: themselves; crop: the opposite shift;
 * scale, rotate: the grid_sample input gradient).
 *
 * Returns: %TRUE on success; %FALSE if the tensors do not fit the parameters
 */
gboolean
ncfm_augment_params_backward (NcfmAugmentParams *self, NcfmTensor *dy, NcfmTensor *dx,
    NcfmActivations *work, GError **error)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (self), FALSE);
  g_return_val_if_fail (NCFM_IS_TENSOR (dy) && NCFM_IS_TENSOR (dx), FALSE);
  g_return_val_if_fail (work == NULL || NCFM_IS_ACTIVATIONS (work), FALSE);
  return run_chain (self, dy, dx, work, TRUE, error);
}

/**
 * ncfm_augment_params_get_mode:
 * @self: a #NcfmAugmentParams
 *
 * Returns: whether the parameters are one set for any batch or one per image
 */
NcfmAugmentMode
ncfm_augment_params_get_mode (NcfmAugmentParams *self)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (self), NCFM_AUGMENT_SHARED);
  return self->mode;
}

/**
 * ncfm_augment_params_get_strategy:
 * @self: a #NcfmAugmentParams
 *
 * Returns: (transfer none): the strategy they were drawn for
 */
const gchar *
ncfm_augment_params_get_strategy (NcfmAugmentParams *self)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (self), NULL);
  return self->strategy;
}

/**
 * ncfm_augment_params_get_seed:
 * @self: a #NcfmAugmentParams
 *
 * Returns: the seed of the draw
 */
guint64
ncfm_augment_params_get_seed (NcfmAugmentParams *self)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (self), 0);
  return self->seed;
}

/**
 * ncfm_augment_params_get_batch:
 * @self: a #NcfmAugmentParams
 *
 * Returns: the batch size per-sample parameters need; 0 for shared ones (any batch)
 */
gint64
ncfm_augment_params_get_batch (NcfmAugmentParams *self)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (self), 0);
  return self->mode == NCFM_AUGMENT_SHARED ? 0 : self->sets;
}

/**
 * ncfm_augment_params_get_height:
 * @self: a #NcfmAugmentParams
 *
 * Returns: the image height the parameters are for
 */
gint64
ncfm_augment_params_get_height (NcfmAugmentParams *self)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (self), 0);
  return self->height;
}

/**
 * ncfm_augment_params_get_width:
 * @self: a #NcfmAugmentParams
 *
 * Returns: the image width the parameters are for
 */
gint64
ncfm_augment_params_get_width (NcfmAugmentParams *self)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (self), 0);
  return self->width;
}

static void
describe_set (GString *s, const NcfmAugmentStep *st, gint64 k)
{
  const gfloat *f = st->f ? st->f + k * ncfm_augment_op_info[st->op].n_f : NULL;
  const gint32 *i = st->i ? st->i + k * ncfm_augment_op_info[st->op].n_i : NULL;
  switch (st->op) {
    case OP_BRIGHTNESS:
      g_string_append_printf (s, "%+.3f", f[0]);
      break;
    case OP_SATURATION:
    case OP_CONTRAST:
      g_string_append_printf (s, "x%.3f", f[0]);
      break;
    case OP_CROP:
      g_string_append_printf (s, "(%+d,%+d)", i[0], i[1]);
      break;
    case OP_CUTOUT:
      g_string_append_printf (s, "[%d:%d,%d:%d]", i[0], i[1], i[2], i[3]);
      break;
    case OP_FLIP:
      g_string_append (s, i[0] ? "yes" : "no");
      break;
    case OP_SCALE:
      g_string_append_printf (s, "(%.3f,%.3f)", f[0], f[4]);
      break;
    case OP_ROTATE:
      g_string_append_printf (s, "%+.2fdeg", atan2 (f[3], f[0]) * 180.0 / G_PI);
      break;
    case N_OPS:
      g_assert_not_reached ();
  }
}

/**
 * ncfm_augment_params_describe:
 * @self: a #NcfmAugmentParams
 *
 * A one-line summary for logs, e.g. "shared seed 7 32x32: brightness
 * [+0.120] saturation [x1.503] ... rotate [-3.71deg]" (per-sample: the first
 * four images).
 *
 * Returns: (transfer full): the description
 */
gchar *
ncfm_augment_params_describe (NcfmAugmentParams *self)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (self), NULL);
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "%s", ncfm_augment_mode_to_string (self->mode));
  if (self->mode == NCFM_AUGMENT_PER_SAMPLE)
    g_string_append_printf (s, " x%" G_GINT64_FORMAT, self->sets);
  g_string_append_printf (s, " seed %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT "x%"
      G_GINT64_FORMAT ":", self->seed, self->height, self->width);
  if (self->n_steps == 0)
    g_string_append (s, " identity");
  for (guint k = 0; k < self->n_steps; k++) {
    g_string_append_printf (s, " %s [", ncfm_augment_op_info[self->steps[k].op].name);
    for (gint64 i = 0; i < MIN (self->sets, 4); i++) {
      if (i)
        g_string_append_c (s, ' ');
      describe_set (s, &self->steps[k], i);
    }
    g_string_append (s, self->sets > 4 ? " ...]" : "]");
  }
  return g_string_free (s, FALSE);
}

/**
 * ncfm_augment_params_serialize:
 * @self: a #NcfmAugmentParams
 *
 * The parameters as a GVariant of type "(usutxiia(sadai))": format version,
 * strategy, mode, seed, parameter sets, height, width, and per step its op
 * name ("brightness", ..., "rotate"), floats and ints ([sets, per-op count]).
 * ncfm_augment_params_new_from_variant() rebuilds them exactly.
 *
 * Returns: (transfer full): a new non-floating variant
 */
GVariant *
ncfm_augment_params_serialize (NcfmAugmentParams *self)
{
  g_return_val_if_fail (NCFM_IS_AUGMENT_PARAMS (self), NULL);
  GVariantBuilder steps;
  g_variant_builder_init (&steps, G_VARIANT_TYPE ("a(sadai)"));
  for (guint k = 0; k < self->n_steps; k++) {
    const NcfmAugmentStep *st = &self->steps[k];
    const gsize nf = (gsize) self->sets * ncfm_augment_op_info[st->op].n_f;
    const gsize ni = (gsize) self->sets * ncfm_augment_op_info[st->op].n_i;
    g_autofree gdouble *d = g_new (gdouble, nf ? nf : 1);
    for (gsize j = 0; j < nf; j++)
      d[j] = st->f[j];   /* floats are exact in double */
    g_variant_builder_add (&steps, "(s@ad@ai)", ncfm_augment_op_info[st->op].name,
        g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, d, nf, sizeof (gdouble)),
        g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, st->i, ni, sizeof (gint32)));
  }
  return g_variant_ref_sink (g_variant_new (SERIAL_FORMAT, SERIAL_VERSION, self->strategy,
      (guint32) self->mode, self->seed, self->sets, (gint32) self->height,
      (gint32) self->width, &steps));
}

/* A step read back must be what the kernels assume: finite floats, boxes
 * clipped, shifts within the image. */
static gboolean
step_valid (const NcfmAugmentParams *p, const NcfmAugmentStep *st)
{
  const gsize nf = (gsize) p->sets * ncfm_augment_op_info[st->op].n_f;
  for (gsize j = 0; j < nf; j++)
    if (!isfinite (st->f[j]))
      return FALSE;
  for (gint64 k = 0; k < p->sets; k++) {
    const gint32 *i = st->i ? st->i + k * ncfm_augment_op_info[st->op].n_i : NULL;
    if (st->op == OP_CROP && (ABS (i[0]) > p->height || ABS (i[1]) > p->width))
      return FALSE;
    if (st->op == OP_CUTOUT && !(0 <= i[0] && i[0] <= i[1] && i[1] <= p->height && 0 <= i[2]
            && i[2] <= i[3] && i[3] <= p->width))
      return FALSE;
  }
  return TRUE;
}

/**
 * ncfm_augment_params_new_from_variant:
 * @variant: what ncfm_augment_params_serialize() returned
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the parameters, or %NULL if @variant is not a
 *   valid serialization
 */
NcfmAugmentParams *
ncfm_augment_params_new_from_variant (GVariant *variant, GError **error)
{
  g_return_val_if_fail (variant != NULL, NULL);
  if (!g_variant_is_of_type (variant, G_VARIANT_TYPE (SERIAL_FORMAT))) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "augmentation parameters: expected a GVariant of type %s, got %s", SERIAL_FORMAT,
        g_variant_get_type_string (variant));
    return NULL;
  }
  guint32 version, mode;
  const gchar *strategy;
  guint64 seed;
  gint64 sets;
  gint32 height, width;
  g_autoptr (GVariantIter) iter = NULL;
  g_variant_get (variant, "(u&sutxiia(sadai))", &version, &strategy, &mode, &seed, &sets, &height,
      &width, &iter);
  NcfmAugmentToken tokens[N_TOKENS];
  guint n_tokens;
  if (version != SERIAL_VERSION || mode > NCFM_AUGMENT_PER_SAMPLE || sets < 1
      || sets > G_MAXINT32 || (mode == NCFM_AUGMENT_SHARED && sets != 1) || height < 1
      || width < 1 || height > G_MAXINT32 / 4 || width > G_MAXINT32 / 4
      || g_variant_iter_n_children (iter) > NCFM_AUGMENT_MAX_STEPS
      || !ncfm_augment_parse_strategy (strategy, tokens, &n_tokens, NULL)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "augmentation parameters: bad header (version %u, mode %u, %" G_GINT64_FORMAT
        " sets of %dx%d, strategy \"%s\")", version, mode, sets, height, width, strategy);
    return NULL;
  }
  g_autoptr (NcfmAugmentParams) p = ncfm_augment_params_new_empty (strategy,
      (NcfmAugmentMode) mode, seed, sets, height, width);
  const gchar *name;
  GVariant *fv, *iv;
  while (g_variant_iter_next (iter, "(&s@ad@ai)", &name, &fv, &iv)) {
    g_autoptr (GVariant) fvar = fv, ivar = iv;
    guint op = 0;
    while (op < N_OPS && !g_str_equal (name, ncfm_augment_op_info[op].name))
      op++;
    gsize nf = 0, ni = 0;
    const gdouble *d = g_variant_get_fixed_array (fvar, &nf, sizeof (gdouble));
    const gint32 *i = g_variant_get_fixed_array (ivar, &ni, sizeof (gint32));
    if (op == N_OPS || nf != (gsize) sets * ncfm_augment_op_info[op].n_f
        || ni != (gsize) sets * ncfm_augment_op_info[op].n_i) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
          "augmentation parameters: step \"%s\" unknown or with %zu floats and %zu ints "
          "for %" G_GINT64_FORMAT " sets", name, nf, ni, sets);
      return NULL;
    }
    NcfmAugmentStep *st = ncfm_augment_params_add_step (p, (NcfmAugmentOp) op);
    for (gsize j = 0; j < nf; j++)
      st->f[j] = (gfloat) d[j];
    if (ni)
      memcpy (st->i, i, ni * sizeof (gint32));
    if (!step_valid (p, st)) {
      g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
          "augmentation parameters: step \"%s\" has values outside the %dx%d image", name,
          height, width);
      return NULL;
    }
  }
  return g_steal_pointer (&p);
}

