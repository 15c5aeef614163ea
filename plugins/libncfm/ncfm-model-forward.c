/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-model-forward.c: forward, batched feature extraction and backward of
 * any NcfmModel: the argument checks, written once, around the
 * architecture's layers (#NcfmModelClass.forward, .forward_features,
 * .backward). */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-model-private.h"

#define PRIV(self) ncfm_model_private (self)

/* @images must be F32 [N, C, H, W] of the model's shape on its device, with
 * N >= 2 for BatchNorm in training mode. */
static gboolean
check_images (NcfmModel *self, NcfmTensor *images, GError **error)
{
  NcfmModelPrivate *p = PRIV (self);
  const gint64 n = ncfm_tensor_get_n_dims (images) == 4 ? ncfm_tensor_get_dim (images, 0) : 0;
  const gint64 want[4] = { n, p->in_channels, p->height, p->width };
  if (ncfm_tensor_get_dtype (images) != NCFM_DTYPE_F32 || n < 1 || n > G_MAXINT / 2
      || !ncfm_tensor_has_shape (images, want, 4) || ncfm_tensor_get_device (images) != p->device) {
    g_autofree gchar *d = ncfm_tensor_describe (images);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "%s input must be F32 [N, %u, %u, %u] on %s, got %s on %s", ncfm_model_title (self),
        p->in_channels, p->height, p->width, ncfm_device_get_name (p->device), d,
        ncfm_device_get_name (ncfm_tensor_get_device (images)));
    return FALSE;
  }
  if (p->norm == NCFM_NORM_BATCH && p->training && n < 2) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
        "BatchNorm in training mode needs at least 2 images per batch, got %" G_GINT64_FORMAT, n);
    return FALSE;
  }
  return TRUE;
}

/* @t, when given, must be F32 [n, d] on the model's device. */
static gboolean
check_rows (NcfmModel *self, NcfmTensor *t, gint64 n, gint64 d, const gchar *what,
    GError **error)
{
  const gint64 shape[2] = { n, d };
  NcfmDevice *dev = PRIV (self)->device;
  if (!t || (ncfm_tensor_get_dtype (t) == NCFM_DTYPE_F32 && ncfm_tensor_has_shape (t, shape, 2)
          && ncfm_tensor_get_device (t) == dev))
    return TRUE;
  g_autofree gchar *desc = ncfm_tensor_describe (t);
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE,
      "%s must be F32 [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] on %s, got %s", what, n, d,
      ncfm_device_get_name (dev), desc);
  return FALSE;
}

/**
 * ncfm_model_forward:
 * @self: a #NcfmModel
 * @images: F32 [N,C,H,W], normalised with the dataset mean/std
 * @activations: per-caller state; receives the features [N,D], the logits
 *   [N,K] and what backward needs; its buffers are reused while N stays the same
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success; %FALSE if @images does not fit the model
 */
gboolean
ncfm_model_forward (NcfmModel *self, NcfmTensor *images, NcfmActivations *activations,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self) && NCFM_IS_TENSOR (images), FALSE);
  g_return_val_if_fail (NCFM_IS_ACTIVATIONS (activations), FALSE);
  if (!check_images (self, images, error))
    return FALSE;
  const gint64 n = ncfm_tensor_get_dim (images, 0);
  if (!NCFM_MODEL_GET_CLASS (self)->forward (self, images, n, activations, error))
    return FALSE;
  ncfm_activations_set_input (activations, images);
  ncfm_activations_set_owner (activations, self, n);
  return TRUE;
}

/* Features of one part into @out: the architecture's own path or forward. */
static gboolean
features_of_part (NcfmModel *self, NcfmTensor *part, NcfmTensor *out,
    NcfmActivations *activations, GError **error)
{
  NcfmModelClass *klass = NCFM_MODEL_GET_CLASS (self);
  if (!klass->forward_features)
    return ncfm_model_forward (self, part, activations, error)
        && ncfm_tensor_copy_from (out, ncfm_activations_get_features (activations), error);
  return check_images (self, part, error)
      && check_rows (self, out, ncfm_tensor_get_dim (part, 0), PRIV (self)->feature_dim,
          "features", error)
      && klass->forward_features (self, part, out, activations, error);
}

