/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-ops.c: checked tensor-level wrappers over the backend table. */
#include "ncfm-ops.h"

#include "ncfm-device.h"

/* FALSE with an error naming @op and @t unless @t is F32. */
static gboolean
check_f32 (const gchar *op, NcfmTensor *t, const gchar *what, GError **error)
{
  if (t && ncfm_tensor_get_dtype (t) == NCFM_DTYPE_F32)
    return TRUE;
  g_autofree gchar *d = t ? ncfm_tensor_describe (t) : g_strdup ("NULL");
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "%s: %s must be a F32 tensor, got %s", op,
      what, d);
  return FALSE;
}

/* FALSE with an error unless @b is on @a's device and has @a's element count. */
static gboolean
check_like (const gchar *op, NcfmTensor *a, const gchar *a_what, NcfmTensor *b,
    const gchar *b_what, GError **error)
{
  if (ncfm_tensor_get_device (a) != ncfm_tensor_get_device (b)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_DEVICE, "%s: %s is on %s, %s on %s", op, a_what,
        ncfm_device_get_name (ncfm_tensor_get_device (a)), b_what,
        ncfm_device_get_name (ncfm_tensor_get_device (b)));
    return FALSE;
  }
  if (ncfm_tensor_get_numel (a) != ncfm_tensor_get_numel (b)) {
    g_autofree gchar *da = ncfm_tensor_describe (a);
    g_autofree gchar *db = ncfm_tensor_describe (b);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "%s: %s is %s but %s is %s", op, a_what,
        da, b_what, db);
    return FALSE;
  }
  return TRUE;
}

static NcfmBackend *
backend_of (NcfmTensor *t)
{
  return ncfm_device_get_backend (ncfm_tensor_get_device (t));
}

/**
 * ncfm_ops_axpby:
 * @a: scale of @x
 * @x: F32 tensor
 * @b: scale of @y
 * @y: F32 tensor with as many elements as @x, on its device; y = a x + b y
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set when the tensors do not match
 */
gboolean
ncfm_ops_axpby (gfloat a, NcfmTensor *x, gfloat b, NcfmTensor *y, GError **error)
{
  if (!check_f32 ("axpby", x, "x", error) || !check_f32 ("axpby", y, "y", error)
      || !check_like ("axpby", x, "x", y, "y", error))
    return FALSE;
  NcfmBackend *be = backend_of (x);
  be->ops->axpby (be, (size_t) ncfm_tensor_get_numel (x), a, ncfm_tensor_f32 (x), b,
      ncfm_tensor_f32 (y));
  return TRUE;
}

