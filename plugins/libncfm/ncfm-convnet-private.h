/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-convnet-private.h: what ncfm-convnet.c (construction, public API)
 * and ncfm-convnet-forward.c (forward, backward) share. */
#ifndef NCFM_CONVNET_PRIVATE_H
#define NCFM_CONVNET_PRIVATE_H

#include "ncfm-convnet.h"
#include "ncfm-model-private.h"

typedef struct {
  NcfmConv2dShape conv;  /* n filled in per call */
  gint h_out, w_out;     /* conv output */
  gint h_pool, w_pool;   /* after the 2x2 average pool */
  NcfmModelParam *conv_w, *conv_b, *norm_w, *norm_b, *running_mean, *running_var;
} Layer;

struct _NcfmConvNet {
  NcfmModel parent;
  Layer *layers;         /* depth of them */
  NcfmModelParam *cls_w, *cls_b;
};

gboolean ncfm_convnet_forward_layers (NcfmModel *model, NcfmTensor *images, gint64 n,
    NcfmActivations *activations, GError **error);
gboolean ncfm_convnet_forward_features (NcfmModel *model, NcfmTensor *images,
    NcfmTensor *features, NcfmActivations *activations, GError **error);
gboolean ncfm_convnet_backward_layers (NcfmModel *model, NcfmActivations *activations,
    gint64 n, NcfmTensor *grad_features, NcfmTensor *grad_logits, gboolean parameter_gradients,
    GError **error);

#endif
