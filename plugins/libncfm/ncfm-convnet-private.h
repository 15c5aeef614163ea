/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm-convnet-private.h: what ncfm-convnet.c (model, forward, backward) and
 * ncfm-convnet-io.c (safetensors load/save) share. */
#ifndef NCFM_CONVNET_PRIVATE_H
#define NCFM_CONVNET_PRIVATE_H

#include "ncfm-convnet.h"
#include "ncfm-model.h"

typedef struct {
  gchar *name;
  NcfmTensor *value;
  NcfmTensor *grad;      /* NULL for buffers (running statistics) */
  guint fan_in;          /* > 0: PyTorch's default uniform(+-1/sqrt(fan_in)) init */
  gfloat init_value;     /* used when fan_in == 0 */
} Param;

typedef struct {
  NcfmConv2dShape conv;  /* n filled in per call */
  gint h_out, w_out;     /* conv output */
  gint h_pool, w_pool;   /* after the 2x2 average pool */
  Param *conv_w, *conv_b, *norm_w, *norm_b, *running_mean, *running_var;
} Layer;

struct _NcfmConvNet {
  GObject parent;
  NcfmDevice *device;
  guint in_channels, height, width, num_classes, depth, net_width;
  NcfmNorm norm;
  guint feature_dim;
  gboolean training;
  gboolean frozen;     /* BatchNorm running statistics are not updated */
  gint64 num_batches_tracked;
  GArray *params;        /* Param */
  Layer *layers;
  Param *cls_w, *cls_b;
};

Param *ncfm_convnet_find_param (NcfmConvNet *self, const gchar *name);
void ncfm_convnet_model_iface_init (NcfmModelInterface *iface);
gboolean ncfm_convnet_forward_features (NcfmConvNet *self, NcfmTensor *images,
    NcfmTensor *features, NcfmActivations *activations, GError **error);

#endif