/**
 * ncfm_model_forward_features:
 * @self: a #NcfmModel
 * @images: images [N,C,H,W] (normalised)
 * @chunk: the most images per forward (0: all at once); used only when the
 *   model's samples are independent
 * @activations: scratch state, reused across calls
 * @error: return location for a #GError
 *
 * The features of a large batch without keeping the activations of all of
 * it: the batch goes through the model in parts of at most @chunk images
 * (equal parts, so the activations keep their size from call to call), and
 * each part's features are copied into the result.  Peak activation memory
 * scales with @chunk instead of N.  With BatchNorm in training mode the
 * batch goes through whole, as its statistics couple the images.  Models
 * with a faster inference path use it (the ConvNet with instance norm or
 * none runs each block as one fused op); @activations then holds no
 * forward pass to run backward on.
 *
 * Returns: (transfer full): features [N,D], or %NULL on error
 */
NcfmTensor *
ncfm_model_forward_features (NcfmModel *self, NcfmTensor *images, gint64 chunk,
    NcfmActivations *activations, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), NULL);
  g_return_val_if_fail (NCFM_IS_TENSOR (images), NULL);
  const gint64 n = ncfm_tensor_get_n_dims (images) >= 1 ? ncfm_tensor_get_dim (images, 0) : 0;
  if (n < 1) {
    g_autofree gchar *d = ncfm_tensor_describe (images);
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_SHAPE, "no images to extract features from: %s",
        d);
    return NULL;
  }
  gint64 parts = 1;
  if (chunk > 0 && chunk < n && ncfm_model_get_samples_independent (self))
    parts = (n + chunk - 1) / chunk;
  const gint64 per_part = (n + parts - 1) / parts;
  const gint64 dshape[2] = { n, ncfm_model_get_feature_dim (self) };
  g_autoptr (NcfmTensor) features = ncfm_tensor_new (ncfm_tensor_get_device (images),
      NCFM_DTYPE_F32, dshape, 2, error);
  if (!features)
    return NULL;
  for (gint64 start = 0; start < n; start += per_part) {
    const gint64 count = MIN (per_part, n - start);
    g_autoptr (NcfmTensor) part = parts == 1 ? g_object_ref (images)
        : ncfm_tensor_new_rows (images, start, count, error);
    g_autoptr (NcfmTensor) out = parts == 1 ? g_object_ref (features)
        : ncfm_tensor_new_rows (features, start, count, error);
    if (!part || !out || !features_of_part (self, part, out, activations, error))
      return NULL;
  }
  return g_steal_pointer (&features);
}

/**
 * ncfm_model_backward:
 * @self: a #NcfmModel
 * @activations: filled by ncfm_model_forward() of this model
 * @grad_features: (nullable): dL/dfeatures [N,D]
 * @grad_logits: (nullable): dL/dlogits [N,K]
 * @parameter_gradients: also write dL/dparameter into the model's gradient
 *   tensors (ncfm_model_get_gradient(), overwritten); off, the model is only read
 * @error: return location for a #GError
 *
 * Back-propagates the given output gradients (either or both) to the input
 * images (ncfm_activations_get_grad_images()) and optionally the parameters.
 *
 * Returns: %TRUE on success
 */
gboolean
ncfm_model_backward (NcfmModel *self, NcfmActivations *activations, NcfmTensor *grad_features,
    NcfmTensor *grad_logits, gboolean parameter_gradients, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self) && NCFM_IS_ACTIVATIONS (activations), FALSE);
  NcfmModelPrivate *p = PRIV (self);
  gint64 n = 0;
  if (!ncfm_activations_is_owned_by (activations, self, &n)) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "backward needs the activations of a forward pass of this model");
    return FALSE;
  }
  if (!grad_features && !grad_logits) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "backward needs a gradient wrt the features, the logits, or both");
    return FALSE;
  }
  if (!check_rows (self, grad_features, n, p->feature_dim, "grad_features", error)
      || !check_rows (self, grad_logits, n, p->num_classes, "grad_logits", error))
    return FALSE;
  if (p->norm == NCFM_NORM_BATCH && !p->training) {
    g_set_error (error, NCFM_ERROR, NCFM_ERROR_ARGUMENT,
        "backward through BatchNorm in eval mode is not supported; use training mode");
    return FALSE;
  }
  return NCFM_MODEL_GET_CLASS (self)->backward (self, activations, n, grad_features,
      grad_logits, parameter_gradients, error);
}
