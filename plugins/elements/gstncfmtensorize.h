/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_TENSORIZE_H
#define GST_NCFM_TENSORIZE_H

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_NCFM_TENSORIZE (gst_ncfm_tensorize_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmTensorize, gst_ncfm_tensorize, GST, NCFM_TENSORIZE, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (ncfmtensorize);

G_END_DECLS
#endif