/**
 * ncfm_ops_clamp:
 * @x: F32 tensor, clamped in place
 * @lo: lower bound
 * @hi: upper bound (>= @lo)
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
ncfm_ops_clamp (NcfmTensor *x, gfloat lo, gfloat hi, GError **error)
{
  if (!check_f32 ("clamp", x, "x", error))
    return FALSE;
  if (!(lo <= hi)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT, "clamp: bounds [%g, %g] are empty",
        (double) lo, (double) hi);
    return FALSE;
  }
  NcfmBackend *be = backend_of (x);
  be->ops->clamp (be, (size_t) ncfm_tensor_get_numel (x), lo, hi, ncfm_tensor_f32 (x));
  return TRUE;
}

/**
 * ncfm_ops_channel_affine:
 * @x: F32 images [N, C, H, W]
 * @y: F32 output of @x's shape (may be @x)
 * @scale: (array length=n_channels): per-channel scale
 * @shift: (array length=n_channels) (nullable): per-channel shift (zero when %NULL)
 * @n_channels: C, at most 4
 * @error: return location for a #GError
 *
 * y[i, c] = x[i, c] * scale[c] + shift[c].
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
ncfm_ops_channel_affine (NcfmTensor *x, NcfmTensor *y, const gfloat *scale, const gfloat *shift,
    guint n_channels, GError **error)
{
  if (!check_f32 ("channel_affine", x, "x", error) || !check_f32 ("channel_affine", y, "y", error)
      || !check_like ("channel_affine", x, "x", y, "y", error))
    return FALSE;
  if (ncfm_tensor_get_n_dims (x) != 4 || ncfm_tensor_get_dim (x, 1) != (gint64) n_channels
      || n_channels == 0 || n_channels > NCFM_MAX_CHANNELS) {
    g_autofree gchar *d = ncfm_tensor_describe (x);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "channel_affine: x must be [N, %u, H, W] with 1-%d channels, got %s", n_channels,
        NCFM_MAX_CHANNELS, d);
    return FALSE;
  }
  NcfmChannelAffine a = { { 0 }, { 0 } };
  for (guint c = 0; c < n_channels; c++) {
    a.scale[c] = scale[c];
    a.shift[c] = shift ? shift[c] : 0.0f;
  }
  const gint64 n = ncfm_tensor_get_dim (x, 0);
  const gint64 hw = ncfm_tensor_get_dim (x, 2) * ncfm_tensor_get_dim (x, 3);
  NcfmBackend *be = backend_of (x);
  be->ops->channel_affine (be, (int) n, (int) n_channels, (int) hw, a, ncfm_tensor_f32 (x),
      ncfm_tensor_f32 (y));
  return TRUE;
}

/**
 * ncfm_ops_normalize:
 * @x: F32 images [N, C, H, W] in pixel space
 * @y: F32 output of @x's shape (may be @x)
 * @mean: (array length=n_channels): the dataset's per-channel mean
 * @std: (array length=n_channels): its per-channel standard deviation
 * @n_channels: C
 * @error: return location for a #GError
 *
 * y = (x - mean) / std per channel, as the dataset loaders normalise.  The
 * arithmetic is x * (1/std) + (-mean/std), bit for bit what the kernels do.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
/* n_channels if x is [N, n_channels, H, W] with at most NCFM_MAX_CHANNELS, else 0. */
static guint
channels_if_matching (NcfmTensor *x, guint n_channels)
{
  return NCFM_IS_TENSOR (x) && ncfm_tensor_get_n_dims (x) == 4
      && ncfm_tensor_get_dim (x, 1) == (gint64) n_channels && n_channels <= NCFM_MAX_CHANNELS
      ? n_channels : 0;
}

gboolean
ncfm_ops_normalize (NcfmTensor *x, NcfmTensor *y, const gfloat *mean, const gfloat *std,
    guint n_channels, GError **error)
{
  gfloat scale[NCFM_MAX_CHANNELS] = { 0 }, shift[NCFM_MAX_CHANNELS] = { 0 };
  /* mean and std are read only when x has n_channels channels: on a
   * mismatch they may be shorter, and channel_affine reports it */
  for (guint c = 0; c < channels_if_matching (x, n_channels); c++) {
    scale[c] = 1.0f / std[c];
    shift[c] = -mean[c] / std[c];
  }
  return ncfm_ops_channel_affine (x, y, scale, shift, n_channels, error);
}

/**
 * ncfm_ops_normalize_backward:
 * @grad_y: F32 gradient wrt the normalised images
 * @grad_x: F32 output, the gradient wrt the pixel-space images (may be @grad_y)
 * @std: (array length=n_channels): the per-channel standard deviation
 * @n_channels: C
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
ncfm_ops_normalize_backward (NcfmTensor *grad_y, NcfmTensor *grad_x, const gfloat *std,
    guint n_channels, GError **error)
{
  gfloat scale[NCFM_MAX_CHANNELS] = { 0 };
  for (guint c = 0; c < channels_if_matching (grad_y, n_channels); c++)
    scale[c] = 1.0f / std[c];
  return ncfm_ops_channel_affine (grad_y, grad_x, scale, NULL, n_channels, error);
}

/* Checks the cross-entropy operands: logits/probs [n, k] F32, labels I32 [n]
 * or soft targets F32 [n, k] (exactly one of them). */
static gboolean
check_cross_entropy (const gchar *op, NcfmTensor *logits, NcfmTensor *labels, NcfmTensor *soft,
    GError **error)
{
  if (!check_f32 (op, logits, "logits", error))
    return FALSE;
  if (ncfm_tensor_get_n_dims (logits) != 2) {
    g_autofree gchar *d = ncfm_tensor_describe (logits);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "%s: logits must be [N, K], got %s", op, d);
    return FALSE;
  }
  if ((labels == NULL) == (soft == NULL)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "%s: give either hard labels or soft targets", op);
    return FALSE;
  }
  const gint64 n = ncfm_tensor_get_dim (logits, 0);
  if (labels && (ncfm_tensor_get_dtype (labels) != NCFM_DTYPE_I32
          || ncfm_tensor_get_numel (labels) != n)) {
    g_autofree gchar *d = ncfm_tensor_describe (labels);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "%s: labels must be I32 [%" G_GINT64_FORMAT
        "], got %s", op, n, d);
    return FALSE;
  }
  if (soft && (!check_f32 (op, soft, "soft targets", error)
          || !check_like (op, logits, "logits", soft, "soft targets", error)))
    return FALSE;
  return TRUE;
}

