/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-convnet-forward.c: the ConvNet's layers over the backend ops, forward
 * and backward (the NcfmModel base has checked the arguments).  Everything
 * a forward pass keeps for backward lives in the caller's #NcfmActivations. */
#define G_LOG_DOMAIN "Ncfm"
#include "ncfm-convnet-private.h"

#define NORM_EPS 1e-5f
#define BN_MOMENTUM 0.1f

/* Activation slots: per layer, then shared ones. */
enum { SLOT_CONV_OUT, SLOT_NORM_OUT, SLOT_MEAN, SLOT_RSTD, SLOT_POOLED, SLOTS_PER_LAYER };
enum { SLOT_LOGITS, SLOT_GRAD_A, SLOT_GRAD_B, SLOT_GRAD_C, SLOT_GRAD_IMAGES, N_SHARED_SLOTS };
#define LAYER_SLOT(l, s) ((guint) ((l) * SLOTS_PER_LAYER + (s)))
#define SHARED_SLOT(m, s) ((guint) ((m)->depth * SLOTS_PER_LAYER + (s)))
#define f32(t) ncfm_model_f32 (t)

/* #NcfmModelClass.forward: the blocks, then the classifier on the last
 * block's maps flattened (NCHW order). */
gboolean
ncfm_convnet_forward_layers (NcfmModel *model, NcfmTensor *images, gint64 n,
    NcfmActivations *activations, GError **error)
{
  NcfmConvNet *self = NCFM_CONVNET (model);
  NcfmModelPrivate *m = NCFM_MODEL_BASE (self);
  NcfmBackend *be = ncfm_device_get_backend (m->device);
  NcfmDevice *dev = m->device;
  const float *x = f32 (images);
  NcfmTensor *pooled = NULL;

  for (guint l = 0; l < m->depth; l++) {
    Layer *L = &self->layers[l];
    NcfmConv2dShape s = L->conv;
    s.n = (gint) n;
    gint64 cshape[4] = { n, s.c_out, L->h_out, L->w_out };
    gint64 pshape[4] = { n, s.c_out, L->h_pool, L->w_pool };
    gint64 sshape[1] = { m->norm == NCFM_NORM_BATCH ? s.c_out : n * s.c_out };
    NcfmTensor *conv_out = ncfm_activations_ensure (activations, LAYER_SLOT (l, SLOT_CONV_OUT),
        dev, NCFM_DTYPE_F32, cshape, 4, error);
    NcfmTensor *norm_out = m->norm == NCFM_NORM_NONE ? conv_out
        : ncfm_activations_ensure (activations, LAYER_SLOT (l, SLOT_NORM_OUT), dev,
            NCFM_DTYPE_F32, cshape, 4, error);
    NcfmTensor *mean = ncfm_activations_ensure (activations, LAYER_SLOT (l, SLOT_MEAN), dev,
        NCFM_DTYPE_F32, sshape, 1, error);
    NcfmTensor *rstd = ncfm_activations_ensure (activations, LAYER_SLOT (l, SLOT_RSTD), dev,
        NCFM_DTYPE_F32, sshape, 1, error);
    pooled = ncfm_activations_ensure (activations, LAYER_SLOT (l, SLOT_POOLED), dev,
        NCFM_DTYPE_F32, pshape, 4, error);
    if (!conv_out || !norm_out || !mean || !rstd || !pooled)
      return FALSE;
    gint hw = L->h_out * L->w_out;

    be->ops->conv2d_forward (be, &s, x, f32 (L->conv_w->value), f32 (L->conv_b->value),
        f32 (conv_out));
    switch (m->norm) {
      case NCFM_NORM_INSTANCE:
        be->ops->groupnorm_forward (be, s.n, s.c_out, hw, s.c_out, NORM_EPS, f32 (conv_out),
            f32 (L->norm_w->value), f32 (L->norm_b->value), f32 (norm_out), f32 (mean),
            f32 (rstd));
        break;
      case NCFM_NORM_BATCH:
        if (m->training)
          be->ops->batchnorm_forward_train (be, s.n, s.c_out, hw, NORM_EPS, BN_MOMENTUM,
              f32 (conv_out), f32 (L->norm_w->value), f32 (L->norm_b->value), f32 (norm_out),
              f32 (mean), f32 (rstd), m->frozen ? NULL : f32 (L->running_mean->value),
              m->frozen ? NULL : f32 (L->running_var->value));
        else
          be->ops->batchnorm_forward_eval (be, s.n, s.c_out, hw, NORM_EPS, f32 (conv_out),
              f32 (L->norm_w->value), f32 (L->norm_b->value), f32 (L->running_mean->value),
              f32 (L->running_var->value), f32 (norm_out));
        break;
      case NCFM_NORM_NONE:
        break;
    }
    be->ops->leaky_relu_forward (be, (size_t) n * s.c_out * hw, 0.0f, f32 (norm_out),
        f32 (norm_out));
    be->ops->avgpool2x2_forward (be, s.n, s.c_out, L->h_out, L->w_out, f32 (norm_out),
        f32 (pooled));
    x = f32 (pooled);
  }
  if (m->norm == NCFM_NORM_BATCH && m->training && !m->frozen)
    m->num_batches_tracked++;

  gint64 fshape[2] = { n, m->feature_dim }, lshape[2] = { n, m->num_classes };
  NcfmTensor *logits = ncfm_activations_ensure (activations, SHARED_SLOT (m, SLOT_LOGITS),
      dev, NCFM_DTYPE_F32, lshape, 2, error);
  if (!logits)
    return FALSE;
  /* features are a [N, D] view of the last pooled maps (NCHW flattening) */
  NcfmTensor *features = ncfm_activations_get_features (activations);
  g_autoptr (NcfmTensor) view = NULL;
  if (!features || ncfm_tensor_get_data (features) != ncfm_tensor_get_data (pooled)
      || !ncfm_tensor_has_shape (features, fshape, 2)) {
    features = view = ncfm_tensor_new_view (pooled, fshape, 2, error);
    if (!view)
      return FALSE;
  }
  be->ops->linear_forward (be, (gint) n, (gint) m->feature_dim, (gint) m->num_classes,
      f32 (features), f32 (self->cls_w->value), f32 (self->cls_b->value), f32 (logits));
  ncfm_activations_set_outputs (activations, features, logits, NULL);
  return TRUE;
}

