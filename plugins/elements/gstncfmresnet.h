/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_RESNET_H
#define GST_NCFM_RESNET_H

#include "gstncfmextractor.h"

G_BEGIN_DECLS

#define GST_TYPE_NCFM_RESNET (gst_ncfm_resnet_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmResNet, gst_ncfm_resnet, GST, NCFM_RESNET, GstNcfmExtractor)

GST_ELEMENT_REGISTER_DECLARE (ncfmresnet);

G_END_DECLS
#endif
