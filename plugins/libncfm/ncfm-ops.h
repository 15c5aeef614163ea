/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-ops.h: element-wise and small tensor operations over NcfmTensor,
 * each checking dtypes, shapes and devices before it calls the backend.
 * They are what the elements and the learning objects (distiller,
 * optimizer, trainer) use instead of the backend table, so no code above
 * libncfm calls a kernel directly. */
#ifndef NCFM_OPS_H
#define NCFM_OPS_H

#include "ncfm-tensor.h"

G_BEGIN_DECLS

gboolean ncfm_ops_axpby (gfloat a, NcfmTensor *x, gfloat b, NcfmTensor *y, GError **error);
gboolean ncfm_ops_clamp (NcfmTensor *x, gfloat lo, gfloat hi, GError **error);
gboolean ncfm_ops_channel_affine (NcfmTensor *x, NcfmTensor *y, const gfloat *scale,
    const gfloat *shift, guint n_channels, GError **error);
gboolean ncfm_ops_normalize (NcfmTensor *x, NcfmTensor *y, const gfloat *mean,
    const gfloat *std, guint n_channels, GError **error);
gboolean ncfm_ops_normalize_backward (NcfmTensor *grad_y, NcfmTensor *grad_x,
    const gfloat *std, guint n_channels, GError **error);
gboolean ncfm_ops_cross_entropy (NcfmTensor *logits, NcfmTensor *labels,
    NcfmTensor *soft_targets, NcfmTensor *probs, NcfmTensor *loss, GError **error);
gboolean ncfm_ops_cross_entropy_backward (NcfmTensor *probs, NcfmTensor *labels,
    NcfmTensor *soft_targets, NcfmTensor *grad_logits, GError **error);
gboolean ncfm_ops_adamw_step (NcfmTensor *param, NcfmTensor *grad, NcfmTensor *exp_avg,
    NcfmTensor *exp_avg_sq, gfloat lr, gfloat beta1, gfloat beta2, gfloat eps,
    gfloat weight_decay, gint64 step, GError **error);
gboolean ncfm_ops_sgd_step (NcfmTensor *param, NcfmTensor *grad, NcfmTensor *momentum_buf,
    gfloat lr, gfloat momentum, gfloat weight_decay, GError **error);
gboolean ncfm_tensor_ensure_f32 (NcfmDevice *device, NcfmTensor **tensor, const gint64 *shape,
    guint n_dims, GError **error);
guint64 ncfm_derive_seed (guint64 seed, guint64 index);

#ifndef __GI_SCANNER__
/* ncfm_mix64: splitmix64 (increment and finaliser): maps neighbouring indices (steps, rounds,
 * classes) to decorrelated 64-bit seeds.  Every seed derivation in the
 * project goes through it, so a stream depends only on its indices. */
static inline guint64
ncfm_mix64 (guint64 x)
{
  x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return x ^ (x >> 31);
}
#endif

G_END_DECLS
#endif
