/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_LABEL_H
#define GST_NCFM_LABEL_H

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_NCFM_LABEL (gst_ncfm_label_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmLabel, gst_ncfm_label, GST, NCFM_LABEL, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (ncfmlabel);

G_END_DECLS
#endif