/**
 * ncfm_ops_cross_entropy:
 * @logits: F32 [N, K]
 * @labels: (nullable): I32 [N] class ids (or %NULL with @soft_targets)
 * @soft_targets: (nullable): F32 [N, K] target probabilities
 * @probs: F32 [N, K] output, the softmax (kept for the backward)
 * @loss: F32 [1] output, the batch mean of the cross-entropy
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
ncfm_ops_cross_entropy (NcfmTensor *logits, NcfmTensor *labels, NcfmTensor *soft_targets,
    NcfmTensor *probs, NcfmTensor *loss, GError **error)
{
  const gchar *op = "cross_entropy";
  if (!check_cross_entropy (op, logits, labels, soft_targets, error)
      || !check_f32 (op, probs, "probs", error) || !check_f32 (op, loss, "loss", error)
      || !check_like (op, logits, "logits", probs, "probs", error))
    return FALSE;
  if (ncfm_tensor_get_numel (loss) != 1) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "%s: loss must hold one value", op);
    return FALSE;
  }
  NcfmBackend *be = backend_of (logits);
  be->ops->cross_entropy_forward (be, (int) ncfm_tensor_get_dim (logits, 0),
      (int) ncfm_tensor_get_dim (logits, 1), ncfm_tensor_f32 (logits),
      labels ? ncfm_tensor_get_data (labels) : NULL,
      soft_targets ? ncfm_tensor_f32 (soft_targets) : NULL, ncfm_tensor_f32 (probs),
      ncfm_tensor_f32 (loss));
  return TRUE;
}

/**
 * ncfm_ops_cross_entropy_backward:
 * @probs: F32 [N, K], from ncfm_ops_cross_entropy()
 * @labels: (nullable): I32 [N], as given to the forward
 * @soft_targets: (nullable): F32 [N, K], as given to the forward
 * @grad_logits: F32 [N, K] output, the gradient of the mean loss
 * @error: return location for a #GError
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
ncfm_ops_cross_entropy_backward (NcfmTensor *probs, NcfmTensor *labels,
    NcfmTensor *soft_targets, NcfmTensor *grad_logits, GError **error)
{
  const gchar *op = "cross_entropy_backward";
  if (!check_cross_entropy (op, probs, labels, soft_targets, error)
      || !check_f32 (op, grad_logits, "grad_logits", error)
      || !check_like (op, probs, "probs", grad_logits, "grad_logits", error))
    return FALSE;
  NcfmBackend *be = backend_of (probs);
  be->ops->cross_entropy_backward (be, (int) ncfm_tensor_get_dim (probs, 0),
      (int) ncfm_tensor_get_dim (probs, 1), ncfm_tensor_f32 (probs),
      labels ? ncfm_tensor_get_data (labels) : NULL,
      soft_targets ? ncfm_tensor_f32 (soft_targets) : NULL, ncfm_tensor_f32 (grad_logits));
  return TRUE;
}

/**
 * ncfm_ops_adamw_step:
 * @param: F32 parameters, updated in place
 * @grad: F32 gradient, @param's size
 * @exp_avg: F32 first moment, @param's size
 * @exp_avg_sq: F32 second moment, @param's size
 * @lr: learning rate
 * @beta1: first-moment decay
 * @beta2: second-moment decay
 * @eps: denominator epsilon
 * @weight_decay: decoupled weight decay
 * @step: this update's 1-based step count
 * @error: return location for a #GError
 *
 * One torch.optim.AdamW update.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
ncfm_ops_adamw_step (NcfmTensor *param, NcfmTensor *grad, NcfmTensor *exp_avg,
    NcfmTensor *exp_avg_sq, gfloat lr, gfloat beta1, gfloat beta2, gfloat eps,
    gfloat weight_decay, gint64 step, GError **error)
{
  const gchar *op = "adamw_step";
  if (!check_f32 (op, param, "param", error) || !check_f32 (op, grad, "grad", error)
      || !check_f32 (op, exp_avg, "exp_avg", error)
      || !check_f32 (op, exp_avg_sq, "exp_avg_sq", error)
      || !check_like (op, param, "param", grad, "grad", error)
      || !check_like (op, param, "param", exp_avg, "exp_avg", error)
      || !check_like (op, param, "param", exp_avg_sq, "exp_avg_sq", error))
    return FALSE;
  if (step < 1 || step > G_MAXINT) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "%s: step %" G_GINT64_FORMAT " is outside [1, %d]", op, step, G_MAXINT);
    return FALSE;
  }
  NcfmBackend *be = backend_of (param);
  be->ops->adamw_step (be, (size_t) ncfm_tensor_get_numel (param), ncfm_tensor_f32 (param),
      ncfm_tensor_f32 (grad), ncfm_tensor_f32 (exp_avg), ncfm_tensor_f32 (exp_avg_sq), lr,
      beta1, beta2, eps, weight_decay, (int) step);
  return TRUE;
}

/**
 * ncfm_ops_sgd_step:
 * @param: F32 parameters, updated in place
 * @grad: F32 gradient, @param's size
 * @momentum_buf: (nullable): F32 momentum buffer, @param's size (may be
 *   %NULL when @momentum is 0)
 * @lr: learning rate
 * @momentum: momentum (dampening 0, no Nesterov)
 * @weight_decay: L2 weight decay added to the gradient
 * @error: return location for a #GError
 *
 * One torch.optim.SGD update.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
ncfm_ops_sgd_step (NcfmTensor *param, NcfmTensor *grad, NcfmTensor *momentum_buf, gfloat lr,
    gfloat momentum, gfloat weight_decay, GError **error)
{
  const gchar *op = "sgd_step";
  if (!check_f32 (op, param, "param", error) || !check_f32 (op, grad, "grad", error)
      || !check_like (op, param, "param", grad, "grad", error))
    return FALSE;
  if (momentum_buf && (!check_f32 (op, momentum_buf, "momentum_buf", error)
          || !check_like (op, param, "param", momentum_buf, "momentum_buf", error)))
    return FALSE;
  if (momentum != 0.0f && !momentum_buf) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "%s: momentum %g needs a momentum buffer", op, (double) momentum);
    return FALSE;
  }
  NcfmBackend *be = backend_of (param);
  be->ops->sgd_step (be, (size_t) ncfm_tensor_get_numel (param), ncfm_tensor_f32 (param),
      ncfm_tensor_f32 (grad), momentum_buf ? ncfm_tensor_f32 (momentum_buf) : NULL, lr,
      momentum, weight_decay);
  return TRUE;
}

/**
 * ncfm_tensor_ensure_f32:
 * @device: where to allocate
 * @tensor: (inout) (transfer full) (nullable): the scratch tensor to reuse
 * @shape: (array length=n_dims): the shape it must have
 * @n_dims: rank
 * @error: return location for a #GError
 *
 * Reallocates *@tensor as a F32 tensor of @shape on @device when it is
 * missing or has another shape; keeps it otherwise (scratch reused across
 * steps).
 *
 * Returns: %TRUE, or %FALSE with @error set (and *@tensor %NULL)
 */
