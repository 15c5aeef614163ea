/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-finite.c: NaN and infinity checks of weights.  One NaN in a model
 * file is silent in the forward pass (ReLU and max-pooling drop it, the loss
 * stays finite) but the backward pass spreads it into every image of a
 * synthetic set, so every model load checks its tensors here, and the
 * trainers check their weights before they save them. */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-finite-private.h"

#include <math.h>

#include "ncfm-model.h"

gboolean
ncfm_check_finite_f32 (const gfloat *v, gsize n, const gchar *source, const gchar *tensor,
    GError **error)
{
  gsize first = 0, bad = 0;
  for (gsize i = 0; i < n; i++) {
    if (G_LIKELY (isfinite (v[i])))
      continue;
    if (!bad++)
      first = i;
  }
  if (!bad)
    return TRUE;
  const gfloat x = v[first];
  g_set_error (error, NCFM_ERROR, NCFM_ERROR_NOT_FINITE,
      "%s: tensor '%s' has %s at element %" G_GSIZE_FORMAT " (non-finite elements: %"
      G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT ")", source, tensor,
      isnan (x) ? "a NaN" : x > 0 ? "+inf" : "-inf", first, bad, n);
  return FALSE;
}

static gboolean
is_float_dtype (NcfmDType dtype)
{
  return dtype == NCFM_DTYPE_F32 || dtype == NCFM_DTYPE_F64 || dtype == NCFM_DTYPE_F16
      || dtype == NCFM_DTYPE_BF16;
}

/**
 * ncfm_safetensors_check_finite:
 * @self: a #NcfmSafetensors
 * @error: return location for a #GError (%NCFM_ERROR_NOT_FINITE)
 *
 * Checks that every floating-point tensor of @self holds only finite values
 * as float32 (so an F64 value beyond the float range counts as an
 * infinity).  The error names the file (ncfm_safetensors_get_path(), else
 * "weights"), the tensor and the first element at fault, e.g.
 * `premodel3_trained.safetensors: tensor 'features.0.weight' has a NaN at
 * element 17 (...)`.
 *
 * Returns: %TRUE if every value is finite
 */
gboolean
ncfm_safetensors_check_finite (NcfmSafetensors *self, GError **error)
{
  g_return_val_if_fail (NCFM_IS_SAFETENSORS (self), FALSE);
  const gchar *path = ncfm_safetensors_get_path (self);
  g_auto (GStrv) names = ncfm_safetensors_list_names (self);
  for (guint i = 0; names[i]; i++) {
    NcfmDType dtype;
    if (!ncfm_safetensors_get_info (self, names[i], &dtype, NULL, NULL, error))
      return FALSE;
    if (!is_float_dtype (dtype))
      continue;
    const gchar *source = path ? path : "weights";
    if (dtype == NCFM_DTYPE_F32 && G_BYTE_ORDER == G_LITTLE_ENDIAN) {
      /* in place, without a copy, when the mapped data is aligned */
      gsize n_bytes = 0;
      gconstpointer p = ncfm_safetensors_peek (self, names[i], NULL, &n_bytes, error);
      if (!p)
        return FALSE;
      if ((guintptr) p % G_ALIGNOF (gfloat) == 0) {
        if (!ncfm_check_finite_f32 (p, n_bytes / sizeof (gfloat), source, names[i], error))
          return FALSE;
        continue;
      }
    }
    gsize n = 0;
    g_autofree gfloat *v = ncfm_safetensors_dup_f32 (self, names[i], &n, error);
    if (!v || !ncfm_check_finite_f32 (v, n, source, names[i], error))
      return FALSE;
  }
  return TRUE;
}

/**
 * ncfm_tensor_check_finite:
 * @self: a #NcfmTensor
 * @source: what the tensor belongs to, for the message (a file, "model")
 * @name: the tensor's name, for the message
 * @error: (nullable): return location for a #GError (%NCFM_ERROR_NOT_FINITE)
 *
 * Checks that every element of an F32 tensor is finite (no NaN, no
 * infinity), on any device: a CPU tensor is scanned in place (under the
 * device lock), another one through a host copy (a device sync).  Other
 * dtypes always pass.  With @error %NULL it is a cheap yes/no, as the
 * distiller uses it on every class step's gradients.
 *
 * Returns: %TRUE if every value is finite
 */
gboolean
ncfm_tensor_check_finite (NcfmTensor *self, const gchar *source, const gchar *name,
    GError **error)
{
  g_return_val_if_fail (NCFM_IS_TENSOR (self), FALSE);
  if (ncfm_tensor_get_dtype (self) != NCFM_DTYPE_F32)
    return TRUE;
  const gsize n = (gsize) ncfm_tensor_get_numel (self);
  NcfmDevice *dev = ncfm_tensor_get_device (self);
  g_autoptr (NcfmDeviceLocker) held = ncfm_device_locker_new (dev);
  if (!ncfm_device_is_cuda (dev))
    return ncfm_check_finite_f32 (ncfm_tensor_f32 (self), n, source, name, error);
  g_autofree gfloat *host = g_new (gfloat, MAX (n, 1));
  ncfm_tensor_download (self, host, n * sizeof (gfloat));
  return ncfm_check_finite_f32 (host, n, source, name, error);
}

/**
 * ncfm_model_check_finite:
 * @self: a #NcfmModel
 * @error: return location for a #GError (%NCFM_ERROR_NOT_FINITE)
 *
 * Checks every parameter and buffer of @self (copied to the host), e.g.
 * before its weights are saved: a diverged training run ends here rather
 * than in a weights file.  The error names the first tensor at fault.
 *
 * Returns: %TRUE if every value is finite
 */
gboolean
ncfm_model_check_finite (NcfmModel *self, GError **error)
{
  g_return_val_if_fail (NCFM_IS_MODEL (self), FALSE);
  for (guint i = 0; i < ncfm_model_get_n_parameters (self); i++) {
    const gchar *name = ncfm_model_get_parameter_name (self, i);
    if (!ncfm_tensor_check_finite (ncfm_model_get_parameter (self, name), "model", name, error))
      return FALSE;
  }
  return TRUE;
}
