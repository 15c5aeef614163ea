/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* gstncfmdistill-step.c: ncfmdistill's optimisation step on one class:
 * decode -> normalise -> replay augmentation -> model -> NCFD/MMD at the
 * buffer's t (+ calibration) -> backward through all of it -> AdamW ->
 * clamp; dL/dt to the learned sampler. */
#include "gstncfmdistill-private.h"

#include "gstncfmaugmentmeta.h"
#include "gstncfmcfmeta.h"

#include <math.h>

#define GST_CAT_DEFAULT gst_ncfm_distill_debug

#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.999f
#define ADAM_EPS 1e-8f

/* (Re)allocates *t as F32 of the given shape when it is missing or differs. */
static gboolean
ensure_f32 (NcfmDevice *dev, NcfmTensor **t, const gint64 *shape, guint nd, GError **error)
{
  if (*t && ncfm_tensor_has_shape (*t, shape, nd))
    return TRUE;
  g_clear_object (t);
  *t = ncfm_tensor_new (dev, NCFM_DTYPE_F32, shape, nd, error);
  return *t != NULL;
}

/* The calibration step: calib * cross-entropy of the trained pool member's
 * logits on the (augmented) synthetic images x against their class, its
 * gradient wrt x added to grad_images; *ce (if not NULL) gets the
 * cross-entropy, which costs a device sync. */
static gboolean
calibrate (GstNcfmDistill *self, NcfmModel *trained, NcfmTensor *x, NcfmTensor *grad_images,
    gdouble *ce, GError **error)
{
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  if (!ncfm_model_forward (trained, x, self->calib_acts, error))
    return FALSE;
  NcfmTensor *logits = ncfm_activations_get_logits (self->calib_acts);
  const gint64 n = ncfm_tensor_get_dim (logits, 0), k = ncfm_tensor_get_dim (logits, 1);
  const gint64 one = 1;
  guint nd;
  const gint64 *shape = ncfm_tensor_get_shape (logits, &nd);
  if (!ensure_f32 (self->device, &self->calib_probs, shape, nd, error)
      || !ensure_f32 (self->device, &self->calib_dlogits, shape, nd, error)
      || !ensure_f32 (self->device, &self->calib_loss, &one, 1, error))
    return FALSE;
  const gint32 *labels = ncfm_tensor_get_data (self->dec_labels);
  be->ops->cross_entropy_forward (be, (int) n, (int) k, ncfm_tensor_f32 (logits), labels, NULL,
      ncfm_tensor_f32 (self->calib_probs), ncfm_tensor_f32 (self->calib_loss));
  be->ops->cross_entropy_backward (be, (int) n, (int) k, ncfm_tensor_f32 (self->calib_probs),
      labels, NULL, ncfm_tensor_f32 (self->calib_dlogits));
  be->ops->axpby (be, (size_t) (n * k), self->s_calib, ncfm_tensor_f32 (self->calib_dlogits),
      0.0f, ncfm_tensor_f32 (self->calib_dlogits));
  if (!ncfm_model_backward (trained, self->calib_acts, NULL, self->calib_dlogits, FALSE, error))
    return FALSE;
  NcfmTensor *g = ncfm_activations_get_grad_images (self->calib_acts);
  be->ops->axpby (be, (size_t) ncfm_tensor_get_numel (g), 1.0f, ncfm_tensor_f32 (g), 1.0f,
      ncfm_tensor_f32 (grad_images));
  if (ce) {
    gfloat loss = 0.0f;
    ncfm_tensor_download (self->calib_loss, &loss, sizeof loss);
    *ce = loss;
  }
  return TRUE;
}

/* One optimisation step on class c; *loss gets its loss.  psi_done is set when
 * dL/dt of this class went to the learned sampler.  *skipped is set (and
 * neither the images, their AdamW state nor psi change) when the loss, the
 * gradient on the images or dL/dt is not finite. */
