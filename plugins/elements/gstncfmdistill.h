/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_DISTILL_H
#define GST_NCFM_DISTILL_H

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_NCFM_DISTILL (gst_ncfm_distill_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmDistill, gst_ncfm_distill, GST, NCFM_DISTILL, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (ncfmdistill);

G_END_DECLS
#endif
