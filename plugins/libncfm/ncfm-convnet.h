/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_CONVNET_H
#define NCFM_CONVNET_H

#include <glib-object.h>
#include "ncfm-activations.h"
#include "ncfm-model.h"
#include "ncfm-safetensors.h"
#include "ncfm-tensor.h"

G_BEGIN_DECLS

#define NCFM_TYPE_CONVNET (ncfm_convnet_get_type ())
G_DECLARE_FINAL_TYPE (NcfmConvNet, ncfm_convnet, NCFM, CONVNET, NcfmModel)

NcfmConvNet *ncfm_convnet_new (NcfmDevice *device, guint in_channels, guint height,
    guint width, guint num_classes, guint depth, guint net_width, NcfmNorm norm,
    guint64 seed, GError **error);
NcfmConvNet *ncfm_convnet_new_from_safetensors (NcfmDevice *device, NcfmSafetensors *file,
    GError **error);

void ncfm_convnet_reset_parameters (NcfmConvNet *self, guint64 seed);
gboolean ncfm_convnet_load_safetensors (NcfmConvNet *self, NcfmSafetensors *file,
    GError **error);
gboolean ncfm_convnet_load (NcfmConvNet *self, const gchar *path, GError **error);
NcfmSafetensors *ncfm_convnet_to_safetensors (NcfmConvNet *self);
gboolean ncfm_convnet_save (NcfmConvNet *self, const gchar *path, GError **error);

NcfmDevice *ncfm_convnet_get_device (NcfmConvNet *self);
guint ncfm_convnet_get_feature_dim (NcfmConvNet *self);
guint ncfm_convnet_get_num_classes (NcfmConvNet *self);
void ncfm_convnet_set_training (NcfmConvNet *self, gboolean training);
gboolean ncfm_convnet_get_training (NcfmConvNet *self);

guint ncfm_convnet_get_n_parameters (NcfmConvNet *self);
const gchar *ncfm_convnet_get_parameter_name (NcfmConvNet *self, guint index);
NcfmTensor *ncfm_convnet_get_parameter (NcfmConvNet *self, const gchar *name);
NcfmTensor *ncfm_convnet_get_gradient (NcfmConvNet *self, const gchar *name);

gboolean ncfm_convnet_forward (NcfmConvNet *self, NcfmTensor *images,
    NcfmActivations *activations, GError **error);
gboolean ncfm_convnet_backward (NcfmConvNet *self, NcfmActivations *activations,
    NcfmTensor *grad_features, NcfmTensor *grad_logits, gboolean parameter_gradients,
    GError **error);

G_END_DECLS
#endif
