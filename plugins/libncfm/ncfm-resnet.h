/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef NCFM_RESNET_H
#define NCFM_RESNET_H

#include <glib-object.h>
#include "ncfm-model.h"
#include "ncfm-safetensors.h"

G_BEGIN_DECLS

#define NCFM_TYPE_RESNET (ncfm_resnet_get_type ())
G_DECLARE_FINAL_TYPE (NcfmResNet, ncfm_resnet, NCFM, RESNET, NcfmModel)

NcfmResNet *ncfm_resnet_new (NcfmDevice *device, guint in_channels, guint height, guint width,
    guint num_classes, guint depth, guint net_width, NcfmNorm norm, guint64 seed,
    GError **error);
NcfmResNet *ncfm_resnet_new_from_safetensors (NcfmDevice *device, NcfmSafetensors *file,
    GError **error);
gboolean ncfm_resnet_check_geometry (guint in_channels, guint height, guint width, guint depth,
    guint net_width, guint *feature_dim, GError **error);

guint ncfm_resnet_get_depth (NcfmResNet *self);
guint ncfm_resnet_get_net_width (NcfmResNet *self);
NcfmNorm ncfm_resnet_get_norm (NcfmResNet *self);

G_END_DECLS
#endif