gboolean
gst_ncfm_distill_step_class (GstNcfmDistill *self, NcfmCFMeta *cf, NcfmModel *model, NcfmModel *trained,
    NcfmAugmentParams *params, guint c, gdouble *loss, gboolean *psi_done, gboolean *skipped,
    GError **error)
{
  NcfmBackend *be = ncfm_device_get_backend (self->device);
  const gboolean learned = self->s_metric == NCFM_METRIC_NCFD && cf->sampler
      && ncfm_sampler_get_kind (cf->sampler) == NCFM_SAMPLER_LEARNED;

  NcfmTensor *dec = ncfm_multiformation_decode (self->img[c], self->s_factor, self->dec_work,
      error);
  if (!dec)
    return FALSE;
  const gint64 n = ncfm_tensor_get_dim (dec, 0);
  const int hw = (int) (self->h * self->w);
  guint nd = 0;
  const gint64 *shape = ncfm_tensor_get_shape (dec, &nd);
  NcfmChannelAffine fwd = { { 0 }, { 0 } }, bwd = { { 0 }, { 0 } };
  for (guint ch = 0; ch < self->c; ch++) {
    fwd.scale[ch] = 1.0f / self->std[ch];
    fwd.shift[ch] = -self->mean[ch] / self->std[ch];
    bwd.scale[ch] = 1.0f / self->std[ch];
  }
  /* scratch kept across steps: every class decodes to the same shape */
  if (!ensure_f32 (self->device, &self->step_xn, shape, nd, error)
      || !ensure_f32 (self->device, &self->step_gx, shape, nd, error)
      || (params && !ensure_f32 (self->device, &self->step_xa, shape, nd, error)))
    return FALSE;
  NcfmTensor *xn = self->step_xn, *gx = self->step_gx, *xa = params ? self->step_xa : NULL;
  be->ops->channel_affine (be, (int) n, (int) self->c, hw, fwd, ncfm_tensor_f32 (dec),
      ncfm_tensor_f32 (xn));
  if (params && !ncfm_augment_params_apply (params, xn, xa, self->aug_work, error))
    return FALSE;
  if (!ncfm_model_forward (model, xa ? xa : xn, self->acts, error))
    return FALSE;
  NcfmTensor *feats = ncfm_activations_get_features (self->acts);

  if (self->dec_labels_class != (gint) c) {   /* an upload only when the class changes */
    g_autofree gint32 *l = g_new (gint32, n);
    for (gint64 i = 0; i < n; i++)
      l[i] = (gint32) c;
    if (!ncfm_tensor_set_data (self->dec_labels, (const guint8 *) l, n * sizeof (gint32), error))
      return FALSE;
    self->dec_labels_class = (gint) c;
  }
  if (!ncfm_ncfd_synthetic (self->ncfd, cf->stats, feats, self->dec_labels, cf->t, learned,
          error))
    return FALSE;
  *loss = ncfm_ncfd_get_class_loss (self->ncfd, c);
  /* a non-finite loss or gradient would poison the images, their AdamW
   * state and psi for good: the step is skipped (the caller counts it) */
  *skipped = !isfinite (*loss);
  if (*skipped)
    return TRUE;

  if (!ncfm_model_backward (model, self->acts, ncfm_ncfd_get_grad_syn_features (self->ncfd),
          NULL, FALSE, error))
    return FALSE;
  NcfmTensor *gimg = ncfm_activations_get_grad_images (self->acts);
  /* the cross-entropy is read back only for the log */
  const gboolean log_ce = gst_debug_category_get_threshold (GST_CAT_DEFAULT) >= GST_LEVEL_LOG;
  gdouble ce = 0.0;
  if (trained && !calibrate (self, trained, xa ? xa : xn, gimg, log_ce ? &ce : NULL, error))
    return FALSE;
  if (trained && log_ce)
    GST_LOG_OBJECT (self, "class %u: calibration cross-entropy %g", c, ce);
  if (params) {
    if (!ncfm_augment_params_backward (params, gimg, gx, self->aug_work, error))
      return FALSE;
    be->ops->channel_affine (be, (int) n, (int) self->c, hw, bwd, ncfm_tensor_f32 (gx),
        ncfm_tensor_f32 (gx));
  } else {
    be->ops->channel_affine (be, (int) n, (int) self->c, hw, bwd, ncfm_tensor_f32 (gimg),
        ncfm_tensor_f32 (gx));
  }
  NcfmTensor *g = ncfm_multiformation_backward (gx, self->s_factor, self->dec_work, error);
  if (!g)
    return FALSE;
  *skipped = !ncfm_tensor_check_finite (g, "class step", "image gradient", NULL);
  if (*skipped)
    return TRUE;

  if (learned) {
    if (!ncfm_ncfd_real_backward (self->ncfd, cf->features, cf->labels, FALSE, error))
      return FALSE;
    NcfmTensor *grad_t = ncfm_ncfd_get_grad_t (self->ncfd);
    *skipped = !ncfm_tensor_check_finite (grad_t, "class step", "dL/dt", NULL);
    if (*skipped)
      return TRUE;
    g_autoptr (GError) perr = NULL;
    ncfm_cf_meta_lock_sampler (cf);
    if (ncfm_sampler_backward (cf->sampler, cf->t, grad_t, &perr))
      *psi_done = TRUE;
    else
      GST_DEBUG_OBJECT (self, "not training the sampler on draw %" G_GUINT64_FORMAT
          " (class %u): %s", cf->draw, c, perr->message);
    ncfm_cf_meta_unlock_sampler (cf);
  }

  const size_t count = (size_t) ncfm_tensor_get_numel (self->img[c]);
  be->ops->adamw_step (be, count, ncfm_tensor_f32 (self->img[c]), ncfm_tensor_f32 (g),
      ncfm_tensor_f32 (self->m[c]), ncfm_tensor_f32 (self->v[c]), self->s_lr, ADAM_BETA1,
      ADAM_BETA2, ADAM_EPS, self->s_weight_decay, (int) ++self->cstep[c]);
  be->ops->clamp (be, count, 0.0f, 1.0f, ncfm_tensor_f32 (self->img[c]));
  return TRUE;
}