/* #NcfmModelClass.forward_features: with instance norm or none each block
 * (conv, norm, ReLU, pool) is one backend op that keeps no activations, the
 * last one writing straight into @features (NCHW flattening); BatchNorm
 * takes the plain forward. */
gboolean
ncfm_convnet_forward_features (NcfmModel *model, NcfmTensor *images, NcfmTensor *features,
    NcfmActivations *activations, GError **error)
{
  NcfmConvNet *self = NCFM_CONVNET (model);
  NcfmModelPrivate *m = NCFM_MODEL_BASE (self);
  const gint64 n = ncfm_tensor_get_dim (images, 0);
  if (m->norm == NCFM_NORM_BATCH)
    return ncfm_model_forward (model, images, activations, error)
        && ncfm_tensor_copy_from (features, ncfm_activations_get_features (activations), error);
  NcfmBackend *be = ncfm_device_get_backend (m->device);
  const gboolean inst = m->norm == NCFM_NORM_INSTANCE;
  const float *x = f32 (images);
  for (guint l = 0; l < m->depth; l++) {
    Layer *L = &self->layers[l];
    NcfmConv2dShape s = L->conv;
    s.n = (gint) n;
    float *out = f32 (features);
    if (l + 1 < m->depth) {   /* the blocks' outputs go after the shared slots */
      gint64 pshape[4] = { n, s.c_out, L->h_pool, L->w_pool };
      NcfmTensor *pooled = ncfm_activations_ensure (activations,
          SHARED_SLOT (m, N_SHARED_SLOTS + l), m->device, NCFM_DTYPE_F32, pshape, 4, error);
      if (!pooled)
        return FALSE;
      out = f32 (pooled);
    }
    be->ops->conv_block_forward (be, &s, x, f32 (L->conv_w->value), f32 (L->conv_b->value),
        NORM_EPS, inst ? f32 (L->norm_w->value) : NULL, inst ? f32 (L->norm_b->value) : NULL, out);
    x = out;
  }
  return TRUE;
}

