/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_AUGMENT_H
#define GST_NCFM_AUGMENT_H

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_NCFM_AUGMENT (gst_ncfm_augment_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmAugment, gst_ncfm_augment, GST, NCFM_AUGMENT, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (ncfmaugment);

G_END_DECLS
#endif