gboolean
ncfm_tensor_ensure_f32 (NcfmDevice *device, NcfmTensor **tensor, const gint64 *shape,
    guint n_dims, GError **error)
{
  if (*tensor && ncfm_tensor_get_device (*tensor) == device
      && ncfm_tensor_get_dtype (*tensor) == NCFM_DTYPE_F32
      && ncfm_tensor_has_shape (*tensor, shape, n_dims))
    return TRUE;
  g_clear_object (tensor);
  *tensor = ncfm_tensor_new (device, NCFM_DTYPE_F32, shape, n_dims, error);
  return *tensor != NULL;
}

/**
 * ncfm_derive_seed:
 * @seed: a seed property (ncfmaugment's, an extractor's)
 * @index: what the stream is for: a buffer offset, a model rotation
 *
 * The seed of stream @index of @seed, ncfm_mix64 (@seed ^ ncfm_mix64 (@index)):
 * how ncfmaugment seeds the draw of buffer @index and an extractor the
 * random model of rotation @index.  Code that reproduces a pipeline (from
 * Python too) calls this to get the same streams.
 *
 * Returns: the derived seed
 */
guint64
ncfm_derive_seed (guint64 seed, guint64 index)
{
  return ncfm_mix64 (seed ^ ncfm_mix64 (index));
}
