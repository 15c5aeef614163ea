/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_CONVNET_H
#define GST_NCFM_CONVNET_H

#include "gstncfmextractor.h"

G_BEGIN_DECLS

#define GST_TYPE_NCFM_CONVNET (gst_ncfm_convnet_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmConvNet, gst_ncfm_convnet, GST, NCFM_CONVNET, GstNcfmExtractor)

GST_ELEMENT_REGISTER_DECLARE (ncfmconvnet);

G_END_DECLS
#endif
