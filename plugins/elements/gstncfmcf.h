/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_CF_H
#define GST_NCFM_CF_H

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_NCFM_CF (gst_ncfm_cf_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmCF, gst_ncfm_cf, GST, NCFM_CF, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (ncfmcf);

G_END_DECLS
#endif