/* #NcfmModelClass.backward: classifier, then the blocks from the last. */
gboolean
ncfm_convnet_backward_layers (NcfmModel *model, NcfmActivations *activations, gint64 n,
    NcfmTensor *grad_features, NcfmTensor *grad_logits, gboolean parameter_gradients,
    GError **error)
{
  NcfmConvNet *self = NCFM_CONVNET (model);
  NcfmModelPrivate *m = NCFM_MODEL_BASE (self);
  NcfmBackend *be = ncfm_device_get_backend (m->device);
  NcfmDevice *dev = m->device;
  gboolean pg = parameter_gradients;

  /* three ping-pong gradient buffers of the largest activation */
  gint64 biggest = 0;
  for (guint l = 0; l < m->depth; l++) {
    Layer *L = &self->layers[l];
    biggest = MAX (biggest, n * L->conv.c_out * L->h_out * L->w_out);
    biggest = MAX (biggest, n * L->conv.c_in * L->conv.h_in * L->conv.w_in);
  }
  gint64 gshape[1] = { biggest };
  gint64 ishape[4] = { n, m->in_channels, m->height, m->width };
  NcfmTensor *ga = ncfm_activations_ensure (activations, SHARED_SLOT (m, SLOT_GRAD_A), dev,
      NCFM_DTYPE_F32, gshape, 1, error);
  NcfmTensor *gb = ncfm_activations_ensure (activations, SHARED_SLOT (m, SLOT_GRAD_B), dev,
      NCFM_DTYPE_F32, gshape, 1, error);
  NcfmTensor *gc = ncfm_activations_ensure (activations, SHARED_SLOT (m, SLOT_GRAD_C), dev,
      NCFM_DTYPE_F32, gshape, 1, error);
  NcfmTensor *gimg = ncfm_activations_ensure (activations, SHARED_SLOT (m, SLOT_GRAD_IMAGES),
      dev, NCFM_DTYPE_F32, ishape, 4, error);
  if (!ga || !gb || !gc || !gimg)
    return FALSE;

  NcfmTensor *features = ncfm_activations_get_features (activations);
  size_t fcount = (size_t) n * m->feature_dim;
  float *g = f32 (ga);                   /* dL/d(pooled output of the current layer) */
  if (grad_logits) {
    be->ops->linear_backward (be, (gint) n, (gint) m->feature_dim, (gint) m->num_classes,
        f32 (features), f32 (self->cls_w->value), f32 (grad_logits), g,
        pg ? f32 (self->cls_w->grad) : NULL, pg ? f32 (self->cls_b->grad) : NULL);
    if (grad_features)
      be->ops->axpby (be, fcount, 1.0f, f32 (grad_features), 1.0f, g);
  } else {
    be->ops->copy (be, g, f32 (grad_features), fcount * sizeof (float));
    if (pg) {
      ncfm_tensor_fill (self->cls_w->grad, 0.0f, NULL);
      ncfm_tensor_fill (self->cls_b->grad, 0.0f, NULL);
    }
  }

  float *spare = f32 (gb), *spare2 = f32 (gc);
  for (gint l = (gint) m->depth - 1; l >= 0; l--) {
    Layer *L = &self->layers[l];
    NcfmConv2dShape s = L->conv;
    s.n = (gint) n;
    gint hw = L->h_out * L->w_out;
    size_t count = (size_t) n * s.c_out * hw;
    NcfmTensor *conv_out = ncfm_activations_peek (activations, LAYER_SLOT (l, SLOT_CONV_OUT));
    NcfmTensor *norm_out = m->norm == NCFM_NORM_NONE ? conv_out
        : ncfm_activations_peek (activations, LAYER_SLOT (l, SLOT_NORM_OUT));
    NcfmTensor *mean = ncfm_activations_peek (activations, LAYER_SLOT (l, SLOT_MEAN));
    NcfmTensor *rstd = ncfm_activations_peek (activations, LAYER_SLOT (l, SLOT_RSTD));
    const float *layer_in = l == 0 ? NULL
        : f32 (ncfm_activations_peek (activations, LAYER_SLOT (l - 1, SLOT_POOLED)));

    /* pool, then ReLU (its output keeps the sign), both into `spare` */
    be->ops->avgpool2x2_backward (be, s.n, s.c_out, L->h_out, L->w_out, g, spare);
    be->ops->leaky_relu_backward (be, count, 0.0f, f32 (norm_out), spare, spare);
    float *dconv = spare;
    if (m->norm != NCFM_NORM_NONE) {
      float *dg = pg ? f32 (L->norm_w->grad) : NULL;
      float *db = pg ? f32 (L->norm_b->grad) : NULL;
      if (m->norm == NCFM_NORM_INSTANCE)
        be->ops->groupnorm_backward (be, s.n, s.c_out, hw, s.c_out, f32 (conv_out),
            f32 (L->norm_w->value), f32 (mean), f32 (rstd), spare, spare2, dg, db);
      else
        be->ops->batchnorm_backward (be, s.n, s.c_out, hw, f32 (conv_out),
            f32 (L->norm_w->value), f32 (mean), f32 (rstd), spare, spare2, dg, db);
      dconv = spare2;
    }
    const float *x_in = l == 0 ? f32 (ncfm_activations_get_input (activations)) : layer_in;
    float *dx = l == 0 ? f32 (gimg) : g;
    be->ops->conv2d_backward (be, &s, x_in, f32 (L->conv_w->value), dconv, dx,
        pg ? f32 (L->conv_w->grad) : NULL, pg ? f32 (L->conv_b->grad) : NULL);
  }
  ncfm_activations_set_outputs (activations, NULL, NULL, gimg);
  return TRUE;
}
