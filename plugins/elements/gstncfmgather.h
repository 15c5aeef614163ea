/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef GST_NCFM_GATHER_H
#define GST_NCFM_GATHER_H

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_NCFM_GATHER (gst_ncfm_gather_get_type ())
G_DECLARE_FINAL_TYPE (GstNcfmGather, gst_ncfm_gather, GST, NCFM_GATHER, GstElement)

GST_ELEMENT_REGISTER_DECLARE (ncfmgather);

G_END_DECLS
#endif
